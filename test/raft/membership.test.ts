import { describe, expect, it } from 'vitest';
import { decodeConfChange } from '../../src/raft/confchange-codec.js';
import type { ConfState } from '../../src/raft/types.js';
import { ConfChangeTransition, EntryType, MessageType, Role } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import { addLearner, addVoter, confChange, removeNode } from './helpers/conf-change.js';
import { thrownCode } from './helpers/errors.js';
import { electionTraffic } from './helpers/messages.js';

const ELECTION = 10;

/** A membership with sorted lists, to compare regardless of order. */
function members(cs: ConfState) {
  const sorted = (ids: readonly number[]) => [...ids].sort((a, b) => a - b);
  return { voters: sorted(cs.voters), learners: sorted(cs.learners), outgoing: sorted(cs.votersOutgoing) };
}

/** A bootstrapped group of voters 1..3 led by node 1, plus empty nodes `extra` waiting to be added. */
function groupLedBy1(extra: readonly number[] = []): Cluster {
  const c = new Cluster({ voters: [1, 2, 3], bootstrapIndex: 5 });
  for (const id of extra) c.start(id);
  c.elect(1);
  return c;
}

describe('Raft §6 / thesis §4 membership changes', () => {
  it('thesis §4.2.1: learners get every entry (an empty one a snapshot first) but never vote and are not counted', () => {
    const c = groupLedBy1([4, 5]);
    for (const learner of [4, 5]) {
      c.node(1).proposeConfChange(confChange([addLearner(learner)]));
      c.stabilize();
    }
    expect(members(c.status(1).confState)).toEqual({ voters: [1, 2, 3], learners: [4, 5], outgoing: [] });
    expect(c.status(1).progress?.get(4)?.isLearner).toBe(true);
    expect(c.sentMatching({ to: 4, type: MessageType.Snap })).toHaveLength(1);
    expect(members(c.status(4).confState)).toEqual({ voters: [1, 2, 3], learners: [4, 5], outgoing: [] });

    c.propose(1, 'a');
    c.stabilize();
    expect(c.peer(4).sm.values()).toEqual(['a']);

    // Not counted: the leader and two learners are three of five nodes, but one of three voters.
    c.partition([1, 4, 5], [2, 3]);
    const commit = c.status(1).hardState.commit;
    c.propose(1, 'b');
    c.stabilize();
    expect(c.log(4).at(-1)?.index).toBe(commit + 1); // the learners stored it...
    expect(c.status(1).hardState.commit).toBe(commit); // ...but that commits nothing
    c.heal();
    c.runTicks(1);
    expect(c.peer(4).sm.values()).toEqual(['a', 'b']);

    // Never votes: it does not campaign however long it hears nothing, and is not asked.
    c.crash(1);
    c.tick(4, 10 * ELECTION);
    c.processReady(4);
    expect(c.status(4).role).toBe(Role.Follower);
    c.tickUntil(() => c.leader() !== undefined, 10 * ELECTION);
    expect(c.sentMatching((m) => electionTraffic(m) && [m.from, m.to].some((id) => id >= 4))).toEqual([]);
  });

  it('thesis §4.2.1: a promoted learner counts toward the majority and can lead', () => {
    const c = groupLedBy1([4]);
    c.node(1).proposeConfChange(confChange([addLearner(4)]));
    c.stabilize();
    c.node(1).proposeConfChange(confChange([addVoter(4)]));
    c.stabilize();
    expect(members(c.status(1).confState)).toEqual({ voters: [1, 2, 3, 4], learners: [], outgoing: [] });

    // Majority of 4 is 3: {1, 2} alone commit nothing, {1, 2, 4} do.
    c.partition([1, 2], [3], [4]);
    const commit = c.status(1).hardState.commit;
    c.propose(1, 'x');
    c.stabilize();
    expect(c.status(1).hardState.commit).toBe(commit);
    c.heal();
    c.partition([1, 2, 4], [3]);
    c.runTicks(1);
    expect(c.status(1).hardState.commit).toBe(commit + 1);

    c.heal();
    c.node(1).transferLeader(4);
    c.stabilize();
    expect(c.leader()).toBe(4);
  });

  it('§6 one server at a time: removing a voter shrinks the majority and stops its replication', () => {
    const c = groupLedBy1();
    c.node(1).proposeConfChange(confChange([removeNode(3)]));
    c.stabilize();
    expect(members(c.status(1).confState)).toEqual({ voters: [1, 2], learners: [], outgoing: [] });
    expect(c.status(1).progress?.has(3)).toBe(false);

    const since = c.sent.length;
    c.partition([1], [2, 3]);
    const commit = c.status(1).hardState.commit;
    c.propose(1, 'x');
    c.stabilize();
    expect(c.status(1).hardState.commit).toBe(commit); // 1 of {1, 2}
    c.heal();
    c.runTicks(1);
    expect(c.status(1).hardState.commit).toBe(commit + 1); // 3 is not needed
    expect(c.sent.slice(since).filter((m) => m.to === 3)).toEqual([]);
  });

  it('thesis §4.3 joint consensus: replacing several voters passes through a joint configuration, left automatically', () => {
    const c = groupLedBy1([4, 5]);
    c.node(1).proposeConfChange(confChange([addVoter(4), addVoter(5), removeNode(2), removeNode(3)]));
    c.stabilize();
    expect(c.peer(1).confStates.map(members)).toEqual([
      { voters: [1, 4, 5], learners: [], outgoing: [1, 2, 3] },
      { voters: [1, 4, 5], learners: [], outgoing: [] },
    ]);
    expect(c.peer(1).confStates[0]!.autoLeave).toBe(true);
    // The leave entry is an empty change the leader proposed by itself.
    const changes = c.log(1).filter((e) => e.type === EntryType.ConfChange);
    expect(changes).toHaveLength(2);
    expect(decodeConfChange(changes[1]!.data).changes).toEqual([]);
    for (const id of [4, 5])
      expect(c.peer(id).confStates.map(members)).toEqual(c.peer(1).confStates.map(members));

    c.partition([1, 4, 5], [2, 3]);
    c.propose(1, 'x');
    c.stabilize();
    expect(c.peer(4).sm.values()).toEqual(['x']);
  });

  it('thesis §4.3 joint consensus: while joint, an entry commits only with a majority of the old and of the new voters', () => {
    const c = groupLedBy1([4, 5]);
    const replace = [addVoter(4), addVoter(5), removeNode(2), removeNode(3)];
    c.node(1).proposeConfChange(confChange(replace, ConfChangeTransition.JointExplicit));
    c.stabilize();
    expect(members(c.status(1).confState)).toEqual({ voters: [1, 4, 5], learners: [], outgoing: [1, 2, 3] });

    for (const [cut, name] of [
      [[2, 3], 'old'],
      [[4, 5], 'new'],
    ] as const) {
      c.partition([1, ...[2, 3, 4, 5].filter((id) => !cut.includes(id as never))], [...cut]);
      const commit = c.status(1).hardState.commit;
      c.propose(1, `without ${name}`);
      c.stabilize();
      expect(c.status(1).hardState.commit, `committed without the ${name} majority`).toBe(commit);
      c.heal();
      c.runTicks(1);
      expect(c.status(1).hardState.commit).toBe(commit + 1);
    }

    c.node(1).proposeConfChange(confChange([]));
    c.stabilize();
    expect(members(c.status(1).confState)).toEqual({ voters: [1, 4, 5], learners: [], outgoing: [] });
    c.partition([1, 4, 5], [2, 3]);
    c.propose(1, 'new only');
    c.stabilize();
    expect(c.peer(1).sm.values().at(-1)).toBe('new only');
  });

  it('§6 / thesis §4.1: at most one membership change is pending; a second is refused until the first applies', () => {
    const c = groupLedBy1([4, 5]);
    c.node(1).proposeConfChange(confChange([addLearner(4)]));
    expect(thrownCode(() => c.node(1).proposeConfChange(confChange([addLearner(5)])))).toBe(
      'PROPOSAL_DROPPED',
    );
    c.stabilize();
    expect(members(c.status(1).confState).learners).toEqual([4]);
    c.node(1).proposeConfChange(confChange([addLearner(5)]));
    c.stabilize();
    expect(members(c.status(1).confState).learners).toEqual([4, 5]);
  });

  it('thesis §4.1 (the single-server fix): a new leader changes membership only after an entry of its term has committed', () => {
    const c = new Cluster({ voters: [1, 2, 3], bootstrapIndex: 5 });
    c.start(4);
    c.node(1).campaign();
    c.stabilize({ deliver: electionTraffic });
    expect(c.status(1).role).toBe(Role.Leader);
    expect(thrownCode(() => c.node(1).proposeConfChange(confChange([addLearner(4)])))).toBe(
      'PROPOSAL_DROPPED',
    );
    c.stabilize(); // the no-op of term 2 commits and applies
    c.node(1).proposeConfChange(confChange([addLearner(4)]));
    c.stabilize();
    expect(members(c.status(1).confState).learners).toEqual([4]);
  });

  it('thesis §4.2.2: a leader that removes itself keeps leading until the change commits, then steps down', () => {
    const c = groupLedBy1();
    c.node(1).proposeConfChange(confChange([removeNode(1)]));
    c.processReady(1);
    c.deliver({ to: 2 });
    c.processReady(2);
    c.deliver({ from: 2, to: 1 }); // committed by 1 and 2, under the old configuration
    expect(c.status(1).role).toBe(Role.Leader);
    c.processReady(1); // ...and applied
    expect(c.status(1).role).toBe(Role.Follower);
    expect(members(c.status(1).confState).voters).toEqual([2, 3]);

    c.tickUntil(() => c.leader() !== undefined, 10 * ELECTION);
    expect([2, 3]).toContain(c.leader());
    const since = c.sent.length;
    c.runTicks(5 * ELECTION);
    expect(c.status(1).role).toBe(Role.Follower);
    expect(c.sent.slice(since).filter((m) => m.from === 1)).toEqual([]); // it never campaigns
  });
});
