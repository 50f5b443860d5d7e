import { afterEach, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import { InProcessCluster } from './cluster-harness.js';

describe('topic lookups are linearizable', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('a broker that cannot confirm the metadata answers NO_LEADER for a topic it does not know, never TOPIC_NOT_FOUND', async () => {
    cluster = await InProcessCluster.start(3);
    const leader = await cluster.metadataLeader();
    await leader.createTopic({ name: 'known', partitions: 1, replicationFactor: 3 });
    const alone = cluster.ids.find((id) => id !== leader.id)!;
    // Learnt while the quorum is up (a follower may learn a commit index a moment after the leader).
    await cluster.broker(alone).describeTopic('known');
    for (const id of cluster.ids) if (id !== alone) await cluster.kill(id);
    const b = cluster.broker(alone);
    // Created elsewhere or not, this broker cannot tell without a quorum of the metadata group.
    const err = await b.produce('unknown', 0, [{ value: new Uint8Array([1]) }]).catch((e: unknown) => e);
    expect(isErrorCode(err, 'NO_LEADER'), String(err)).toBe(true);
    const described = await b.describeTopic('unknown').catch((e: unknown) => e);
    expect(isErrorCode(described, 'NO_LEADER'), String(described)).toBe(true);
    // What it does know it may still describe (from its own, possibly stale, view).
    expect((await b.describeTopic('known')).name).toBe('known');
  }, 30_000);
});
