import { describe, expect, it } from 'vitest';
import { EntryType, MessageType, NONE, Role } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import { thrownCode } from './helpers/errors.js';
import { entriesWithTerms } from './helpers/log-state.js';
import { msg } from './helpers/messages.js';

const ELECTION = 10;

/** Ticks node `id` alone until it leaves the follower role; returns the ticks it took. */
function ticksUntilCampaign(c: Cluster, id: number): number {
  for (let ticks = 1; ticks <= 4 * ELECTION; ticks++) {
    c.tick(id);
    if (c.status(id).role !== Role.Follower) return ticks;
  }
  throw new Error(`node ${id} never campaigned`);
}

describe('Raft §5.2 leader election', () => {
  it('§5.2: servers start up as followers, in term 0, knowing no leader', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    for (const id of [1, 2, 3]) {
      const s = c.status(id);
      expect(s.role).toBe(Role.Follower);
      expect(s.hardState).toEqual({ term: 0, vote: NONE, commit: 0 });
      expect(s.leader).toBe(NONE);
    }
  });

  it('§5.2: a follower that hears from no leader starts an election after a randomized timeout in [electionTick, 2·electionTick)', () => {
    const timeouts = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const c = new Cluster({ voters: [1, 2, 3], start: [1], seed, settings: { preVote: false } });
      const ticks = ticksUntilCampaign(c, 1);
      expect(ticks).toBeGreaterThanOrEqual(ELECTION);
      expect(ticks).toBeLessThan(2 * ELECTION);
      timeouts.add(ticks);
    }
    // Randomized: not every node picks the same timeout (40 draws from 10 values).
    expect(timeouts.size).toBeGreaterThan(3);
  });

  it('§5.2: a candidate increments its term, votes for itself (persisted first) and asks every other server', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1], settings: { preVote: false } });
    ticksUntilCampaign(c, 1);
    const rd = c.processReady(1)!;
    expect(c.status(1).role).toBe(Role.Candidate);
    expect(rd.hardState).toMatchObject({ term: 1, vote: 1 });
    expect(rd.mustSync).toBe(true);
    const votes = rd.messages.filter((m) => m.type === MessageType.Vote);
    expect(votes.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const v of votes) expect(v).toMatchObject({ term: 1, logTerm: 0, index: 0 });
  });

  it('§5.2: a candidate that wins a majority becomes leader and appends a no-op entry of its term (§8)', () => {
    const c = new Cluster({ voters: [1, 2, 3, 4, 5], start: [1], settings: { preVote: false } });
    c.node(1).campaign();
    c.processReady(1);
    c.inject(msg({ type: MessageType.VoteResp, from: 2, to: 1, term: 1 }));
    expect(c.status(1).role).toBe(Role.Candidate); // 2 of 5 is no majority
    c.inject(msg({ type: MessageType.VoteResp, from: 3, to: 1, term: 1, reject: true }));
    expect(c.status(1).role).toBe(Role.Candidate);
    c.inject(msg({ type: MessageType.VoteResp, from: 4, to: 1, term: 1 }));
    expect(c.status(1).role).toBe(Role.Leader);
    expect(c.status(1).leader).toBe(1);

    const rd = c.processReady(1)!;
    expect(rd.entries).toHaveLength(1);
    expect(rd.entries[0]).toMatchObject({ index: 1, term: 1, type: EntryType.Normal });
    expect(rd.entries[0]!.data).toHaveLength(0);
    const appends = rd.messages.filter((m) => m.type === MessageType.App);
    expect(appends.map((m) => m.to).sort()).toEqual([2, 3, 4, 5]);
  });

  it('§5.2: a candidate that hears from a leader of its own term returns to follower', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1], settings: { preVote: false } });
    c.node(1).campaign();
    c.processReady(1);
    c.inject(msg({ type: MessageType.App, from: 2, to: 1, term: 1 }));
    expect(c.status(1)).toMatchObject({ role: Role.Follower, leader: 2, hardState: { term: 1 } });
  });

  it('§5.1: a candidate or leader that sees a higher term reverts to follower and adopts the term', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1], settings: { preVote: false } });
    c.node(1).campaign();
    c.inject(msg({ type: MessageType.VoteResp, from: 2, to: 1, term: 5, reject: true }));
    expect(c.status(1)).toMatchObject({ role: Role.Follower, hardState: { term: 5 } });

    const d = new Cluster({ voters: [1, 2, 3], settings: { preVote: false } });
    d.elect(1);
    d.inject(msg({ type: MessageType.Heartbeat, from: 3, to: 1, term: 4 }));
    expect(d.status(1)).toMatchObject({ role: Role.Follower, leader: 3, hardState: { term: 4 } });
  });

  it('§5.1: an append from a stale term is not accepted', () => {
    const c = new Cluster({ voters: [1, 2, 3], settings: { preVote: false, checkQuorum: false } });
    c.elect(1);
    c.elect(2);
    const before = c.status(1);
    expect(before).toMatchObject({ role: Role.Follower, leader: 2, hardState: { term: 2 } });
    const log = c.log(1);
    // Term 1's leader, unaware of term 2, would overwrite index 2 (term 2's no-op) if obeyed.
    c.inject(
      msg({
        type: MessageType.App,
        from: 3,
        to: 1,
        term: 1,
        logTerm: 1,
        index: 1,
        entries: entriesWithTerms([1], 2),
      }),
    );
    c.processReady(1);
    expect(c.status(1)).toMatchObject({ role: Role.Follower, leader: 2, hardState: before.hardState });
    expect(c.log(1)).toEqual(log);
  });

  it('§5.2: when a vote splits, the candidate times out and starts a new election in a higher term', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1], settings: { preVote: false } });
    c.node(1).campaign();
    c.processReady(1);
    // Nobody answers: within one more randomized timeout the candidate tries again.
    for (let ticks = 0; c.status(1).hardState.term === 1; ticks++) {
      expect(ticks).toBeLessThan(2 * ELECTION);
      c.tick(1);
    }
    expect(c.status(1)).toMatchObject({ role: Role.Candidate, hardState: { term: 2, vote: 1 } });
    const rd = c.processReady(1)!;
    expect(rd.messages.filter((m) => m.type === MessageType.Vote && m.term === 2)).toHaveLength(2);
  });

  it('§5.2: each server votes for at most one candidate in a term, first come first served, and persists its vote before answering', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1], settings: { preVote: false } });
    c.inject(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
    const granted = c.processReady(1)!;
    expect(granted.hardState).toMatchObject({ term: 1, vote: 2 });
    expect(granted.mustSync).toBe(true);
    expect(granted.messages).toEqual([
      expect.objectContaining({ type: MessageType.VoteResp, to: 2, reject: false }),
    ]);

    c.inject(msg({ type: MessageType.Vote, from: 3, to: 1, term: 1 }));
    expect(c.processReady(1)!.messages).toEqual([
      expect.objectContaining({ type: MessageType.VoteResp, to: 3, term: 1, reject: true }),
    ]);
    // The same candidate asking again (its request was duplicated) gets the same answer.
    c.inject(msg({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
    expect(c.processReady(1)!.messages).toEqual([
      expect.objectContaining({ type: MessageType.VoteResp, to: 2, reject: false }),
    ]);
    expect(c.status(1).hardState.vote).toBe(2);
  });
});

