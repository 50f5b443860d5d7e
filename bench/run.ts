/**
 * `npm run bench` (issue 7): a 3-broker raftlog cluster of real processes on 127.0.0.1 (fresh
 * data dirs), its topics, the shared load generator (/work/shared/peers/loadgen.mjs) over the
 * cases below, every process stopped by PID (also on failure); a markdown table on stdout and one
 * JSON line per case in `<out>/bench-<time>.jsonl`. With `--peers`, 3-node etcd 3.4 and NATS
 * JetStream 2.9 clusters run the same produce cases with the same loadgen in the same invocation
 * (installed with apt-get when missing) and a second table shows raftlog / peer ratios.
 *
 *   npm run bench -- [--cases produce,e2e] [--duration 10] [--warmup 10] [--peers] [--out DIR]
 *     [--catchup-mb 128] [--tailers 4] [--tail-min-records N] [--e2e-rate 200] [--partitions 1,12]
 *     [--cpu-prof]
 *
 * Cases (names; `--cases` keeps those matching any of its comma-separated regular expressions,
 * e.g. `--cases produce,e2e` or `--cases 'c1$'`; `disk-ref` selects the disk reference of --peers):
 *   produce-{100B,1KiB}-c{1,16,64}   1 record/request, N requests in flight, to the partition leader
 *   batch100-1KiB-c16                100 records of 1 KiB per request, 16 in flight
 *   partitions-{P}-100B-c64          1 record/request, 64 in flight spread over P partitions of
 *                                    one topic: worker w writes partition w % P through its leader
 *                                    (one loadgen process; raftlog only); P from --partitions (the
 *                                    curve, e.g. `--cases partitions --partitions 1,2,4,12`); notes
 *                                    give the brokers' CPU together in µs per record
 *   catchup-{json,msgpack}           one reader from offset 0 of a prefilled partition (MB/s)
 *   tail-off / tail-on               produce 1 KiB × 16 in flight without / with N consumers
 *                                    long-polling the same partition's tail
 *   e2e-idle / e2e-loaded            produce → visible to a long-polling consumer; loaded = while the
 *                                    loadgen writes 100 B × 16 in flight to the same partition
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs, type CaseResult, call, pool, sleep } from './bench-common.js';
import { copyPeers, type LoadgenArgs, type PeersCopy, runLoadgen } from './bench-loadgen.js';
import { ensurePeerBinaries, type PeerCluster, peerVersions, startPeer } from './bench-peers.js';
import { catchUp, endToEnd, prefill, startTailers } from './bench-reads.js';
import { formatTables } from './bench-report.js';
import { type ProcessCluster, startProcessCluster } from './process-cluster.js';

const USAGE = `usage: npm run bench -- [--cases produce,e2e] [--duration 10] [--warmup 10] [--peers] [--out DIR]
  [--catchup-mb 128] [--tailers 4] [--e2e-rate 200] [--partitions 1,12] [--cpu-prof]

The cases and what they measure: see the comment at the top of bench/run.ts.
`;

const { values: opt } = benchArgs(USAGE, {
  options: {
    cases: { type: 'string', default: '' },
    duration: { type: 'string', default: '10' },
    // Long enough for the steady state: a Node broker's first ~10,000 requests (a fresh loadgen's
    // too) run slower, which at one request in flight takes ~10 s (see BENCHMARKS.md).
    warmup: { type: 'string', default: '10' },
    peers: { type: 'boolean', default: false },
    out: { type: 'string', default: fileURLToPath(new URL('../../bench/results/', import.meta.url)) },
    'catchup-mb': { type: 'string', default: '128' },
    tailers: { type: 'string', default: '4' },
    'tail-min-records': { type: 'string' },
    'e2e-rate': { type: 'string', default: '200' },
    partitions: { type: 'string', default: '1,12' },
    'cpu-prof': { type: 'boolean', default: false },
  },
  strict: true,
});
const DURATION = Number(opt.duration);
const WARMUP = Number(opt.warmup);
const CATCHUP_MB = Number(opt['catchup-mb']);
const TAILERS = Number(opt.tailers);
/** The tailers' `min_records` (unset: each long poll answers with the first record). */
const TAIL_MIN_RECORDS = opt['tail-min-records'] === undefined ? undefined : Number(opt['tail-min-records']);
const E2E_RATE = Number(opt['e2e-rate']);
const PARTITION_CURVE = opt.partitions.split(',').filter(Boolean).map(Number);
const filters = opt.cases.split(',').filter(Boolean);
/** A case runs when any `--cases` word, a regular expression, matches its name (`c1$`: exactly c1). */
const patterns = filters.map((f) => new RegExp(f));
const selected = (name: string) => patterns.length === 0 || patterns.some((p) => p.test(name));
for (const [k, v] of Object.entries({ DURATION, WARMUP, CATCHUP_MB, TAILERS, E2E_RATE }))
  if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`bad ${k}`);

