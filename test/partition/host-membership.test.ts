import { afterEach, describe, expect, it } from 'vitest';
import { ConfChangeTransition, ConfChangeType, Role } from '../../src/raft/types.js';
import { waitFor } from '../broker/cluster-harness.js';
import { MeshCluster } from './host-mesh.js';

const GROUP = 7;
describe('RaftHost: a replica added after the group was created (Raft §6, thesis §4.2.1)', () => {
  const c = new MeshCluster(GROUP);
  afterEach(() => c.close());

  it('learns the initial membership from the bootstrap snapshot, not from an empty configuration', async () => {
    const leader = await c.startThree();
    for (const v of ['a', 'b', 'c']) await leader.propose(GROUP, new TextEncoder().encode(v));

    // Broker 4 hosts the group with no membership of its own: it must wait for the leader.
    const joiner = c.start(4);
    expect(joiner.status(GROUP)?.confState.voters).toEqual([]);
    await leader.proposeConfChange(GROUP, {
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }],
    });
    await waitFor('the learner to catch up', () => c.values(4).length === 3);
    const cs = await leader.proposeConfChange(GROUP, {
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddVoter, nodeId: 4 }],
    });
    expect(cs.voters).toEqual([1, 2, 3, 4]);
    await leader.propose(GROUP, new TextEncoder().encode('d'));
    await waitFor('the new voter to apply every entry', () => c.values(4).length === 4);

    // Before the bootstrap snapshot, broker 4 replayed the conf changes onto an empty membership,
    // believed itself the only voter and elected itself: a second leader.
    expect(joiner.status(GROUP)?.confState.voters).toEqual([1, 2, 3, 4]);
    expect(c.values(4)).toEqual(['a', 'b', 'c', 'd']);
    const leaders = c.hosts.filter((h) => h.groupState(GROUP)?.role === Role.Leader);
    expect(leaders).toEqual([leader]);
  });
});
