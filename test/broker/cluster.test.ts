import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/broker.js';
import { InProcessCluster, waitFor } from './cluster-harness.js';

const value = (s: string) => ({ value: Buffer.from(s) });
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const PARTITIONS = 8;

/** Append through whichever broker leads the partition, retrying while leadership moves. */
async function append(cluster: InProcessCluster, partition: number, v: string) {
  return waitFor(`append ${v} to partition ${partition}`, async () => {
    const leader = await cluster.partitionLeader('events', partition);
    return leader.produce('events', partition, [value(v)]);
  });
}

async function readAll(leader: Broker, partition: number): Promise<string[]> {
  const { records } = await leader.fetch('events', partition, { offset: 0, maxRecords: 10_000 });
  return records.map((r) => text(r.value));
}

describe('three brokers in one process over the real transport (issue 4)', () => {
  let cluster: InProcessCluster;
  beforeAll(async () => {
    cluster = await InProcessCluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('creates a topic of 8 partitions with RF 3, spreads leaders, appends and reads', async () => {
    const meta = await cluster.metadataLeader();
    const created = await meta.createTopic({ name: 'events', partitions: PARTITIONS, replicationFactor: 3 });
    expect(created.partitions.map((p) => p.replicas.length)).toEqual(Array(PARTITIONS).fill(3));
    // Preferred leaders (first replicas) are spread evenly over the brokers.
    const preferred = created.partitions.map((p) => p.replicas[0]!);
    for (const id of [1, 2, 3]) expect(preferred.filter((x) => x === id).length).toBeGreaterThanOrEqual(2);
    for (let p = 0; p < PARTITIONS; p++) {
      expect(await append(cluster, p, `p${p}-a`)).toMatchObject({
        partition: p,
        baseOffset: 0,
        lastOffset: 0,
      });
    }
    for (let p = 0; p < PARTITIONS; p++) {
      expect(await readAll(await cluster.partitionLeader('events', p), p)).toEqual([`p${p}-a`]);
    }
  });

  it('a topic created or deleted through the metadata leader is seen at once through every broker', async () => {
    const meta = await cluster.metadataLeader();
    for (let i = 0; i < 5; i++) {
      await meta.createTopic({ name: `fresh-${i}`, partitions: 1, replicationFactor: 3 });
      for (const b of cluster.running()) {
        expect((await b.describeTopic(`fresh-${i}`)).name).toBe(`fresh-${i}`);
      }
      await meta.deleteTopic(`fresh-${i}`);
      for (const b of cluster.running()) {
        expect((await b.listTopics()).map((t) => t.name)).not.toContain(`fresh-${i}`);
      }
    }
  });

  it('a broker that stops abruptly loses its leaderships; appends continue; on restart it catches up', async () => {
    const victim = 2;
    const led = (await cluster.broker(1).describeTopic('events')).partitions.filter(
      (p) => p.leader === victim,
    );
    await cluster.kill(victim);
    for (let p = 0; p < PARTITIONS; p++) await append(cluster, p, `p${p}-b`);
    for (const p of led) {
      const leader = await cluster.partitionLeader('events', p.partition);
      expect(leader.id).not.toBe(victim);
    }
    await cluster.restart(victim);
    for (let p = 0; p < PARTITIONS; p++) await append(cluster, p, `p${p}-c`);
    // Every replica holds the same committed log: compare what each broker's store has applied.
    for (let p = 0; p < PARTITIONS; p++) {
      const expected = [`p${p}-a`, `p${p}-b`, `p${p}-c`];
      expect(await readAll(await cluster.partitionLeader('events', p), p)).toEqual(expected);
      await waitFor(`broker ${victim} to catch up on partition ${p}`, () =>
        cluster
          .broker(victim)
          .partitionStatus()
          .find((s) => s.topic === 'events' && s.partition === p && s.highWatermark === 3),
      );
    }
  });
});