const OUT = resolve(opt.out);
mkdirSync(OUT, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const resultsFile = join(OUT, `bench-${stamp}.jsonl`);
const results: CaseResult[] = [];
const log = (s: string) => process.stderr.write(`${s}\n`);

function record(r: CaseResult): void {
  const line = { ts: new Date().toISOString(), load_avg_1m: +loadavg()[0]!.toFixed(2), ...r };
  results.push(r);
  writeFileSync(resultsFile, `${JSON.stringify(line)}\n`, { flag: 'a' });
  log(
    `  ${r.target} ${r.case}: ${r.records_s ?? '-'} rec/s, ${r.mb_s ?? '-'} MB/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}`,
  );
}

/** Run `fn` as case `name`; a failure is recorded as a row with the error and the run goes on. */
async function runCase(name: string, target: CaseResult['target'], fn: () => Promise<CaseResult>) {
  if (!selected(name)) return;
  log(`${target} ${name} (load average ${loadavg()[0]!.toFixed(2)}) ...`);
  try {
    record(await fn());
  } catch (err) {
    record({
      case: name,
      target,
      records_s: null,
      mb_s: null,
      p50_ms: null,
      p99_ms: null,
      p999_ms: null,
      errors: 1,
      last_error: String((err as Error)?.stack ?? err).slice(0, 500),
      cpu_pct: {},
      failed: true,
    });
  }
}

// ---- cases -------------------------------------------------------------------------------------

interface ProduceCase {
  readonly name: string;
  readonly size: number;
  readonly concurrency: number;
  readonly rpr: number;
}
const sizeLabel = (b: number) => (b >= 1024 ? `${b / 1024}KiB` : `${b}B`);
const PRODUCE_CASES: ProduceCase[] = [
  ...[100, 1024].flatMap((size) =>
    [1, 16, 64].map((c) => ({ name: `produce-${sizeLabel(size)}-c${c}`, size, concurrency: c, rpr: 1 })),
  ),
  { name: 'batch100-1KiB-c16', size: 1024, concurrency: 16, rpr: 100 },
];

/** The loadgen's line as a case result, with each server's CPU and the loadgen's own. */
function fromLoadgen(
  name: string,
  target: CaseResult['target'],
  out: Awaited<ReturnType<typeof runLoadgen>>,
  extra: Record<string, unknown> = {},
): CaseResult {
  const l = out.line;
  return {
    case: name,
    target,
    records_s: l.records_s,
    mb_s: l.mb_s,
    p50_ms: l.p50_ms,
    p99_ms: l.p99_ms,
    p999_ms: l.p999_ms,
    errors: l.errors,
    last_error: l.last_error,
    cpu_pct: { ...out.perProcessCpu, loadgen: l.cpu_pct.loadgen },
    servers_cpu_pct: l.cpu_pct.servers,
    machine_busy_pct: l.cpu_pct.machine_busy,
    size: l.size,
    concurrency: l.concurrency,
    records_per_request: l.records_per_request,
    ops_s: l.ops_s,
    max_ms: l.max_ms,
    endpoints: l.endpoints,
    ...extra,
  };
}

function loadgenArgs(
  target: LoadgenArgs['target'],
  endpoints: readonly string[],
  pids: ReadonlyMap<string, number>,
  c: Pick<ProduceCase, 'size' | 'concurrency' | 'rpr'>,
  more: Partial<LoadgenArgs> = {},
): LoadgenArgs {
  return {
    target,
    endpoints,
    pids,
    concurrency: c.concurrency,
    size: c.size,
    recordsPerRequest: c.rpr,
    duration: DURATION,
    warmup: WARMUP,
    ...more,
  };
}

// ---- raftlog -----------------------------------------------------------------------------------

/** The three brokers' CPU together, in µs per acknowledged record (the partitions curve's cost). */
function brokersCpuPerRecord(r: CaseResult): number | null {
  const brokers = Object.entries(r.cpu_pct).filter(([name]) => name.startsWith('broker'));
  if (!r.records_s || brokers.some(([, pct]) => typeof pct !== 'number')) return null;
  return Math.round((brokers.reduce((sum, [, pct]) => sum + pct!, 0) * 1e4) / r.records_s);
}

async function createTopic(cluster: ProcessCluster, name: string, partitions: number): Promise<string[]> {
  const p = pool(cluster.urls[0]!, 1);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await call(p, 'POST', '/v1/topics', {
        body: { name, partitions, replication_factor: 3 },
      }).catch(() => ({ status: 0, body: null }));
      if (r.status === 201 || r.status === 409) break;
      if (Date.now() > deadline)
        throw new Error(`create topic ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      await sleep(200);
    }
    // Every partition's leader, as a client URL (index = partition).
    for (;;) {
      const r = await call(p, 'GET', `/v1/topics/${name}`).catch(() => ({ status: 0, body: null }));
      const leaders: (number | null)[] =
        r.status === 200 ? r.body.partitions.map((x: { leader: number | null }) => x.leader) : [];
      if (leaders.length === partitions && leaders.every((l) => l !== null))
        return leaders.map((id) => cluster.urls[id! - 1]!);
      if (Date.now() > deadline) throw new Error(`topic ${name}: partitions without a leader`);
      await sleep(200);
    }
  } finally {
    await p.close();
  }
}

async function runRaftlog(copy: PeersCopy): Promise<void> {
  const profDir = join(OUT, `profiles-${stamp}`);
  const cluster = await startProcessCluster(3, 'warn', {
    nodeArgs: opt['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
  });
  stopAll.push(() => cluster.stop());
  const pids = new Map(cluster.pids.map((pid, i) => [`broker${i + 1}`, pid]));
  const leaderName = (url: string) => `broker${cluster.urls.indexOf(url) + 1}`;
  log(`raftlog brokers: ${[...pids].map(([n, p]) => `${n}=${p}`).join(' ')} ${cluster.urls.join(' ')}`);
  const lg = (
    name: string,
    endpoints: readonly string[],
    c: Pick<ProduceCase, 'size' | 'concurrency' | 'rpr'>,
    more: Partial<LoadgenArgs> = {},
    extra: Record<string, unknown> = {},
  ) =>
    runLoadgen(copy, loadgenArgs('raftlog-http', endpoints, pids, c, more)).then((o) =>
      fromLoadgen(name, 'raftlog', o, { leader: leaderName(endpoints[0]!), ...extra }),
    );
  try {
    const [benchLeader] = await createTopic(cluster, 'bench', 1);
    for (const c of PRODUCE_CASES) await runCase(c.name, 'raftlog', () => lg(c.name, [benchLeader!], c));

    for (const parts of PARTITION_CURVE) {
      const name = `partitions-${parts}-100B-c64`;
      await runCase(name, 'raftlog', async () => {
        const leaders = await createTopic(cluster, `scale${parts}`, parts);
        const c = { size: 100, concurrency: 64, rpr: 1 };
        const r = await lg(
          name,
          leaders,
          c,
          { topic: `scale${parts}`, partitions: parts },
          {
            partitions: parts,
            leader: parts === 1 ? leaderName(leaders[0]!) : null,
            leaders: leaders.map(leaderName),
          },
        );
        return { ...r, brokers_cpu_us_per_record: brokersCpuPerRecord(r) };
      });
    }

    if (selected('catchup-json') || selected('catchup-msgpack')) {
      const [leader] = await createTopic(cluster, 'catchup', 1);
      log(`prefilling catchup/0 with ${CATCHUP_MB} MB of 1 KiB records ...`);
      const filled = await prefill(leader!, 'catchup', CATCHUP_MB).catch((e) => e as Error);
      for (const format of ['json', 'msgpack'] as const) {
        await runCase(`catchup-${format}`, 'raftlog', async () => {
          if (filled instanceof Error) throw filled;
          const r = await catchUp(leader!, 'catchup', filled.records, format, pids);
          return {
            case: `catchup-${format}`,
            target: 'raftlog',
            ...r,
            prefill_mb_s: +((filled.records * 1024) / 1e6 / filled.seconds).toFixed(2),
            leader: leaderName(leader!),
          };
        });
      }
    }

    if (selected('tail-off') || selected('tail-on')) {
      const [leader] = await createTopic(cluster, 'tail', 1);
      const c = { size: 1024, concurrency: 16, rpr: 1 };
      await runCase('tail-off', 'raftlog', () =>
        lg('tail-off', [leader!], c, { topic: 'tail' }, { tailers: 0 }),
      );
      await runCase('tail-on', 'raftlog', async () => {
        const tailers = await startTailers(leader!, 'tail', TAILERS, {
          deadlineMs: (WARMUP + DURATION + 60) * 1000,
          ...(TAIL_MIN_RECORDS === undefined ? {} : { minRecords: TAIL_MIN_RECORDS }),
        });
        const t0 = performance.now();
        let r: CaseResult;
        try {
          r = await lg(
            'tail-on',
            [leader!],
            c,
            { topic: 'tail' },
            { tailers: TAILERS, tail_min_records: TAIL_MIN_RECORDS ?? 1 },
          );
        } finally {
          const read = await tailers.stop();
          const secs = (performance.now() - t0) / 1000;
          r! = { ...r!, tail_records_read_s: Math.round(read.records / secs), tail_read: read };
        }
        return r;
      });
    }

    for (const loaded of [false, true]) {
      const name = loaded ? 'e2e-loaded' : 'e2e-idle';
      await runCase(name, 'raftlog', async () => {
        const topic = loaded ? 'e2eload' : 'e2e';
        const [leader] = await createTopic(cluster, topic, 1);
        const background = loaded
          ? runLoadgen(
              copy,
              loadgenArgs('raftlog-http', [leader!], pids, { size: 100, concurrency: 16, rpr: 1 }, { topic }),
            )
          : undefined;
        const r = await endToEnd(leader!, topic, pids, { rate: E2E_RATE, seconds: DURATION, warmup: WARMUP });
        const bg = await background;
        return {
          case: name,
          target: 'raftlog',
          ...r,
          leader: leaderName(leader!),
          ...(bg ? { background_records_s: bg.line.records_s, background_errors: bg.line.errors } : {}),
        } as CaseResult;
      });
    }
  } finally {
    log('stopping raftlog brokers ...');
    await cluster.stop();
    stopAll.splice(stopAll.indexOf(cluster.stop), 1);
  }
  if (opt['cpu-prof']) log(`CPU profiles: ${profDir}`);
}

// ---- peers -------------------------------------------------------------------------------------

async function runPeer(copy: PeersCopy, sys: 'etcd' | 'nats'): Promise<void> {
  if (!PRODUCE_CASES.some((c) => selected(c.name))) return;
  log(`starting ${sys} ...`);
  let cluster: PeerCluster;
  try {
    cluster = await startPeer(copy, sys);
  } catch (err) {
    for (const c of PRODUCE_CASES)
      await runCase(c.name, sys, () => Promise.reject(new Error(`${sys} did not start: ${err}`)));
    return;
  }
  stopAll.push(cluster.stop);
  try {
    const target = sys === 'etcd' ? 'etcd-http' : 'nats-js';
    for (const c of PRODUCE_CASES)
      await runCase(c.name, sys, async () =>
        fromLoadgen(
          c.name,
          sys,
          await runLoadgen(copy, loadgenArgs(target, [cluster.leader], cluster.pids, c)),
          {
            leader: `${sys}${cluster.leader.slice(-1)}`, // client ports end in the member's number
            leader_url: cluster.leader,
          },
        ),
      );
  } finally {
    log(`stopping ${sys} ...`);
    await cluster.stop();
    stopAll.splice(stopAll.indexOf(cluster.stop), 1);
  }
}

// ---- main --------------------------------------------------------------------------------------

/** Everything to stop on the way out, also on SIGINT/SIGTERM. */
const stopAll: (() => Promise<void>)[] = [];
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping every process ...`);
    void Promise.allSettled(stopAll.map((f) => f())).then(() => process.exit(130));
  });
}

