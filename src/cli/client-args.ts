import { RaftlogClient } from '../client/index.js';
import { RaftlogError } from '../errors.js';

/** What every client command (`topic`, `produce`, `consume`, `status`) shares. */

/** The broker a client command talks to unless `--url` says otherwise. */
export const DEFAULT_URL = 'http://127.0.0.1:7001';

/** parseArgs options every client command takes: `--url`, `--json`, `--help`. */
export const CLIENT_OPTIONS = {
  url: { type: 'string', default: DEFAULT_URL },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The help lines of {@link CLIENT_OPTIONS}. */
export const CLIENT_OPTIONS_HELP = `  --url URL                 a broker's client URL             [${DEFAULT_URL}]
  --json                    machine-readable output (JSON)
`;

/** Run `fn` with a client of `url` (several URLs may be given, comma-separated); closes it after. */
export async function withClient<T>(url: string, fn: (client: RaftlogClient) => Promise<T>): Promise<T> {
  const client = new RaftlogClient({ urls: url.split(',') });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** A flag's value as an integer ≥ `min`, else INVALID_REQUEST naming the flag. */
export function parseIntFlag(flag: string, value: string, min = 0): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new RaftlogError('INVALID_REQUEST', `${flag} must be an integer ≥ ${min}, got "${value}"`);
  }
  return n;
}

/** The one positional argument a command needs (e.g. the topic), else INVALID_REQUEST. */
export function onePositional(positionals: readonly string[], what: string): string {
  if (positionals.length !== 1) {
    throw new RaftlogError('INVALID_REQUEST', `expected one ${what}, got ${positionals.length}`);
  }
  return positionals[0]!;
}

/** Write one JSON value per line. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