describe('Raft thesis §9.6 PreVote', () => {
  it('§9.6: a pre-candidate asks for pre-votes for the next term without changing its own term or vote', () => {
    const c = new Cluster({ voters: [1, 2, 3], start: [1] });
    ticksUntilCampaign(c, 1);
    expect(c.status(1)).toMatchObject({ role: Role.PreCandidate, hardState: { term: 0, vote: NONE } });
    const rd = c.processReady(1)!;
    const preVotes = rd.messages.filter((m) => m.type === MessageType.PreVote);
    expect(preVotes.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of preVotes) expect(m.term).toBe(1);
    expect(rd.hardState?.term ?? 0).toBe(0);

    // A majority of pre-votes starts the real election.
    c.inject(msg({ type: MessageType.PreVoteResp, from: 2, to: 1, term: 1 }));
    expect(c.status(1)).toMatchObject({ role: Role.Candidate, hardState: { term: 1, vote: 1 } });
    expect(c.processReady(1)!.messages.filter((m) => m.type === MessageType.Vote)).toHaveLength(2);
  });

  it('§9.6: a partitioned server does not raise its term, and does not disrupt the leader when it rejoins', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(3);
    c.runTicks(10 * ELECTION);
    expect(c.status(3).hardState.term).toBe(1);
    expect(c.sentMatching({ from: 3, type: MessageType.PreVote }).length).toBeGreaterThan(0);

    c.heal();
    c.runTicks(2 * ELECTION);
    for (const id of [1, 2, 3]) expect(c.status(id)).toMatchObject({ leader: 1, hardState: { term: 1 } });
    expect(c.status(1).role).toBe(Role.Leader);
  });

  it('§9.6 (contrast): without PreVote the rejoining server forces the leader out with its higher term', () => {
    const c = new Cluster({ voters: [1, 2, 3], settings: { preVote: false, checkQuorum: false } });
    c.elect(1);
    c.isolate(3);
    c.runTicks(10 * ELECTION);
    expect(c.status(3).hardState.term).toBeGreaterThan(1);
    c.heal();
    c.runTicks(2 * ELECTION);
    expect(c.status(1).hardState.term).toBeGreaterThan(1);
  });
});

