import { describe, expect, it } from 'vitest';
import { message } from '../../src/raft/raft.js';
import { RawNode } from '../../src/raft/rawnode.js';
import { type Entry, type Message, MessageType, type Ready, Role } from '../../src/raft/types.js';
import type { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { mulberry32, nodeSeed, type RandomInt } from '../property/sim/prng.js';
import { Cluster } from './helpers/cluster.js';
import { entriesWithTerms, GROUP, membership, seededStore } from './helpers/log-state.js';
import { ListStateMachine } from './helpers/state-machine.js';

const encoder = new TextEncoder();
const SENDABLE_BEFORE_SYNC = new Set<MessageType>([MessageType.App, MessageType.Heartbeat, MessageType.Snap]);

describe('committed entries handed out while a Ready is in flight', () => {
  it('a leader hands out what a follower answer commits during its Ready, and no later Ready repeats it', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'x');
    c.processReady(1); // x persisted on the leader and sent
    c.stabilize({ nodes: [2, 3], deliver: (m) => m.type === MessageType.App });
    const leader = c.node(1);
    c.propose(1, 'y');
    const rd = leader.ready(); // y, in flight
    expect(rd.entries.map((e) => e.index)).toEqual([3]);
    expect(leader.committedEntriesInFlight()).toEqual([]);
    c.deliver((m) => m.type === MessageType.AppResp && m.to === 1); // answers for x commit it
    const early = leader.committedEntriesInFlight();
    expect(early.map((e) => new TextDecoder().decode(e.data))).toEqual(['x']);
    expect(leader.committedEntriesInFlight()).toEqual([]);
    c.peer(1).store.append(GROUP, rd.entries);
    c.peer(1).store.commitSync();
    leader.advance();
    expect(leader.appliedIndex()).toBe(2);
    const next = leader.hasReady() ? leader.ready() : undefined;
    expect(next?.committedEntries ?? []).toEqual([]);
  });

  it('a follower hands out only committed entries it has stable or staged, not those that arrived since', () => {
    const store = seededStore({
      entries: entriesWithTerms([1, 1]),
      hardState: { term: 1, vote: 1, commit: 0 },
      confState: membership([1, 2, 3]),
    });
    const node = new RawNode({ id: 2, storage: store.group(GROUP), applied: 0, randomInt: () => 0 });
    const app = (index: number, commit: number, entries: Entry[]): Message =>
      message({ type: MessageType.App, from: 1, to: 2, term: 1, index, logTerm: 1, commit, entries });
    node.step(app(2, 0, entriesWithTerms([1], 3)));
    const rd = node.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([3]);
    node.step(app(3, 4, entriesWithTerms([1], 4))); // 4 arrives, unstaged, and everything commits
    expect(node.committedEntriesInFlight().map((e) => e.index)).toEqual([1, 2, 3]);
    store.append(GROUP, rd.entries);
    store.commitSync();
    node.advance();
    const next = node.ready();
    expect(next.entries.map((e) => e.index)).toEqual([4]);
    expect(next.committedEntries.map((e) => e.index)).toEqual([4]);
  });

  it('a follower does not hand out an entry that replaced one staged in its outstanding Ready', () => {
    const store = seededStore({
      entries: entriesWithTerms([1, 1]),
      hardState: { term: 1, vote: 1, commit: 0 },
      confState: membership([1, 2, 3]),
    });
    const node = new RawNode({ id: 2, storage: store.group(GROUP), applied: 0, randomInt: () => 0 });
    node.step(
      message({
        type: MessageType.App,
        from: 1,
        to: 2,
        term: 1,
        index: 2,
        logTerm: 1,
        entries: entriesWithTerms([1], 3),
      }),
    );
    expect(node.ready().entries).toEqual(entriesWithTerms([1], 3)); // staged, in flight
    // A new leader replaces entry 3 and commits its own: that one is not staged yet.
    node.step(
      message({
        type: MessageType.App,
        from: 3,
        to: 2,
        term: 2,
        index: 2,
        logTerm: 1,
        commit: 3,
        entries: entriesWithTerms([2], 3),
      }),
    );
    expect(node.committedEntriesInFlight().map((e) => e.index)).toEqual([1, 2]);
  });

  it('hands out nothing while no Ready is outstanding or while the outstanding one installs a snapshot', () => {
    const store = seededStore({ hardState: { term: 1, vote: 0, commit: 0 }, confState: membership([1, 2]) });
    const node = new RawNode({ id: 2, storage: store.group(GROUP), applied: 0, randomInt: () => 0 });
    expect(node.committedEntriesInFlight()).toEqual([]);
    node.step(
      message({
        type: MessageType.Snap,
        from: 1,
        to: 2,
        term: 1,
        snapshot: { meta: { index: 5, term: 1, confState: membership([1, 2]) }, data: new Uint8Array(0) },
      }),
    );
    const rd = node.ready();
    expect(rd.snapshot?.meta.index).toBe(5);
    expect(node.committedEntriesInFlight()).toEqual([]);
  });

  it('randomized: every replica applies every committed entry once, in order, the same entries (leader changes, snapshots)', () => {
    const base = process.env.RAFTLOG_INFLIGHT_SEED;
    const seeds = base === undefined ? Array.from({ length: 40 }, (_, i) => 1000 + i) : [Number(base)];
    let inFlightApplied = 0;
    let snapshotsInstalled = 0;
    let leaderChanges = 0;
    for (const seed of seeds) {
      try {
        const run = runInFlightSimulation(seed);
        inFlightApplied += run.inFlightApplied;
        snapshotsInstalled += run.snapshotsInstalled;
        leaderChanges += run.leaderChanges;
      } catch (err) {
        // Replay: RAFTLOG_INFLIGHT_SEED=<seed> npx vitest run test/raft/apply-in-flight.test.ts
        console.error(`apply-in-flight simulation failed with seed ${seed}`);
        throw err;
      }
    }
    // The runs did exercise what they are about.
    expect(inFlightApplied).toBeGreaterThan(0);
    expect(snapshotsInstalled).toBeGreaterThan(0);
    expect(leaderChanges).toBeGreaterThan(seeds.length);
  });
});

