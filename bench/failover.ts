/**
 * Failover: with a producer writing steadily to one partition (RF 3), kill -9 the broker that
 * leads it and measure the time until a write is acknowledged again (through a surviving broker,
 * which forwards to the new leader). Repeated, restarting the killed broker between rounds.
 * Target (issue 4): under 1 s at the median with default settings.
 *
 *   npm run build && node dist/bench/failover.js [--rounds 7]
 */
import { parseArgs } from 'node:util';
import { startProcessCluster } from './process-cluster.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' } } });
const rounds = Number(values.rounds);

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(2000),
  });
}

async function leaderOf(url: string): Promise<number | null> {
  const r = await fetch(`${url}/v1/topics/failover`).then(
    (x) => x.json() as Promise<{ partitions: { leader: number | null }[] }>,
  );
  return r.partitions[0]?.leader ?? null;
}

const cluster = await startProcessCluster(3);
const times: number[] = [];
try {
  const created = await post(cluster.urls[0]!, '/v1/topics', {
    name: 'failover',
    partitions: 1,
    replication_factor: 3,
  });
  if (created.status !== 201) throw new Error(`create topic: ${created.status}`);
  for (let round = 0; round < rounds; round++) {
    let leader: number | null = null;
    while (leader === null) leader = await leaderOf(cluster.urls[0]!).catch(() => null);
    const survivor = cluster.urls[leader % 3]!; // a broker that is not the leader
    // Steady writes until the kill, so the group is busy (not quiet) when its leader dies.
    for (let i = 0; i < 20; i++)
      await post(survivor, '/v1/topics/failover/partitions/0/records', {
        records: [{ value: `r${round}-${i}` }],
      });
    const killedAt = performance.now();
    await cluster.kill(leader);
    let n = 0;
    for (;;) {
      const res = await post(survivor, '/v1/topics/failover/partitions/0/records', {
        records: [{ value: `after-${round}-${n++}` }],
      }).catch(() => undefined);
      if (res?.status === 200) break;
      await res?.body?.cancel();
    }
    const ms = performance.now() - killedAt;
    times.push(ms);
    console.log(
      `round ${round + 1}: killed broker ${leader}, writes acknowledged again after ${ms.toFixed(0)} ms`,
    );
    cluster.restart(leader);
    for (;;) {
      const ok = await fetch(`${cluster.urls[leader - 1]}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(
    JSON.stringify({
      bench: 'failover',
      rounds,
      median_ms: Math.round(median),
      min_ms: Math.round(sorted[0]!),
      max_ms: Math.round(sorted.at(-1)!),
    }),
  );
} finally {
  await cluster.stop();
}
