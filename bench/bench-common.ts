/**
 * Small helpers shared by the benchmarks (`npm run bench`'s pieces, bench:move, bench:storage):
 * command-line options, percentiles, per-process CPU from /proc, and a bounded HTTP request
 * helper over undici.
 */
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { unpack } from 'msgpackr';
import { Pool } from 'undici';

/** One case's result: one JSON line in the results file, one row in the table. */
export interface CaseResult {
  case: string;
  target: 'raftlog' | 'etcd' | 'nats';
  records_s: number | null;
  mb_s: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  p999_ms: number | null;
  errors: number;
  last_error?: string | null;
  /** % of one core over the measured window, per process (broker ids, `loadgen`, `harness`). */
  cpu_pct: Record<string, number | null>;
  /** Everything else the case wants to record (parameters, secondary figures). */
  [more: string]: unknown;
}

/**
 * `parseArgs(config)` for a benchmark: `--help` (or `-h`) prints `usage` and exits; an unknown or
 * malformed option prints parseArgs' message and `usage` and exits with status 2.
 */
export function benchArgs<const C extends ParseArgsConfig>(
  usage: string,
  config: C,
): ReturnType<typeof parseArgs<C>> {
  const args = config.args ?? process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

/** The q-quantile (0..1) of `values`, nearest rank, in ms with 3 decimals; null when empty. */
export function quantile(sorted: Float64Array, q: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  return +sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!.toFixed(3);
}

export function latencySummary(values: readonly number[]) {
  const sorted = Float64Array.from(values).sort();
  return {
    p50_ms: quantile(sorted, 0.5),
    p99_ms: quantile(sorted, 0.99),
    p999_ms: quantile(sorted, 0.999),
    max_ms: sorted.length ? +sorted[sorted.length - 1]!.toFixed(3) : null,
  };
}

/** CPU clock ticks (user + system, all threads) a process has used; null once it is gone. */
export function cpuTicks(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/** A snapshot of some processes' CPU; `since(earlier)` gives % of one core per name. */
export class CpuSnapshot {
  readonly t = performance.now();
  readonly ticks: Map<string, number | null>;
  readonly self = process.cpuUsage();
  constructor(readonly pids: ReadonlyMap<string, number>) {
    this.ticks = new Map([...pids].map(([name, pid]) => [name, cpuTicks(pid)]));
  }
  static take(pids: ReadonlyMap<string, number>): CpuSnapshot {
    return new CpuSnapshot(pids);
  }
  /** % of one core (100 ticks/s) per process between `start` and this snapshot, plus `harness`. */
  since(start: CpuSnapshot): Record<string, number | null> {
    const secs = (this.t - start.t) / 1000;
    const out: Record<string, number | null> = {};
    for (const [name, end] of this.ticks) {
      const begin = start.ticks.get(name);
      out[name] =
        end === null || begin === null || begin === undefined ? null : Math.round((end - begin) / secs);
    }
    const user = this.self.user - start.self.user;
    const system = this.self.system - start.self.system;
    out.harness = Math.round((user + system) / 1e4 / secs);
    return out;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const MSGPACK = 'application/vnd.msgpack';

/** A decoded response body: the harness reads the few fields it needs from raftlog's answers. */
// biome-ignore lint/suspicious/noExplicitAny: untyped JSON/msgpack answers, read field by field
export type Body = any;

/** One HTTP request with a deadline; the body is decoded as JSON or msgpack by content type. */
export async function call(
  pool: Pool,
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: unknown; accept?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: Body; bytes: number }> {
  const res = await pool.request({
    method,
    path,
    headers: {
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(opts.accept ? { accept: opts.accept } : {}),
    },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    headersTimeout: opts.timeoutMs ?? 30_000,
    bodyTimeout: opts.timeoutMs ?? 30_000,
  });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const type = String(res.headers['content-type'] ?? '');
  let body: Body = null;
  if (buf.length > 0) body = type.startsWith(MSGPACK) ? unpack(buf) : JSON.parse(buf.toString('utf8'));
  return { status: res.statusCode, body, bytes: buf.length };
}

export function pool(url: string, connections: number): Pool {
  return new Pool(url, { connections, pipelining: 1 });
}

/** `n` ASCII bytes (lower-case letters), so a UTF-8 JSON value is exactly `n` bytes. */
export function asciiValue(n: number, prefix = ''): string {
  let s = prefix;
  while (s.length < n) s += String.fromCharCode(97 + (s.length % 26));
  return s.slice(0, n);
}
