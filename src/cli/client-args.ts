import { RaftlogClient } from '../client/index.js';
import { RaftlogError } from '../errors.js';
import { formatTable } from './table.js';

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

/**
 * The subcommand of a command that has some (`raftlog topic list`) and the arguments after it;
 * or, when `--help` was asked for or the subcommand is missing or unknown, the help is printed
 * and the exit code returned instead.
 */
export function subcommandOf(
  command: string,
  positionals: readonly string[],
  subcommands: readonly string[],
  help: { readonly asked: boolean | undefined; readonly text: string },
): { sub: string; rest: string[] } | number {
  const [sub, ...rest] = positionals;
  if (help.asked) {
    process.stdout.write(help.text);
    return 0;
  }
  if (sub === undefined || !subcommands.includes(sub)) {
    process.stderr.write(`raftlog ${command}: expected one of ${subcommands.join(', ')}\n\n${help.text}`);
    return 2;
  }
  return { sub, rest };
}

/** A list as JSON (`--json`) or as a table with `headers`, one row per item. */
export function printList<T>(
  json: boolean,
  items: readonly T[],
  headers: string[],
  row: (item: T) => string[],
): void {
  if (json) printJson(items);
  else process.stdout.write(formatTable(headers, items.map(row)));
}
