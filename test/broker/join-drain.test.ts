import { afterEach, describe, expect, it } from 'vitest';
import { METADATA_GROUP } from '../../src/statemachine/metadata.js';
import { InProcessCluster, TEST_TIMING, waitFor } from './cluster-harness.js';
import { caughtUp, replicaLogs, SteadyProducer, votersOf } from './move-workload.js';

const TOPIC = 'elastic';

/**
 * Online elasticity (issue 9): a fourth broker joins a running cluster through the metadata
 * group, then broker 1 is drained (its replicas move to the others, the metadata group's voter
 * moves too) and removed, while a producer keeps writing.
 */
describe('a broker joins, another is drained and removed (Raft §6 for every group)', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('keeps every acknowledged record, and every group membership ends as the metadata says', async () => {
    const c = await InProcessCluster.start(3);
    cluster = c;
    // A running cluster: every broker has registered its addresses, which the joiner learns.
    await waitFor(
      'every broker registered',
      async () => (await (await c.metadataLeader()).admin.listBrokers()).length === 3,
    );
    const created = await (await c.metadataLeader()).createTopic({
      name: TOPIC,
      partitions: 3,
      replicationFactor: 3,
    });
    for (const p of created.partitions) await c.partitionLeader(TOPIC, p.partition);
    const producer = new SteadyProducer(c, TOPIC);
    await waitFor('some records', () => producer.count >= 30, 30_000);

    const joined = await c.join(4);
    await waitFor('broker 4 to learn the metadata as a learner of the metadata group', async () => {
      const status = (await c.metadataLeader()).host.status(METADATA_GROUP);
      return status?.confState.learners.includes(4) && joined.cluster().nodes.length === 4;
    });
    expect(votersOf(c, METADATA_GROUP)).toEqual([1, 2, 3]);

    await (await c.metadataLeader()).admin.drainBroker(1);
    await waitFor(
      'broker 1 to hold no replica',
      async () => {
        const leader = await c.metadataLeader();
        const brokers = await leader.admin.listBrokers();
        return brokers.find((b) => b.id === 1)?.replicas === 0 && leader.admin.moves().length === 0;
      },
      90_000,
    );
    await waitFor(
      'the metadata group to vote without broker 1',
      () => votersOf(c, METADATA_GROUP)?.join() === '2,3,4',
    );
    await (await c.metadataLeader()).admin.removeBroker(1);
    await waitFor('broker 1 out of the metadata group', () => {
      const s = c.broker(2).host.status(METADATA_GROUP) ?? c.broker(3).host.status(METADATA_GROUP);
      return s && !s.confState.learners.includes(1) && !s.confState.voters.includes(1);
    });

    // Every partition group's voters are the replicas the metadata names.
    const d = await (await c.metadataLeader()).describeTopic(TOPIC);
    for (const p of d.partitions) {
      expect([...p.replicas].sort()).toEqual([2, 3, 4]);
      const group = p.partition + 1;
      await waitFor(`group ${group}'s voters`, () => votersOf(c, group)?.join() === '2,3,4');
    }
    const before = producer.count;
    await waitFor('records after the drain', () => producer.count >= before + 30, 30_000);
    const outcome = await producer.stop();
    expect(outcome.failed).toEqual([]);
    await waitFor('every replica to hold the whole log', () => caughtUp(c, 1, [2, 3, 4]), 30_000);
    await c.stopBrokers();
    const logs = await replicaLogs(c, TOPIC, 0, [2, 3, 4]);
    for (const [id, log] of logs) {
      const byOffset = new Map(log);
      for (const [offset, value] of outcome.acked)
        expect(byOffset.get(offset), `broker ${id} @${offset}`).toBe(value);
      expect(log).toEqual(logs.get(2));
    }
  });

  it('with automatic rebalancing, a joining broker is given its share of replicas and leaders', async () => {
    const c = await InProcessCluster.start(3, TEST_TIMING, { autoRebalance: true });
    cluster = c;
    await waitFor(
      'every broker registered',
      async () => (await (await c.metadataLeader()).admin.listBrokers()).length === 3,
    );
    await (await c.metadataLeader()).createTopic({ name: TOPIC, partitions: 4, replicationFactor: 3 });
    await c.join(4);
    await waitFor(
      'replicas spread within one over 4 brokers',
      async () => {
        const leader = await c.metadataLeader();
        const counts = (await leader.admin.listBrokers()).map((b) => b.replicas);
        return (
          leader.admin.moves().length === 0 &&
          counts.length === 4 &&
          Math.max(...counts) - Math.min(...counts) <= 1
        );
      },
      90_000,
    );
    const d = await (await c.metadataLeader()).describeTopic(TOPIC);
    for (const p of d.partitions) {
      await waitFor(
        `group ${p.partition + 1}'s voters`,
        () => votersOf(c, p.partition + 1)?.join() === [...p.replicas].sort().join(),
      );
    }
  });
});
