/**
 * Replica move (issue 9): 3 brokers hold a partition of `--size-mib` MiB (RF 3); a 4th broker
 * joins (`raftlog start --join`) and one follower replica moves to it while a producer writes at
 * a steady rate. Reports the time the move takes, the bytes copied to the new replica, and the
 * produce latency p99 and error count during the move against the steady state before it.
 * Target: no errors, p99 during the move at most 3× the steady p99. Also reports, per broker,
 * the p99 of its synced group-commit batches in both phases: how much slower the disk got.
 * While the move runs it prints the new replica's progress as `raftlog status` shows it.
 */
import { catchUpText } from '../src/cli/status.js';
import { movesFromWire } from '../src/client/admin.js';
import { benchArgs } from './bench-common.js';
import { startProcessCluster } from './process-cluster.js';

const USAGE = `usage: npm run bench:move -- [--size-mib 1024] [--rate 100] [--steady-s 15] [--move-bandwidth 25MiB]

Moves one replica of a partition of --size-mib MiB (1 MiB entries) to a joining 4th broker while
producing --rate 1 KiB records/s; --steady-s seconds of steady state before; --move-bandwidth is
the brokers' catch-up limit (default 25MiB, the brokers' default).
`;

const { values } = benchArgs(USAGE, {
  options: {
    'size-mib': { type: 'string', default: '1024' },
    rate: { type: 'string', default: '100' },
    'steady-s': { type: 'string', default: '15' },
    'move-bandwidth': { type: 'string', default: '25MiB' },
  },
  strict: true,
});
const sizeMiB = Number(values['size-mib']);
const rate = Number(values.rate);
const steadyMs = Number(values['steady-s']) * 1000;
const TOPIC = 'move';
const FILL_RECORD = 'x'.repeat(64 * 1024);
const FILL_RECORDS_PER_REQUEST = 16; // 1 MiB per entry
const FILL_CONCURRENCY = 4;
const LIVE_RECORD = 'y'.repeat(1024);

type Wire = Record<string, unknown>;

async function call(url: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
}

async function json(url: string, path: string): Promise<Wire> {
  const res = await call(url, 'GET', path);
  return (await res.json()) as Wire;
}

async function describe(url: string): Promise<{ leader: number | null; replicas: number[] }> {
  const t = await json(url, `/v1/topics/${TOPIC}`);
  return (t.partitions as Array<{ leader: number | null; replicas: number[] }>)[0]!;
}

/** Sum of `raftlog_learner_bytes_total` over the brokers. */
async function learnerBytes(urls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const text = await (await call(url, 'GET', '/metrics')).text();
    const m = /^raftlog_learner_bytes_total (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
    total += m ? Number(m[1]) : 0;
  }
  return total;
}

/** Per broker, the cumulative buckets of `raftlog_batch_duration_seconds{sync="true"}` (le → count). */
async function syncedBatchBuckets(urls: readonly string[]): Promise<Array<Map<number, number>>> {
  return Promise.all(
    urls.map(async (url) => {
      const text = await (await call(url, 'GET', '/metrics')).text();
      const buckets = new Map<number, number>();
      for (const m of text.matchAll(/^raftlog_batch_duration_seconds_bucket\{([^}]*)\} (\d+)$/gm)) {
        const le = /le="([^"]+)"/.exec(m[1]!)?.[1];
        if (!m[1]!.includes('sync="true"') || le === undefined) continue;
        buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(m[2]));
      }
      return buckets;
    }),
  );
}

/**
 * The bucket bound (ms) below which 99% of the synced batches between two scrapes fell;
 * `undefined` when the broker synced no batch in between (the new broker, before the move).
 */
function batchP99Ms(before: Map<number, number>, after: Map<number, number>): number | undefined {
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total === 0) return undefined;
  for (const [le, count] of [...after].sort(([a], [b]) => a - b)) {
    if (count - (before.get(le) ?? 0) >= total * 0.99) return le * 1000;
  }
  return undefined;
}