describe('Raft thesis §6.2 CheckQuorum and the leader lease', () => {
  it('§6.2: a leader cut off from the majority steps down within two election timeouts (it checks once per timeout)', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.runTicks(5 * ELECTION);
    expect(c.status(1).role).toBe(Role.Leader); // a leader that hears from its followers stays

    c.isolate(1);
    // The check runs once per election timeout: the first may still see activity from before the
    // cut, the next cannot.
    const ticks = c.tickUntil(() => c.status(1).role !== Role.Leader, 2 * ELECTION);
    expect(ticks).toBeLessThanOrEqual(2 * ELECTION);
    expect(c.status(1)).toMatchObject({ role: Role.Follower, leader: NONE });
    expect(thrownCode(() => c.propose(1, 'x'))).toBe('PROPOSAL_DROPPED');
    // Meanwhile the majority elects a new leader.
    c.tickUntil(() => c.leader() === 2 || c.leader() === 3, 4 * ELECTION);
  });

  it('§6.2 (contrast): without CheckQuorum a leader cut off from the majority stays leader', () => {
    const c = new Cluster({ voters: [1, 2, 3], settings: { checkQuorum: false } });
    c.elect(1);
    c.isolate(1);
    c.runTicks(5 * ELECTION);
    expect(c.status(1).role).toBe(Role.Leader);
  });

  it('§6.2: a follower that heard from its leader within the election timeout ignores vote requests (lease)', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.inject(msg({ type: MessageType.Vote, from: 3, to: 2, term: 5, logTerm: 1, index: 1 }));
    c.processReady(2);
    expect(c.status(2)).toMatchObject({ leader: 1, hardState: { term: 1, vote: 1 } });
    expect(c.pending.filter((m) => m.type === MessageType.VoteResp && !m.reject)).toEqual([]);
  });

  it('§6.2 (contrast): without CheckQuorum the same vote request is granted', () => {
    const c = new Cluster({ voters: [1, 2, 3], settings: { checkQuorum: false } });
    c.elect(1);
    c.inject(msg({ type: MessageType.Vote, from: 3, to: 2, term: 5, logTerm: 1, index: 1 }));
    c.processReady(2);
    expect(c.status(2).hardState).toMatchObject({ term: 5, vote: 3 });
  });
});