interface SimPeer {
  readonly id: number;
  readonly node: RawNode;
  readonly store: MemoryLogStore;
  readonly sm: ListStateMachine;
  /** The Ready staged and partly carried out, waiting for its sync. */
  inFlight?: Ready;
  late: readonly Message[];
}

/**
 * Three nodes driven as the host drives them: a Ready is staged, a leader's appends go out, its
 * committed entries are applied, and only later is it synced, its other messages sent and
 * advanced. Meanwhile messages arrive, and what they commit is applied through
 * `committedEntriesInFlight`. Links are cut and healed (leader changes), and nodes compact their
 * logs (snapshots for the lagging). Throws on the first violation.
 */
function runInFlightSimulation(seed: number): {
  inFlightApplied: number;
  snapshotsInstalled: number;
  leaderChanges: number;
} {
  const rand: RandomInt = mulberry32(seed);
  const ids = [1, 2, 3];
  const peers = ids.map((id): SimPeer => {
    const store = seededStore({ hardState: { term: 0, vote: 0, commit: 0 }, confState: membership(ids) });
    const node = new RawNode({
      id,
      storage: store.group(GROUP),
      applied: 0,
      electionTick: 10,
      heartbeatTick: 1,
      maxSizePerMsg: 64,
      maxInflightMsgs: 4,
      maxCommittedSizePerReady: 64,
      randomInt: mulberry32(nodeSeed(seed, id)),
    });
    return { id, node, store, sm: new ListStateMachine(), late: [] };
  });
  const byId = (id: number) => peers[id - 1]!;
  const appliedAt = new Map<number, string>();
  const pending: Message[] = [];
  let cut: number | undefined;
  let proposals = 0;
  let inFlightApplied = 0;
  let snapshotsInstalled = 0;
  let leaderChanges = 0;
  let lastLeader = 0;

  const apply = (p: SimPeer, entries: readonly Entry[]) => {
    for (const e of entries) {
      const key = `${e.term}/${new TextDecoder().decode(e.data)}`;
      const other = appliedAt.get(e.index);
      if (other !== undefined && other !== key)
        throw new Error(`node ${p.id} applied ${key} at ${e.index}, another node ${other}`);
      appliedAt.set(e.index, key);
      p.sm.apply(e); // throws unless e is the next index: exactly once, in order
    }
  };
  const send = (messages: readonly Message[]) => {
    for (const m of messages) pending.push(m);
  };
  const begin = (p: SimPeer) => {
    const rd = p.node.ready();
    if (rd.snapshot) p.store.applySnapshot(GROUP, rd.snapshot);
    if (rd.entries.length > 0) p.store.append(GROUP, rd.entries);
    if (rd.hardState) p.store.setHardState(GROUP, rd.hardState);
    const leads = p.node.role === Role.Leader;
    send(leads ? rd.messages.filter((m) => SENDABLE_BEFORE_SYNC.has(m.type)) : []);
    p.late = leads ? rd.messages.filter((m) => !SENDABLE_BEFORE_SYNC.has(m.type)) : rd.messages;
    if (!rd.snapshot) apply(p, rd.committedEntries);
    p.inFlight = rd;
  };
  const applyInFlight = (p: SimPeer) => {
    const entries = p.node.committedEntriesInFlight();
    const log = p.store.group(GROUP);
    for (const e of entries) {
      // Only what the store holds (staged or synced) may be applied before the sync.
      if (e.index > log.lastIndex() || log.term(e.index) !== e.term)
        throw new Error(`node ${p.id} handed out entry ${e.index} that its store does not hold`);
    }
    apply(p, entries);
    inFlightApplied += entries.length;
  };
  const finish = (p: SimPeer) => {
    const rd = p.inFlight!;
    p.store.commitSync();
    send(p.late);
    if (rd.snapshot) {
      p.sm.restore(rd.snapshot);
      snapshotsInstalled++;
      apply(p, rd.committedEntries);
    }
    p.inFlight = undefined;
    p.late = [];
    p.node.advance();
  };
  const deliver = (i: number) => {
    const m = pending[i]!;
    pending.splice(i, 1);
    const lost = cut !== undefined && (m.to === cut || m.from === cut);
    if (m.type === MessageType.Snap) byId(m.from).node.reportSnapshot(m.to, !lost);
    if (lost) return;
    const p = byId(m.to);
    p.node.step(m);
    if (p.inFlight && rand(4) > 0) applyInFlight(p);
  };
  const compact = (p: SimPeer) => {
    const log = p.store.group(GROUP);
    const index = p.sm.applied;
    if (p.inFlight || index <= log.firstIndex() - 1 || index > log.lastIndex()) return;
    p.store.compact(GROUP, {
      meta: { index, term: log.term(index), confState: membership(ids) },
      data: p.sm.snapshotData(),
    });
    p.store.commitSync();
  };
  const noteLeader = () => {
    const leader = peers.find((p) => p.node.role === Role.Leader && p.id !== cut);
    if (leader && leader.id !== lastLeader) {
      lastLeader = leader.id;
      leaderChanges++;
    }
    return leader;
  };

  for (let step = 0; step < 3000; step++) {
    const p = byId(1 + rand(3));
    const action = rand(100);
    if (action < 10) p.node.tick();
    else if (action < 25) {
      const leader = noteLeader();
      if (leader) {
        try {
          leader.node.propose(encoder.encode(`p${proposals++}`));
        } catch {
          // dropped (a transfer in progress, too much uncommitted): nothing was written
        }
      }
    } else if (action < 40) {
      if (!p.inFlight && p.node.hasReady()) begin(p);
    } else if (action < 52) {
      if (p.inFlight) finish(p);
    } else if (action < 56) {
      if (p.inFlight) applyInFlight(p);
    } else if (action < 58) compact(p);
    else if (action < 59) cut = cut === undefined ? 1 + rand(3) : undefined;
    else if (pending.length > 0) deliver(rand(Math.min(pending.length, 4)));
  }

  // Heal, then run until a leader has committed an entry of its term and every node applied all.
  cut = undefined;
  const settle = () => {
    for (let round = 0; round < 10_000; round++) {
      let moved = pending.length > 0;
      for (const p of peers) {
        if (p.inFlight) {
          finish(p);
          moved = true;
        }
        if (p.node.hasReady()) {
          begin(p);
          moved = true;
        }
      }
      while (pending.length > 0) deliver(0);
      if (!moved) return;
    }
    throw new Error('did not settle');
  };
  settle();
  for (let i = 0; i < 200 && !noteLeader(); i++) {
    for (const p of peers) p.node.tick();
    settle();
  }
  const leader = noteLeader();
  if (!leader) throw new Error('no leader after healing');
  leader.node.propose(encoder.encode('final'));
  // Lagging followers catch up on heartbeats (a paused probe resumes on their answers).
  const caughtUp = () => peers.every((p) => p.sm.applied === leader.node.status().hardState.commit);
  for (let i = 0; i < 200 && !caughtUp(); i++) {
    settle();
    for (const p of peers) p.node.tick();
  }
  settle();
  const commit = leader.node.status().hardState.commit;
  for (const p of peers) {
    if (p.sm.applied !== commit || p.node.appliedIndex() !== commit)
      throw new Error(
        `node ${p.id} applied ${p.sm.applied} (core ${p.node.appliedIndex()}), commit ${commit}`,
      );
    expect(p.sm.values()).toEqual(leader.sm.values());
  }
  return { inFlightApplied, snapshotsInstalled, leaderChanges };
}
