import { afterEach, describe, expect, it } from 'vitest';
import { InProcessCluster, TEST_TIMING, waitFor } from './cluster-harness.js';

describe('shutting down with writes in flight', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
  });

  it('answers COMMIT_TIMEOUT (outcome unknown), never a definite refusal, for a write that may still commit', async () => {
    // Long election timeouts: the leader must still lead, without a quorum, when the write arrives.
    cluster = await InProcessCluster.start(3, { ...TEST_TIMING, electionTick: 250 });
    const meta = await cluster.metadataLeader();
    await meta.createTopic({ name: 't', partitions: 1, replicationFactor: 3 });
    const leader = await cluster.partitionLeader('t', 0);
    // Without a quorum the write cannot commit before the leader closes; afterwards it might.
    for (const id of cluster.ids) if (id !== leader.id) await cluster.kill(id);
    const group = leader.host.groupIds().find((g) => g !== 0)!;
    const before = leader.host.status(group)!.lastIndex;
    const write = leader.produce('t', 0, [{ value: Buffer.from('in flight') }]);
    const settled = write.then(
      () => 'committed',
      (err: { code?: string }) => err.code,
    );
    // The entry is in the leader's log (proposed, not committed) before the leader goes away.
    await waitFor('the write to be proposed', () => leader.host.status(group)!.lastIndex > before);
    await cluster.kill(leader.id);
    expect(await settled).toBe('COMMIT_TIMEOUT');
  });
});
