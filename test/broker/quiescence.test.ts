import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessCluster, waitFor } from './cluster-harness.js';

const PARTITIONS = 30;
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('quiescence: idle groups stop ticking, wake on demand, and still fail over (issue 4)', () => {
  let cluster: InProcessCluster;
  beforeAll(async () => {
    cluster = await InProcessCluster.start(3);
    const meta = await cluster.metadataLeader();
    await meta.createTopic({ name: 'idle', partitions: PARTITIONS, replicationFactor: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('every group of an idle cluster goes quiet on every broker', async () => {
    // The metadata group and every partition group: 31 groups per broker.
    await waitFor('all groups quiet', () =>
      cluster.running().every((b) => b.host.quiescedGroups() === PARTITIONS + 1),
    );
  });

  it('a write to a quiet partition wakes it and commits; then it goes quiet again', async () => {
    const leader = await cluster.partitionLeader('idle', 7);
    expect(await leader.produce('idle', 7, [{ value: Buffer.from('wake') }])).toMatchObject({
      baseOffset: 0,
    });
    const { records } = await leader.fetch('idle', 7, { offset: 0 });
    expect(records.map((r) => text(r.value))).toEqual(['wake']);
    await waitFor('quiet again', () =>
      cluster.running().every((b) => b.host.quiescedGroups() === PARTITIONS + 1),
    );
  });

  it('when a broker dies, the quiet followers of its groups notice and elect new leaders', async () => {
    const victim = 3;
    const led = (await cluster.broker(1).describeTopic('idle')).partitions.filter((p) => p.leader === victim);
    expect(led.length).toBeGreaterThan(0);
    await cluster.kill(victim);
    for (const p of led) {
      const leader = await cluster.partitionLeader('idle', p.partition);
      expect(leader.id).not.toBe(victim);
      await waitFor(`append to ${p.partition}`, () =>
        leader.produce('idle', p.partition, [{ value: Buffer.from('after') }]).then(() => true),
      );
    }
  });
});