function p99(latencies: number[]): number {
  if (latencies.length === 0) return Number.NaN;
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

/**
 * Create the topic through the metadata leader: a broker that does not lead the metadata group
 * answers 503 NOT_LEADER with the leader's id (or none yet, just after the cluster started).
 */
async function createTopic(urls: readonly string[]): Promise<void> {
  let target = urls[0]!;
  for (let attempt = 0; ; attempt++) {
    const res = await call(target, 'POST', '/v1/topics', {
      name: TOPIC,
      partitions: 1,
      replication_factor: 3,
    });
    if (res.status === 201) return;
    const body = (await res.json()) as Wire;
    if (res.status !== 503 || body.retriable !== true || attempt >= 50)
      throw new Error(`create topic: ${res.status} ${JSON.stringify(body)}`);
    const leader = body.leader_id;
    if (typeof leader === 'number' && urls[leader - 1] !== undefined) target = urls[leader - 1]!;
    else await new Promise((r) => setTimeout(r, 200));
  }
}

/** Open-loop producer: one 1 KiB record every 1/rate s, whatever the answers take. */
class SteadyLoad {
  readonly samples: Array<{ at: number; ms: number; ok: boolean }> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly url: string) {}

  start(): void {
    const interval = 1000 / rate;
    let next = performance.now();
    const tick = () => {
      const now = performance.now();
      while (next <= now) {
        next += interval;
        const p = this.one().finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      }
      this.timer = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
  }

  private async one(): Promise<void> {
    const at = performance.now();
    let ok = false;
    try {
      const res = await call(this.url, 'POST', `/v1/topics/${TOPIC}/partitions/0/records`, {
        records: [{ value: LIVE_RECORD }],
      });
      ok = res.status === 200;
      await res.body?.cancel();
    } catch {
      ok = false;
    }
    this.samples.push({ at, ms: performance.now() - at, ok });
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.inFlight);
  }

  between(from: number, to: number) {
    const s = this.samples.filter((x) => x.at >= from && x.at < to);
    return {
      requests: s.length,
      errors: s.filter((x) => !x.ok).length,
      p99: p99(s.filter((x) => x.ok).map((x) => x.ms)),
    };
  }
}

