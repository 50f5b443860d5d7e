import { describe, expect, it } from 'vitest';
import { MessageType, Role } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import { msg } from './helpers/messages.js';

const ELECTION = 10;
const vote = (from: number, term: number) => msg({ type: MessageType.Vote, from, to: 1, term });

describe('Raft Figure 2 persistent state across restarts', () => {
  it('Figure 2: currentTerm and votedFor survive a restart, so a server never votes twice in a term', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1], settings: { preVote: false } });
    c.inject(vote(2, 5));
    c.processReady(1);
    c.crash(1);
    c.restart(1);
    expect(c.status(1)).toMatchObject({ role: Role.Follower, hardState: { term: 5, vote: 2 } });

    c.inject(vote(3, 5));
    expect(c.processReady(1)?.messages).toEqual([
      expect.objectContaining({ type: MessageType.VoteResp, to: 3, reject: true }),
    ]);
    c.inject(vote(2, 5));
    expect(c.processReady(1)?.messages).toEqual([
      expect.objectContaining({ type: MessageType.VoteResp, to: 2, reject: false }),
    ]);
  });

  it('Figure 2: a vote lost in a crash before it was persisted was never sent either', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1], settings: { preVote: false } });
    c.inject(vote(2, 5));
    c.crash(1); // before its Ready was handled
    c.restart(1);
    expect(c.sent).toEqual([]);
    expect(c.status(1).hardState).toEqual({ term: 0, vote: 0, commit: 0 });
    c.inject(vote(3, 5));
    expect(c.processReady(1)?.messages).toEqual([
      expect.objectContaining({ type: MessageType.VoteResp, to: 3, reject: false }),
    ]);
  });

  it('Figure 2: a cluster restarted from its stores keeps every committed entry and goes on', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'a');
    c.propose(1, 'b');
    c.stabilize();
    for (const id of [1, 2, 3]) c.compact(id);
    c.propose(1, 'c');
    c.stabilize();
    c.runTicks(1);
    const term = c.status(1).hardState.term;

    for (const id of [1, 2, 3]) c.crash(id);
    for (const id of [1, 2, 3]) c.restart(id);
    for (const id of [1, 2, 3]) {
      expect(c.status(id).role).toBe(Role.Follower);
      c.processReady(id); // re-applies the committed entries after the snapshot
      expect(c.peer(id).sm.values()).toEqual(['a', 'b', 'c']);
    }

    c.tickUntil(() => c.leader() !== undefined, 10 * ELECTION);
    const leader = c.leader()!;
    expect(c.status(leader).hardState.term).toBeGreaterThan(term);
    c.propose(leader, 'd');
    c.stabilize();
    for (const id of [1, 2, 3]) expect(c.peer(id).sm.values()).toEqual(['a', 'b', 'c', 'd']);
  });
});
