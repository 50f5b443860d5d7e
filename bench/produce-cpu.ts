/**
 * CPU per produced record, build against build (issue 7): each build's 3-broker cluster of real
 * processes (fresh data dirs, loopback) takes the shared loadgen's produce load in turn, the
 * builds alternating for `--reps` rounds so that a busy machine weighs on all of them alike. Per
 * run: records/s, latency, each process's CPU in µs per acknowledged record (leader `L`,
 * followers `F`, loadgen `lg`), and per record on the leader: host turns, peer frames and Raft
 * messages sent (from its /metrics). Medians per build at the end.
 *
 *   node dist/bench/produce-cpu.js [--builds DIR,DIR] [--reps 3] [--duration 8] [--size 100]
 *     [--concurrency 64] [--rpr 1] [--partitions 1] [--together]
 *
 * With `--partitions P` (P > 1) the topic has P partitions and the load is spread as in run.ts's
 * `partitions-P` cases (worker w writes partition w % P through its leader); leadership is then
 * spread over the brokers, so processes are named `b1`–`b3` and the counters per record are
 * summed over the three brokers. `all` is always the brokers' CPU together.
 *
 * With `--together` the builds' clusters run at the same time instead of one after the other:
 * each gets about its share of a busy machine, under the same load from everything else, which
 * steadies the comparison of CPU per record (throughput then shows which build does more with
 * its share).
 * A build is a directory holding a built `dist/` (default: this one). For an older commit:
 * `git worktree add /tmp/base COMMIT && ln -s $PWD/node_modules /tmp/base/ && (cd /tmp/base && npx tsc -p tsconfig.build.json)`.
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { call, cpuTicks, pool, sleep } from './bench-common.js';
import { copyPeers, runLoadgen } from './bench-loadgen.js';
import type { startProcessCluster } from './process-cluster.js';

const { values: opt } = parseArgs({
  options: {
    builds: { type: 'string', default: fileURLToPath(new URL('../..', import.meta.url)) },
    reps: { type: 'string', default: '3' },
    duration: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '1' },
    size: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '64' },
    rpr: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '1' },
    together: { type: 'boolean', default: false },
  },
  strict: true,
});
const builds = opt.builds.split(',').map((b) => resolve(b));
const [REPS, DURATION, WARMUP, SIZE, CONCURRENCY, RPR, PARTITIONS] = [
  opt.reps,
  opt.duration,
  opt.warmup,
  opt.size,
  opt.concurrency,
  opt.rpr,
  opt.partitions,
].map(Number) as [number, number, number, number, number, number, number];

/** Counters of the leader's /metrics, per record: host turns, peer frames and Raft messages sent. */
const COUNTERS: Record<string, RegExp> = {
  turns: /^raftlog_batch_groups_count (\S+)$/m,
  frames: /^raftlog_transport_frames\{kind="sent"\} (\S+)$/m,
  messages: /^raftlog_transport_messages\{direction="sent"\} (\S+)$/m,
};

async function counters(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Object.fromEntries(
    Object.entries(COUNTERS).map(([name, re]) => [name, Number(re.exec(text)?.[1] ?? Number.NaN)]),
  );
}

interface Run {
  records_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  /** µs of CPU per record, per process. */
  us: Record<string, number>;
  /** Counters per record: the leader's (one partition) or every broker's summed. */
  per_record: Record<string, number>;
}

