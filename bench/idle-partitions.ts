/**
 * Cost of idle partitions: a 3-broker cluster with 1,000 partitions (RF 3) and no traffic. Reports
 * each broker's CPU (% of one core) over a measured window once the groups are quiet, and its RSS.
 * Targets (issues 4 and 7): under 5% of a core and under 300 MB RSS per broker.
 *
 *   npm run build && node dist/bench/idle-partitions.js [--partitions 1000] [--seconds 20]
 */
import { parseArgs } from 'node:util';
import { processUsage, startProcessCluster } from './process-cluster.js';

const { values } = parseArgs({
  options: { partitions: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '20' } },
});
const partitions = Number(values.partitions);
const seconds = Number(values.seconds);

const cluster = await startProcessCluster(3);
try {
  const created = await fetch(`${cluster.urls[0]}/v1/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'idle', partitions, replication_factor: 3 }),
  });
  if (created.status !== 201) throw new Error(`create topic: ${created.status} ${await created.text()}`);
  // Wait until every broker reports every partition led.
  const deadline = Date.now() + 120_000;
  for (const url of cluster.urls) {
    while (
      !(await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error('partitions did not all get leaders');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  // Settle (groups go quiet a heartbeat after they are idle), then measure.
  await new Promise((r) => setTimeout(r, 3000));
  const before = await Promise.all(cluster.pids.map(processUsage));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await Promise.all(cluster.pids.map(processUsage));
  const rows = cluster.pids.map((pid, i) => ({
    broker: i + 1,
    pid,
    cpu_pct_of_one_core: +((100 * (after[i]!.cpuSeconds - before[i]!.cpuSeconds)) / seconds).toFixed(2),
    rss_mb: Math.round(after[i]!.rssBytes / 1e6),
  }));
  console.log(`idle partitions: ${partitions} (RF 3) on 3 brokers, measured over ${seconds} s`);
  console.table(rows);
  console.log(JSON.stringify({ bench: 'idle-partitions', partitions, seconds, brokers: rows }));
} finally {
  await cluster.stop();
}
