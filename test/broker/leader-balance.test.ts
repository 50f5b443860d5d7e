import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessCluster, waitFor } from './cluster-harness.js';

const PARTITIONS = 6;

describe('leader balance: leadership goes back to the preferred replica (issue 4)', () => {
  let cluster: InProcessCluster;
  beforeAll(async () => {
    cluster = await InProcessCluster.start(3);
    const meta = await cluster.metadataLeader();
    await meta.createTopic({ name: 'balanced', partitions: PARTITIONS, replicationFactor: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Broker id → partitions it leads, as broker 1 sees them. */
  async function leadership(): Promise<Map<number, number>> {
    const d = await cluster.broker(1).describeTopic('balanced');
    const counts = new Map<number, number>();
    for (const p of d.partitions)
      if (p.leader !== null) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
    return counts;
  }

  it('after a broker comes back, the partitions it is preferred for are led by it again', async () => {
    const d = await cluster.broker(1).describeTopic('balanced');
    const preferredBy2 = d.partitions.filter((p) => p.replicas[0] === 2).map((p) => p.partition);
    expect(preferredBy2.length).toBe(PARTITIONS / 3);
    await cluster.kill(2);
    await waitFor(
      'broker 2 to lead nothing',
      async () => !(await leadership()).has(2) && (await leadership()).size > 0,
    );
    await cluster.restart(2);
    await waitFor(
      'every partition led by its preferred replica',
      async () => {
        const now = await cluster.broker(1).describeTopic('balanced');
        return now.partitions.every((p) => p.leader === p.replicas[0]);
      },
      20_000,
    );
    expect(await leadership()).toEqual(
      new Map([
        [1, 2],
        [2, 2],
        [3, 2],
      ]),
    );
  });
});
