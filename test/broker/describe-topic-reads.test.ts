import { afterEach, describe, expect, it } from 'vitest';
import { InProcessCluster } from './cluster-harness.js';

describe('describing a topic', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('on a follower, reports a high watermark that counts every record acknowledged before', async () => {
    cluster = await InProcessCluster.start(3);
    await (await cluster.metadataLeader()).createTopic({ name: 'acks', partitions: 1, replicationFactor: 3 });
    const leader = await cluster.partitionLeader('acks', 0);
    const followers = cluster.ids.filter((id) => id !== leader.id).map((id) => cluster!.broker(id));
    // A follower learns a commit index from the leader's next message, which may come a heartbeat
    // after the acknowledgement: describing right after each one catches a stale local view.
    for (let i = 0; i < 20; i++) {
      const { lastOffset } = await leader.produce('acks', 0, [{ value: new Uint8Array([i]) }]);
      for (const f of followers) {
        const [p] = (await f.describeTopic('acks')).partitions;
        expect(p?.leader, `broker ${f.id} after record ${i}`).toBe(leader.id);
        expect(p?.highWatermark, `broker ${f.id} after record ${i}`).toBeGreaterThan(lastOffset);
      }
    }
  }, 30_000);
});
