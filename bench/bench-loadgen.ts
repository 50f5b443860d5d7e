/**
 * The shared load generator (`/work/shared/peers/loadgen.mjs`, read-only) copied into a temp
 * directory and run as a child process, once per case, against raftlog, etcd or NATS alike.
 *
 * Only for raftlog's multi-partition cases a second copy, `loadgen-spread.mjs`, changes the ONE
 * raftlog line of the generator: worker `w` writes partition `w % BENCH_PARTITIONS` instead of
 * partition 0. Workers are spread round-robin over `--endpoints` the same way, so passing one
 * endpoint per partition (its leader) sends every worker to the leader of the partition it writes.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Body, CpuSnapshot, sleep } from './bench-common.js';

export const SHARED_PEERS = '/work/shared/peers';
const PROJECT_NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

const ORIGINAL_LINE = "httpTarget(() => raftlogRequest(o.topic ?? 'bench', o.partition ?? '0', RPR))";
const SPREAD_LINE =
  "httpTarget((w) => raftlogRequest(o.topic ?? 'bench', String(w % Number(process.env.BENCH_PARTITIONS ?? '1')), RPR))";

/** A private, writable copy of the peers directory. */
export interface PeersCopy {
  readonly dir: string;
  remove(): void;
}

/**
 * Copy the shared peers directory. With `withPeerDeps`, `npm ci` there (undici and nats, the
 * peers' own lock file); else link this project's node_modules (undici is all raftlog needs).
 */
export function copyPeers(withPeerDeps: boolean): PeersCopy {
  const dir = mkdtempSync(join(tmpdir(), 'raftlog-bench-peers-'));
  cpSync(SHARED_PEERS, dir, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', dir]);
  if (withPeerDeps) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 300_000,
    });
  } else {
    symlinkSync(PROJECT_NODE_MODULES, join(dir, 'node_modules'));
  }
  const source = readFileSync(join(dir, 'loadgen.mjs'), 'utf8');
  if (source.includes(ORIGINAL_LINE)) {
    writeFileSync(join(dir, 'loadgen-spread.mjs'), source.replace(ORIGINAL_LINE, SPREAD_LINE));
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LoadgenArgs {
  readonly target: 'raftlog-http' | 'etcd-http' | 'nats-js';
  readonly endpoints: readonly string[];
  readonly concurrency: number;
  readonly size: number;
  readonly duration: number;
  readonly warmup: number;
  readonly recordsPerRequest: number;
  /** Server processes by name: the loadgen sums their CPU; we also sample each one. */
  readonly pids: ReadonlyMap<string, number>;
  readonly topic?: string;
  /** raftlog only: spread workers over this many partitions (loadgen-spread.mjs). */
  readonly partitions?: number;
}

/** The loadgen's JSON line, plus each server's CPU (% of one core) over about the same window. */
export interface LoadgenOutput {
  readonly line: Body;
  readonly perProcessCpu: Record<string, number | null>;
}

/** Run one loadgen to completion (bounded: killed 45 s after its planned end). */
export async function runLoadgen(copy: PeersCopy, a: LoadgenArgs): Promise<LoadgenOutput> {
  const spread = a.partitions !== undefined && a.partitions > 1;
  const script = spread ? 'loadgen-spread.mjs' : 'loadgen.mjs';
  if (spread && !existsSync(join(copy.dir, script)))
    throw new Error('loadgen.mjs changed: cannot derive loadgen-spread.mjs for multi-partition cases');
  const args = [
    script,
    '--target',
    a.target,
    '--endpoints',
    a.endpoints.join(','),
    '--pids',
    [...a.pids.values()].join(','),
    '--concurrency',
    String(a.concurrency),
    '--size',
    String(a.size),
    '--duration',
    String(a.duration),
    '--warmup',
    String(a.warmup),
    '--records-per-request',
    String(a.recordsPerRequest),
  ];
  if (a.target === 'raftlog-http') args.push('--topic', a.topic ?? 'bench', '--value-encoding', 'utf8');
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: copy.dir,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_PARTITIONS: String(a.partitions ?? 1) },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), (a.warmup + a.duration + 45) * 1000);
  // Sample each server's CPU over (about) the loadgen's measured window: its start-up (imports,
  // connecting) takes a few hundred ms, which we allow for.
  const named = new Map(a.pids);
  const window = (async () => {
    await sleep(a.warmup * 1000 + 300);
    const s0 = CpuSnapshot.take(named);
    await sleep(a.duration * 1000);
    return CpuSnapshot.take(named).since(s0);
  })();
  try {
    const code = await exited;
    const perProcessCpu = await window;
    delete perProcessCpu.harness;
    const last = out.trim().split('\n').pop() ?? '';
    if (code !== 0 || !last.startsWith('{'))
      throw new Error(`loadgen exited with ${code}: ${out.slice(-300)}`);
    return { line: JSON.parse(last), perProcessCpu };
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