async function runOnce(build: string, copy: ReturnType<typeof copyPeers>): Promise<Run> {
  const { startProcessCluster: start } = (await import(`${build}/dist/bench/process-cluster.js`)) as {
    startProcessCluster: typeof startProcessCluster;
  };
  const cluster = await start(3);
  try {
    const leaders = await partitionLeaders(cluster.urls);
    const spread = PARTITIONS > 1;
    const li = cluster.urls.indexOf(leaders[0]!);
    const pids = new Map(
      cluster.pids.map((pid, i) => [spread ? `b${i + 1}` : i === li ? 'L' : `F${i + 1}`, pid]),
    );
    // Counters of the leader alone for one partition; of every broker when leadership is spread.
    const counted = spread ? cluster.urls : [leaders[0]!];
    const allCounters = async () => {
      const each = await Promise.all(counted.map(counters));
      return Object.fromEntries(
        Object.keys(COUNTERS).map((k) => [k, each.reduce((sum, c) => sum + c[k]!, 0)]),
      );
    };
    // CPU ticks and counters over (about) the loadgen's measured window, as runLoadgen samples.
    const ticks = () => new Map([...pids].map(([name, pid]) => [name, cpuTicks(pid) ?? Number.NaN]));
    const window = (async () => {
      await sleep(WARMUP * 1000 + 300);
      const before = { ticks: ticks(), counters: await allCounters() };
      await sleep(DURATION * 1000);
      return { before, after: { ticks: ticks(), counters: await allCounters() } };
    })();
    const out = await runLoadgen(copy, {
      target: 'raftlog-http',
      endpoints: leaders,
      pids,
      topic: 'bench',
      partitions: PARTITIONS,
      concurrency: CONCURRENCY,
      size: SIZE,
      recordsPerRequest: RPR,
      duration: DURATION,
      warmup: WARMUP,
    });
    const { before, after } = await window;
    const l = out.line;
    const records = l.records_s * DURATION;
    // A clock tick is 10 ms of CPU; the loadgen reports its own as % of a core.
    const us: Record<string, number> = {};
    for (const [name, t] of after.ticks)
      us[name] = +(((t - before.ticks.get(name)!) * 1e4) / records).toFixed(1);
    us.all = +[...pids.keys()].reduce((sum, name) => sum + us[name]!, 0).toFixed(1);
    us.lg = +((l.cpu_pct.loadgen * 1e4) / l.records_s).toFixed(1);
    const per_record = Object.fromEntries(
      Object.keys(COUNTERS).map((k) => [
        k,
        +((after.counters[k]! - before.counters[k]!) / records).toFixed(3),
      ]),
    );
    return { records_s: l.records_s, p50_ms: l.p50_ms, p99_ms: l.p99_ms, errors: l.errors, us, per_record };
  } finally {
    await cluster.stop();
  }
}

/** The client URL of each partition's leader (index = partition), once every partition has one. */
async function partitionLeaders(urls: readonly string[]): Promise<string[]> {
  const p = pool(urls[0]!, 1);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error('no leader for every partition of the bench topic');
      const created = await call(p, 'POST', '/v1/topics', {
        body: { name: 'bench', partitions: PARTITIONS, replication_factor: 3 },
      }).catch(() => ({ status: 0, body: null }));
      if (created.status === 201 || created.status === 409) {
        const r = await call(p, 'GET', '/v1/topics/bench').catch(() => ({ status: 0, body: null }));
        const ids: (number | null)[] =
          r.status === 200 ? r.body.partitions.map((x: { leader: number | null }) => x.leader) : [];
        if (ids.length === PARTITIONS && ids.every((id) => id !== null))
          return ids.map((id) => urls[id! - 1]!);
      }
      await sleep(200);
    }
  } finally {
    await p.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const copy = copyPeers(false);
const runs = new Map<string, Run[]>(builds.map((b) => [b, []]));
try {
  process.stderr.write(
    `${SIZE} B x ${RPR} per request, ${CONCURRENCY} in flight over ${PARTITIONS} partition(s), ${DURATION} s, ${REPS} rounds over ${builds.length} builds\n`,
  );
  for (let rep = 0; rep < REPS; rep++) {
    const load = +loadavg()[0]!.toFixed(1);
    const record = (build: string, r: Run) => {
      runs.get(build)!.push(r);
      console.log(JSON.stringify({ build, rep, load_avg_1m: load, ...r }));
    };
    if (opt.together) {
      const rs = await Promise.all(builds.map((build) => runOnce(build, copy)));
      for (const [i, build] of builds.entries()) record(build, rs[i]!);
    } else {
      for (const build of builds) record(build, await runOnce(build, copy));
    }
  }
} finally {
  copy.remove();
}
for (const [build, rs] of runs) {
  const names = Object.keys(rs[0]!.us);
  const us = names.map((n) => `${n} ${median(rs.map((r) => r.us[n]!))}`).join(' · ');
  const per = Object.keys(COUNTERS)
    .map((k) => `${k} ${median(rs.map((r) => r.per_record[k]!))}`)
    .join(' · ');
  console.log(
    `${build}: median of ${rs.length}: ${median(rs.map((r) => r.records_s))} rec/s; CPU µs/record ${us}; ${PARTITIONS > 1 ? 'brokers' : 'leader'} per record: ${per}`,
  );
}