const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
const command = `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
let versions = 'raftlog only';
let diskRef = '';
let copy: PeersCopy | undefined;
try {
  if (opt.peers) {
    const how = ensurePeerBinaries();
    versions = `${peerVersions()} (${how})`;
  }
  copy = copyPeers(opt.peers);
  writeFileSync(
    resultsFile,
    `${JSON.stringify({ case: 'meta', ts: new Date().toISOString(), command, machine, versions, load_avg: loadavg(), duration_s: DURATION, warmup_s: WARMUP })}\n`,
  );
  log(`results: ${resultsFile}\nmachine: ${machine}; load average ${loadavg().map((x) => x.toFixed(2))}`);
  if (opt.peers && selected('disk-ref')) {
    const lines = execFileSync(process.execPath, ['fsync-ref.mjs', '/tmp/peers-data/fsync-ref', '3'], {
      cwd: copy.dir,
      encoding: 'utf8',
      timeout: 120_000,
    });
    for (const l of lines.split('\n').filter(Boolean)) {
      writeFileSync(resultsFile, `${l}\n`, { flag: 'a' });
      const d = JSON.parse(l);
      diskRef += `${diskRef ? '; ' : ''}${d.test} ${d.syncs_s} syncs/s ${d.mb_s} MB/s (p50 ${d.p50_ms} ms, p99 ${d.p99_ms} ms)`;
    }
    log(lines);
  }
  await runRaftlog(copy);
  if (opt.peers) {
    await runPeer(copy, 'etcd');
    await runPeer(copy, 'nats');
  }
} finally {
  await Promise.allSettled(stopAll.map((f) => f()));
  copy?.remove();
}

const tables = formatTables(results, {
  command,
  machine,
  versions,
  loadAvg: loadavg(),
  date: new Date().toISOString(),
  diskRef,
});
process.stdout.write(`${tables}\n`);
writeFileSync(join(OUT, `bench-${stamp}.md`), `${tables}\n`);
log(`results: ${resultsFile}`);
process.exit(0);
