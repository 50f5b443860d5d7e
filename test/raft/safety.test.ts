import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.js';
import { MessageType, Role } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import type { LogState } from './helpers/log-state.js';
import { entriesWithTerms, membership } from './helpers/log-state.js';
import { msg } from './helpers/messages.js';

describe('Raft §5.4.1 election restriction', () => {
  // The voter's log: terms 1, 1, 2 at indexes 1..3, current term 2.
  const voter: LogState = {
    entries: entriesWithTerms([1, 1, 2]),
    hardState: { term: 2, vote: 0, commit: 0 },
    confState: membership([1, 2, 3]),
  };
  const cases = [
    { lastTerm: 1, lastIndex: 3, granted: false, why: 'older last term' },
    { lastTerm: 1, lastIndex: 5, granted: false, why: 'older last term, longer log' },
    { lastTerm: 2, lastIndex: 2, granted: false, why: 'same last term, shorter log' },
    { lastTerm: 2, lastIndex: 3, granted: true, why: 'same log' },
    { lastTerm: 2, lastIndex: 4, granted: true, why: 'same last term, longer log' },
    { lastTerm: 3, lastIndex: 1, granted: true, why: 'newer last term, shorter log' },
  ];

  for (const { lastTerm, lastIndex, granted, why } of cases) {
    it(`§5.4.1: a voter ${granted ? 'grants' : 'refuses'} its vote and pre-vote to a candidate with last entry ${lastTerm}/${lastIndex} (${why})`, () => {
      for (const [request, response] of [
        [MessageType.Vote, MessageType.VoteResp],
        [MessageType.PreVote, MessageType.PreVoteResp],
      ] as const) {
        const c = new Cluster({ voters: [1, 2, 3], start: [1], logs: { 1: voter } });
        c.inject(msg({ type: request, from: 2, to: 1, term: 3, logTerm: lastTerm, index: lastIndex }));
        const rd = c.processReady(1)!;
        expect(rd.messages).toEqual([expect.objectContaining({ type: response, to: 2, reject: !granted })]);
        if (request === MessageType.PreVote) expect(c.status(1).hardState).toEqual(voter.hardState);
      }
    });
  }

  it('§5.4.1: a server that lacks a committed entry cannot be elected; one that has it can', () => {
    const c = new Cluster({ voters: [1, 2, 3], settings: { preVote: false, checkQuorum: false } });
    c.elect(1);
    c.propose(1, 'x');
    c.processReady(1);
    c.deliver({ to: 2 });
    c.processReady(2);
    c.deliver({ from: 2, to: 1 });
    expect(c.status(1).hardState.commit).toBe(2); // 'x' is committed on 1 and 2
    c.drop({ to: 3 }); // 3 never stores it
    c.crash(1);

    c.node(3).campaign();
    c.stabilize();
    expect(c.status(3).role).toBe(Role.Candidate);
    expect(c.sentMatching({ from: 2, to: 3, type: MessageType.VoteResp })).toEqual([
      expect.objectContaining({ reject: true }),
    ]);

    c.elect(2);
    c.runTicks(1);
    for (const id of [2, 3]) expect(c.peer(id).sm.values()).toEqual(['x']);
  });
});

describe('Raft §5.4.2 committing entries from previous terms (Figure 8)', () => {
  // Figure 8 (c): S1, leader of term 4, holds index 2 from term 2; S5 holds a different index 2
  // from term 3. Every server holds index 1 (term 1), committed. Entry data is larger than
  // maxSizePerMsg so that each append carries one entry and index 2 can travel without index 3.
  const voters = [1, 2, 3, 4, 5];
  const state = (terms: number[]): LogState => ({
    entries: entriesWithTerms(terms),
    hardState: { term: 3, vote: 0, commit: 1 },
    confState: membership(voters),
  });
  const figure8 = () =>
    new Cluster({
      voters,
      logs: { 1: state([1, 2]), 2: state([1]), 3: state([1]), 4: state([1]), 5: state([1, 3]) },
      settings: { maxSizePerMsg: 1, preVote: false, checkQuorum: false },
    });

  /** Holds back every append that would hand a follower S1's term-4 entry. */
  function withoutTerm4Entry(c: Cluster): (m: Message) => boolean {
    return (m) =>
      m.type !== MessageType.App ||
      !m.entries.some((e) => e.term === 4) ||
      c.status(m.to).lastIndex < m.index;
  }

  /** Figure 8 (a)–(c): S5 is down and S4 cut off; S1 wins term 4 and copies index 2 to S2 and S3. */
  function toFigure8c(): Cluster {
    const c = figure8();
    c.crash(5);
    c.isolate(4);
    c.node(1).campaign();
    c.stabilize({ deliver: withoutTerm4Entry(c) });
    expect(c.status(1)).toMatchObject({ role: Role.Leader, hardState: { term: 4 } });
    for (const id of [1, 2, 3])
      expect(
        c
          .log(id)
          .map((e) => e.term)
          .slice(0, 2),
      ).toEqual([1, 2]);
    expect(c.status(1).progress?.get(2)?.match).toBe(2);
    expect(c.status(1).progress?.get(3)?.match).toBe(2);
    return c;
  }

  it('Figure 8 (c)→(d): an entry of an earlier term stored on a majority is not committed, and may yet be overwritten', () => {
    const c = toFigure8c();
    // Index 2 is on S1, S2 and S3, a majority, and the leader knows it; but it is of term 2.
    expect(c.status(1).hardState.commit).toBe(1);

    // (d): S1 crashes; S5 is elected with votes from S2, S3 and S4 and overwrites index 2.
    c.crash(1);
    c.drop({ from: 1 }); // S1's appends of its term-4 entry are lost with it
    c.restart(5);
    c.heal();
    // S5 remembers term 3: its first try, in term 4, meets S2 and S3 who voted for S1 in term 4.
    c.node(5).campaign();
    c.stabilize();
    c.elect(5);
    expect(c.status(5).hardState.term).toBe(5);
    c.runTicks(1);
    for (const id of [2, 3, 4, 5]) {
      expect(c.log(id)[1]!.term).toBe(3);
      expect(c.peer(id).sm.values()).toEqual(['1/1', '3/2']);
    }
    c.restart(1);
    c.runTicks(1);
    expect(c.log(1)).toEqual(c.log(5));
  });

  it('Figure 8 (c)→(e): once an entry of the current term is committed on a majority, the earlier entry is committed with it', () => {
    const c = toFigure8c();
    c.deliver({ to: 2 });
    c.deliver({ to: 3 });
    c.stabilize({ nodes: [1, 2, 3] });
    expect(c.status(1).hardState.commit).toBe(3);
    expect(c.peer(1).sm.values()).toEqual(['1/1', '2/2']);

    // (e): S5 can no longer win an election: S1, S2 and S3 hold a newer last term.
    c.crash(1);
    c.restart(5);
    c.heal();
    c.node(5).campaign();
    c.stabilize();
    expect(c.status(5).role).not.toBe(Role.Leader);
    c.tickUntil(() => c.leader() !== undefined, 10 * 10);
    expect([2, 3]).toContain(c.leader());
    c.runTicks(1);
    for (const id of [2, 3, 4, 5]) expect(c.peer(id).sm.values()).toEqual(['1/1', '2/2']);
  });
});