const cluster = await startProcessCluster(3, 'warn', {
  brokerArgs: ['--move-bandwidth', values['move-bandwidth']],
});
try {
  const [url] = cluster.urls as [string];
  await createTopic(cluster.urls);

  // Fill the partition.
  const fillStart = performance.now();
  let sent = 0;
  const requests = Math.ceil(sizeMiB);
  await Promise.all(
    Array.from({ length: FILL_CONCURRENCY }, async () => {
      while (sent < requests) {
        sent++;
        for (;;) {
          const res = await call(url, 'POST', `/v1/topics/${TOPIC}/partitions/0/records`, {
            records: Array.from({ length: FILL_RECORDS_PER_REQUEST }, () => ({ value: FILL_RECORD })),
          }).catch(() => undefined);
          await res?.body?.cancel();
          if (res?.status === 200) break;
        }
      }
    }),
  );
  console.log(`filled ${sizeMiB} MiB in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`);

  const newUrl = await cluster.join(4);
  const urls = [...cluster.urls.slice(0, 3), newUrl];
  for (;;) {
    const brokers = (await json(url, '/v1/brokers')).brokers as unknown[];
    if (brokers.length === 4) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log('broker 4 joined');

  const before = await describe(url);
  const leader = before.leader ?? before.replicas[0]!;
  const leaderUrl = cluster.urls[leader - 1]!;
  const load = new SteadyLoad(leaderUrl);
  const batchesAtStart = await syncedBatchBuckets(urls);
  const steadyFrom = performance.now();
  load.start();
  await new Promise((r) => setTimeout(r, steadyMs));

  const follower = before.replicas.find((id) => id !== leader)!;
  const target = before.replicas.map((id) => (id === follower ? 4 : id));
  const bytesBefore = await learnerBytes(urls);
  const batchesAtMove = await syncedBatchBuckets(urls);
  const moveFrom = performance.now();
  const started = await call(url, 'POST', `/v1/topics/${TOPIC}/partitions/0/reassignment`, {
    replicas: target,
  });
  if (started.status !== 202) throw new Error(`reassignment: ${started.status} ${await started.text()}`);
  let lastPrint = 0;
  let lastSeen: string | undefined;
  for (;;) {
    const d = await describe(url).catch(() => undefined);
    const status = await json(leaderUrl, '/v1/status').catch(() => ({}) as Wire);
    const moves = movesFromWire(status.moves);
    if (d && d.replicas.join(',') === target.join(',') && moves.length === 0) break;
    const c = moves[0]?.catchUp?.[0];
    if (c) {
      const at = ((performance.now() - moveFrom) / 1000).toFixed(1);
      lastSeen = `${at.padStart(5)} s moving ${follower} -> ${catchUpText(c)}`;
      if (performance.now() - lastPrint > 2000) {
        lastPrint = performance.now();
        console.log(lastSeen);
        lastSeen = undefined;
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const moveTo = performance.now();
  if (lastSeen) console.log(`${lastSeen} (last seen)`);
  const copied = (await learnerBytes(urls)) - bytesBefore;
  const batchesAtEnd = await syncedBatchBuckets(urls);
  await new Promise((r) => setTimeout(r, 2000));
  await load.stop();

  const steady = load.between(steadyFrom, moveFrom);
  const moving = load.between(moveFrom, moveTo);
  const seconds = (moveTo - moveFrom) / 1000;
  console.log(
    `moved replica ${follower} -> 4 of a ${sizeMiB} MiB partition in ${seconds.toFixed(1)} s; ` +
      `${(copied / 1024 / 1024).toFixed(0)} MiB copied (${(copied / 1024 / 1024 / seconds).toFixed(1)} MiB/s)`,
  );
  console.log(
    `produce at ${rate}/s: steady p99 ${steady.p99.toFixed(1)} ms (${steady.errors} errors of ${steady.requests}); ` +
      `during the move p99 ${moving.p99.toFixed(1)} ms (${moving.errors} errors of ${moving.requests}) = ` +
      `${(moving.p99 / steady.p99).toFixed(2)}x`,
  );
  /** Broker id → synced batch p99 between two scrapes, for the brokers that synced any. */
  const batchP99 = (from: Array<Map<number, number>>, to: Array<Map<number, number>>) =>
    Object.fromEntries(
      urls.flatMap((_, i) => {
        const ms = batchP99Ms(from[i]!, to[i]!);
        return ms === undefined ? [] : [[String(i + 1), ms]];
      }),
    ) as Record<string, number>;
  const steadyBatch = batchP99(batchesAtStart, batchesAtMove);
  const moveBatch = batchP99(batchesAtMove, batchesAtEnd);
  console.log(
    `synced batch p99 (histogram bucket bound) per broker, steady -> move: ${urls
      .map((_, i) => `${i + 1}: ${steadyBatch[i + 1] ?? '–'} -> ${moveBatch[i + 1] ?? '–'} ms`)
      .join(', ')}`,
  );
  console.log(
    JSON.stringify({
      bench: 'move',
      size_mib: sizeMiB,
      rate,
      move_bandwidth: values['move-bandwidth'],
      move_s: Number(seconds.toFixed(1)),
      copied_mib: Math.round(copied / 1024 / 1024),
      steady_p99_ms: Number(steady.p99.toFixed(1)),
      move_p99_ms: Number(moving.p99.toFixed(1)),
      steady_errors: steady.errors,
      move_errors: moving.errors,
      steady_batch_p99_ms: steadyBatch,
      move_batch_p99_ms: moveBatch,
    }),
  );
} finally {
  await cluster.stop();
}
