import { afterEach, describe, expect, it } from 'vitest';
import { type ClusterBrokerOptions, InProcessCluster, TEST_TIMING, waitFor } from './cluster-harness.js';
import { caughtUp, replicaLogs, SteadyProducer, votersOf, waitForMove } from './move-workload.js';

const TOPIC = 'moving';

/**
 * Replica moves (issue 9) under continuous produce: the target is added as a learner, catches up,
 * and is promoted while the old replica is removed (Raft §6 joint consensus), with writes going on.
 */
describe('moving a partition replica (Raft §6 membership changes)', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  /** A 4-broker cluster with TOPIC on brokers 1, 2, 3, under a steady producer. */
  async function setUp(
    options: ClusterBrokerOptions = {},
  ): Promise<{ c: InProcessCluster; producer: SteadyProducer; group: number }> {
    const c = await InProcessCluster.start(4, TEST_TIMING, options);
    cluster = c;
    await waitFor('every broker registered', async () => {
      const brokers = await (await c.metadataLeader()).admin.listBrokers();
      return brokers.length === 4;
    });
    const created = await (await c.metadataLeader()).createTopic({
      name: TOPIC,
      partitions: 1,
      replicationFactor: 3,
    });
    expect(created.partitions[0]!.replicas).toEqual([1, 2, 3]);
    await c.partitionLeader(TOPIC, 0);
    const producer = new SteadyProducer(c, TOPIC);
    await waitFor('some records before the move', () => producer.count >= 50, 30_000);
    return { c, producer, group: 1 };
  }

  /** Stop producing, then check every final replica holds exactly what was acknowledged. */
  async function verify(c: InProcessCluster, producer: SteadyProducer, replicas: number[]): Promise<void> {
    const before = producer.count;
    await waitFor('records after the move', () => producer.count >= before + 50, 30_000);
    const outcome = await producer.stop();
    expect(outcome.failed).toEqual([]);
    // A replica restarted late may still be catching up: compare once all hold the whole log.
    await waitFor('every replica to hold the whole log', () => caughtUp(c, 1, replicas), 30_000);
    await c.stopBrokers();
    const logs = await replicaLogs(c, TOPIC, 0, replicas);
    for (const [id, log] of logs) {
      const byOffset = new Map(log);
      for (const [offset, value] of outcome.acked) {
        expect(byOffset.get(offset), `broker ${id}, offset ${offset}`).toBe(value);
      }
      const values = log.map(([, v]) => v).filter((v) => v.startsWith('v-'));
      expect(new Set(values).size, `broker ${id} holds no value twice`).toBe(values.length);
      expect(log).toEqual(logs.get(replicas[0]!));
    }
  }

  it('moves a follower to a new broker while writes go on, catch-up within a bandwidth limit', async () => {
    const { c, producer, group } = await setUp({ moveBandwidth: 64 * 1024 });
    const leader = await c.partitionLeader(TOPIC, 0);
    const follower = [1, 2, 3].find((id) => id !== leader.id)!;
    const target = [1, 2, 3].map((id) => (id === follower ? 4 : id));
    // The catch-up progress the leader reports, sampled all along the move.
    const samples: Array<{ bytes?: number; totalBytes?: number }> = [];
    const sampler = setInterval(() => {
      const c = leader.admin.moves()[0]?.catchUp?.find((r) => r.broker === 4);
      if (c) samples.push(c);
    }, 5);
    try {
      await (await c.metadataLeader()).admin.moveReplicas(TOPIC, 0, target);
      await waitForMove(c, TOPIC, 0, target);
    } finally {
      clearInterval(sampler);
    }
    // The learner's appends went through the leader's throttle.
    expect(leader.host.stats.learnerBytes).toBeGreaterThan(0);
    // In bytes, never going back, never past what is needed.
    expect(samples.length).toBeGreaterThan(0);
    for (const [i, s] of samples.entries()) {
      expect(s.bytes).toBeLessThanOrEqual(s.totalBytes!);
      if (i > 0) expect(s.bytes).toBeGreaterThanOrEqual(samples[i - 1]!.bytes!);
    }
    expect(votersOf(c, group)).toEqual([...target].sort());
    await verify(c, producer, target);
  });

  it('moves the leader away: leadership is transferred first', async () => {
    const { c, producer, group } = await setUp();
    const leader = await c.partitionLeader(TOPIC, 0);
    const target = [1, 2, 3].map((id) => (id === leader.id ? 4 : id));
    await (await c.metadataLeader()).admin.moveReplicas(TOPIC, 0, target);
    await waitForMove(c, TOPIC, 0, target);
    expect(votersOf(c, group)).toEqual([...target].sort());
    expect(target).toContain((await c.partitionLeader(TOPIC, 0)).id);
    await verify(c, producer, target);
  });

  it('finishes the move when the leader is killed mid-move (the new leader resumes)', async () => {
    const { c, producer, group } = await setUp();
    const leader = await c.partitionLeader(TOPIC, 0);
    const follower = [1, 2, 3].find((id) => id !== leader.id)!;
    const target = [1, 2, 3].map((id) => (id === follower ? 4 : id));
    await (await c.metadataLeader()).admin.moveReplicas(TOPIC, 0, target);
    await waitFor('broker 4 to be a learner', () => {
      const s = c.broker(leader.id).host.status(group);
      return s?.confState.learners.includes(4) || s?.confState.voters.includes(4);
    });
    await c.kill(leader.id);
    await waitForMove(c, TOPIC, 0, target);
    expect(votersOf(c, group)).toEqual([...target].sort());
    await c.restart(leader.id);
    await verify(c, producer, target);
  });

  it('a cancelled move heads back: the learner is removed and the replicas stay where they were', async () => {
    // Slow catch-up (16 KiB/s for over 1 MiB) so the move is surely still running when cancelled.
    const { c, producer, group } = await setUp({ moveBandwidth: 16 * 1024 });
    const leader = await c.partitionLeader(TOPIC, 0);
    const big = new Uint8Array(64 * 1024);
    for (let i = 0; i < 20; i++) await leader.produce(TOPIC, 0, [{ value: big }]);
    const target = [1, 2, 4];
    const admin = (await c.metadataLeader()).admin;
    await admin.moveReplicas(TOPIC, 0, target);
    await waitFor('broker 4 to be a learner', () =>
      c.broker(leader.id).host.status(group)?.confState.learners.includes(4),
    );
    await (await c.metadataLeader()).admin.cancelMove(TOPIC, 0);
    await waitForMove(c, TOPIC, 0, [1, 2, 3]);
    await waitFor('the learner removed', () => {
      const s = [...c.running()].map((b) => b.host.status(group)).find((x) => x?.progress);
      return s && s.confState.learners.length === 0 && s.confState.voters.join() === '1,2,3';
    });
    await waitFor('broker 4 to drop the group', () => !c.broker(4).host.hasGroup(group));
    await verify(c, producer, [1, 2, 3]);
  });
});
