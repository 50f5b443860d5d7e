import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { registerRaftMetrics } from '../../src/broker/raft-metrics.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';

/** The value of one sample in Prometheus text, or undefined when absent. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('Raft metrics of a broker', () => {
  let dir: string;
  let broker: Broker | undefined;
  afterEach(async () => {
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('count fsynced batches, the groups in them, elections won, hosted groups and Raft messages', async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftlog-metrics-'));
    const registry = new Registry();
    broker = new Broker({ id: 1, store: await LevelLogStore.open(dir) });
    const stop = registerRaftMetrics(registry, broker);
    try {
      await broker.whenReady(5000);
      await broker.createTopic({ name: 't', partitions: 2, replicationFactor: 1 });
      await broker.whenReady(5000);
      await broker.produce('t', 0, [{ value: Buffer.from('x') }]);
      const text = await registry.metrics();
      expect(sample(text, 'raftlog_batch_duration_seconds_count{sync="true"}')).toBeGreaterThan(0);
      expect(sample(text, 'raftlog_batch_groups_count')).toBeGreaterThan(0);
      // The metadata group and both partitions elected this broker.
      expect(sample(text, 'raftlog_elections_won_total')).toBe(3);
      const active = sample(text, 'raftlog_groups{state="active"}') ?? 0;
      const quiet = sample(text, 'raftlog_groups{state="quiet"}') ?? 0;
      expect(active + quiet).toBe(3);
      // A broker alone sends no Raft message to anyone.
      expect(sample(text, 'raftlog_transport_messages{direction="sent"}')).toBe(0);
      expect(sample(text, 'raftlog_transport_messages{direction="received"}')).toBe(0);
    } finally {
      stop();
    }
  });
});
