import { describe, expect, it, vi } from 'vitest';
import { ProgressState } from '../../src/raft/rawnode.js';
import type { Message } from '../../src/raft/types.js';
import { MessageType, Role } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import type { LogState } from './helpers/log-state.js';
import { entriesWithTerms, GROUP, membership } from './helpers/log-state.js';
import { electionTraffic, entryBytes } from './helpers/messages.js';

const appendsTo = (to: number) => (m: Message) => m.type === MessageType.App && m.to === to;
const rejectionsFrom = (from: number) => (m: Message) =>
  m.type === MessageType.AppResp && m.from === from && m.reject;

/** A node's persisted log whose entries have the given terms, at the term of its last entry. */
function logWithTerms(
  terms: readonly number[],
  voters: readonly number[],
  term = terms.at(-1) ?? 0,
): LogState {
  return {
    entries: entriesWithTerms(terms),
    hardState: { term, vote: 0, commit: 0 },
    confState: membership(voters),
  };
}

/** The terms of a node's log, first to last: how the paper draws logs. */
function termsOf(c: Cluster, id: number): number[] {
  return c.log(id).map((e) => e.term);
}

describe('Raft §5.3 log replication', () => {
  it('§5.3: the leader appends a proposal, sends it to every follower, and commits it once a majority stored it', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'x');
    const rd = c.processReady(1)!;
    expect(rd.entries).toEqual([expect.objectContaining({ index: 2, term: 1 })]);
    expect(
      rd.messages
        .filter((m) => m.type === MessageType.App)
        .map((m) => m.to)
        .sort(),
    ).toEqual([2, 3]);
    expect(c.status(1).hardState.commit).toBe(1); // only its own copy so far

    c.deliver({ to: 2 });
    c.processReady(2);
    c.deliver({ from: 2, to: 1 });
    expect(c.status(1).hardState.commit).toBe(2); // leader + node 2: a majority of 3
    c.drop({ to: 3 });

    c.stabilize();
    c.runTicks(1); // the next heartbeat brings node 3 along
    for (const id of [1, 2, 3]) expect(c.peer(id).sm.values()).toEqual(['x']);
  });

  it('§5.3: every server applies the same commands in the same order, including those proposed on followers', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'a');
    c.propose(2, 'b'); // forwarded to the leader
    c.stabilize();
    c.propose(3, 'c');
    c.propose(1, 'd');
    c.stabilize();
    const order = c.peer(1).sm.values();
    expect([...order].sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const id of [2, 3]) expect(c.peer(id).sm.values()).toEqual(order);
  });

  it('§5.3 Figure 7: a leader for term 8 brings each follower log (a)–(f) to its own', () => {
    // Figure 7: the terms of each server's entries at indexes 1..12.
    const voters = [1, 2, 3, 4, 5, 6, 7];
    const leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<string, number[]> = {
      a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
      b: [1, 1, 1, 4],
      c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      e: [1, 1, 1, 4, 4, 4, 4],
      f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    };
    const ids = Object.keys(followers).map((_, i) => i + 2);
    const logs: Record<number, LogState> = { 1: logWithTerms(leader, voters, 7) };
    for (const [i, terms] of Object.values(followers).entries()) logs[i + 2] = logWithTerms(terms, voters);
    const c = new Cluster({ voters, logs });

    c.elect(1); // (c) and (d) refuse their votes (§5.4.1); a, b, e and f make a majority
    expect(c.status(1).hardState.term).toBe(8);
    const final = [...leader, 8]; // and the leader's no-op of term 8
    expect(termsOf(c, 1)).toEqual(final);
    for (const id of ids) {
      expect(c.log(id), `follower (${'abcdef'[id - 2]})`).toEqual(c.log(1));
      expect(c.status(id).hardState.commit).toBe(final.length);
      // Fast backtracking: at most one rejection each where one per entry would take up to 7.
      expect(c.sentMatching(rejectionsFrom(id)).length).toBeLessThanOrEqual(1);
    }
  });

  it('§5.3 fast backtracking: a follower with 1,000 conflicting entries is repaired in a few round trips, not 1,000', () => {
    const common = Array<number>(10).fill(1);
    const leaderLog = logWithTerms([...common, ...Array<number>(1000).fill(3)], [1, 2, 3]);
    const c = new Cluster({
      voters: [1, 2, 3],
      logs: {
        1: leaderLog,
        2: logWithTerms([...common, ...Array<number>(1000).fill(2)], [1, 2, 3]),
        3: leaderLog,
      },
    });
    c.elect(1);
    c.stabilize();
    expect(c.log(2)).toEqual(c.log(1));
    expect(c.sentMatching(rejectionsFrom(2)).length).toBeLessThanOrEqual(2);
    expect(c.sentMatching(appendsTo(2)).length).toBeLessThanOrEqual(4);
  });

  it('§5.3 fast backtracking: a follower missing 1,000 entries is found in one round trip', () => {
    const common = Array<number>(10).fill(1);
    const leaderLog = logWithTerms([...common, ...Array<number>(1000).fill(3)], [1, 2, 3]);
    const c = new Cluster({
      voters: [1, 2, 3],
      logs: { 1: leaderLog, 2: logWithTerms(common, [1, 2, 3]), 3: leaderLog },
    });
    c.elect(1);
    expect(c.log(2)).toEqual(c.log(1));
    expect(c.sentMatching(rejectionsFrom(2)).length).toBeLessThanOrEqual(1);
  });
});

