import { afterEach, describe, expect, it } from 'vitest';
import { ConfChangeTransition, ConfChangeType, MessageType } from '../../src/raft/types.js';
import { waitFor } from '../broker/cluster-harness.js';
import { MeshCluster } from './host-mesh.js';

const GROUP = 3;

describe('RaftHost: a learner catching up within the move bandwidth while writes go on', () => {
  const c = new MeshCluster(GROUP, { learnerBandwidth: 100 * 1024 });
  let producer: NodeJS.Timeout | undefined;
  afterEach(async () => {
    clearInterval(producer);
    await c.close();
  });

  it('appends to the learner never overtake the ones the throttle holds', async () => {
    const leader = await c.startThree();
    // 100 KiB of history: about a second of catch-up at 100 KiB/s.
    const big = 'x'.repeat(10 * 1024);
    for (let i = 0; i < 10; i++) await leader.propose(GROUP, new TextEncoder().encode(`${i}${big}`));

    // Live writes go on throughout: each commit makes the leader append to every member, the
    // learner too, while earlier appends to it wait for the bucket.
    let written = 0;
    producer = setInterval(() => {
      leader.propose(GROUP, new TextEncoder().encode(`live ${written++}`)).catch(() => {});
    }, 5);
    c.start(4);
    await leader.proposeConfChange(GROUP, {
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }],
    });
    await waitFor('the learner to hold 100 live entries', () => c.values(4).length >= 110);
    clearInterval(producer);
    const total = await waitFor('the writes to settle', async () => {
      await leader.whenIdle();
      const n = c.values(1).length;
      return c.values(4).length === n && n;
    });
    expect(c.values(4)).toEqual(c.values(1).slice(0, total));

    // The learner refused only the leader's first append (its log was empty then): a later
    // refusal means an append overtook held ones, and the leader sent everything from the
    // learner's match again, behind the held copies.
    const refused = c.mesh.sent.filter((m) => m.type === MessageType.AppResp && m.from === 4 && m.reject);
    expect(refused).toHaveLength(1);
  });
});