describe('Raft thesis §10.2 pipelining and flow control', () => {
  it('§10.2: in replicate state the leader pipelines appends without waiting for acknowledgements', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    expect(c.status(1).progress?.get(2)?.state).toBe(ProgressState.Replicate);
    for (const data of ['a', 'b', 'c', 'd', 'e']) {
      c.propose(1, data);
      c.processReady(1);
    }
    const inFlight = c.pending.filter(appendsTo(2));
    expect(inFlight).toHaveLength(5);
    expect(inFlight.map((m) => m.index)).toEqual([1, 2, 3, 4, 5]); // each follows the one before
    c.stabilize();
    expect(c.peer(2).sm.values()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('§10.2 flow control: no more than maxInflightMsgs appends are in flight to one follower', () => {
    const c = new Cluster({ voters: [1, 2, 3], settings: { maxInflightMsgs: 3 } });
    c.elect(1);
    for (let i = 0; i < 10; i++) {
      c.propose(1, `p${i}`);
      c.processReady(1);
    }
    expect(c.pending.filter(appendsTo(2))).toHaveLength(3);
    // Acknowledgements open the window again; it never holds more than 3.
    for (let round = 0; round < 20 && c.pending.length > 0; round++) {
      c.stabilize({ nodes: [2, 3] });
      c.stabilize({ nodes: [1] });
      expect(c.pending.filter(appendsTo(2)).length).toBeLessThanOrEqual(3);
    }
    expect(c.status(1).hardState.commit).toBe(11);
    c.stabilize();
    expect(c.peer(2).sm.values()).toHaveLength(10);
  });

  it('§10.2 flow control: a heartbeat answer over a full window brings an empty append, no entries past the limits', () => {
    const c = new Cluster({ voters: [1, 2, 3], settings: { maxInflightMsgs: 2 } });
    c.elect(1);
    for (let i = 0; i < 5; i++) {
      c.propose(1, `p${i}`);
      c.processReady(1);
    }
    const window = c.pending.filter(appendsTo(2));
    expect(window).toHaveLength(2);
    // The appends are slow on the way (held by a bandwidth limit); the heartbeats are not.
    c.tick(1, 1);
    c.processReady(1);
    c.deliver((m) => m.type === MessageType.Heartbeat && m.to === 2);
    c.processReady(2);
    c.deliver((m) => m.type === MessageType.HeartbeatResp && m.from === 2);
    c.processReady(1);
    const after = c.pending.filter(appendsTo(2));
    expect(after.slice(0, 2)).toEqual(window);
    // The probe asks whether the window arrived: it follows the window's last entry, and carries none.
    const lastSent = window[1]!.index + window[1]!.entries.length;
    expect(after.slice(2)).toEqual([expect.objectContaining({ index: lastSent, entries: [] })]);
    c.stabilize();
    expect(c.sentMatching(rejectionsFrom(2))).toEqual([]);
    expect(c.peer(2).sm.values()).toHaveLength(5);
  });

  it('§10.2: appends that waited for entries the storage was loading go out as soon as it has them', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.crash(3);
    for (const data of ['a', 'b', 'c']) c.propose(1, data);
    c.stabilize();
    c.restart(3);
    // Stable entries are on disk and not in memory: the storage answers undefined and loads them.
    const log = Object.getPrototypeOf(c.peer(1).store.group(GROUP)) as {
      entries(lo: number, hi: number, maxBytes: number): unknown;
    };
    const read = log.entries;
    let loading = true;
    const entries = vi.spyOn(log, 'entries').mockImplementation(function (this: unknown, lo, hi, maxBytes) {
      return loading ? undefined : read.call(this, lo, hi, maxBytes);
    });
    try {
      // A heartbeat round finds node 3 behind; the leader has nothing in memory to send it.
      c.tick(1);
      c.stabilize();
      expect(c.peer(3).sm.values()).toEqual([]);
      loading = false;
      c.node(1).entriesLoaded();
      c.stabilize();
      expect(c.peer(3).sm.values()).toEqual(['a', 'b', 'c']);
    } finally {
      entries.mockRestore();
    }
  });

  it('§10.2 flow control: sending stops once the entry bytes in flight to a follower reach maxInflightBytes', () => {
    const limit = 1000;
    const c = new Cluster({ voters: [1, 2, 3], settings: { maxInflightBytes: limit } });
    c.elect(1);
    for (let i = 0; i < 10; i++) {
      c.propose(1, String(i).repeat(300));
      c.processReady(1);
    }
    const inFlight = c.pending.filter(appendsTo(2));
    const bytes = inFlight.map(entryBytes);
    expect(inFlight.length).toBeLessThan(10);
    // Every message but the last was sent while fewer than `limit` bytes were in flight.
    expect(bytes.slice(0, -1).reduce((a, b) => a + b, 0)).toBeLessThan(limit);
    expect(bytes.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(limit);
    c.stabilize();
    expect(c.peer(2).sm.values()).toHaveLength(10);
  });

  it('§10.2 probe state: a new leader sends one append at a time to a follower it has not heard from', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.node(1).campaign();
    c.stabilize({ deliver: electionTraffic });
    expect(c.status(1).role).toBe(Role.Leader);
    expect(c.status(1).progress?.get(2)?.state).toBe(ProgressState.Probe);
    for (const data of ['a', 'b', 'c']) {
      c.propose(1, data);
      c.processReady(1);
    }
    expect(c.pending.filter(appendsTo(2))).toHaveLength(1);
    // Once the probe is answered, the follower moves to replicate state and gets the rest.
    c.stabilize();
    expect(c.status(1).progress?.get(2)?.state).toBe(ProgressState.Replicate);
    expect(c.peer(2).sm.values()).toEqual(['a', 'b', 'c']);
  });
});
