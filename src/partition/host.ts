import { RaftlogError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { decodeConfChange } from '../raft/confchange-codec.js';
import { entriesSize } from '../raft/log.js';
import { QUIESCE_CONTEXT } from '../raft/raft.js';
import { RawNode } from '../raft/rawnode.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type Ready,
  Role,
  type Snapshot,
  type SoftState,
} from '../raft/types.js';
import type { LogStore } from '../storage/log-store.js';
import { type LeadershipEvent, leadershipChannel, type TurnEvent, turnChannel } from './diagnostics.js';
import { EarlyVotes } from './early-votes.js';
import { HOLD_TICKS, splitEmptyAppends } from './held-appends.js';
import { DEFAULT_MOVE_BANDWIDTH, LearnerThrottle } from './learner-throttle.js';
import { withoutRedundantAppends } from './redundant-appends.js';
import type { GroupMessage, PeerTransport } from './transport.js';

/**
 * What committed entries do in one group. Must be deterministic: every replica computes the same.
 *
 * Durability: the state machine stages its own durable state in the store whenever it likes
 * (every apply, or a checkpoint now and then); staged writes commit with the host's next batch.
 * After a restart Raft hands out again every committed entry above `durableApplied` (or above the
 * commit index found, when that is lower), so the state machine must come back exactly as it was
 * at that index, and skip entries its state already reflects.
 */
export interface GroupStateMachine {
  /** The index the state machine's durable state reflects (0 for a new group). */
  readonly durableApplied: number;
  /**
   * Apply one committed entry (every entry, in order: no-ops and membership changes too). The
   * return value is handed to whoever proposed the entry on this broker.
   */
  apply(entry: Entry): unknown;
  /**
   * Replace the whole state by a snapshot's data (incoming, or found newer at restart). The
   * group's bootstrap snapshot ({@link isBootstrapSnapshot}) has empty data: it stands for the
   * initial (empty) state at its index. The data may reflect a later index than the snapshot's
   * (see {@link RaftHost.compactLog}): Raft then hands out the entries in between again, and the
   * state machine skips them.
   */
  restore(snapshot: Snapshot): void;
}

/**
 * Every group starts from a snapshot at index 1, term 1, that holds its initial membership and an
 * empty state (empty data). The membership must live in the log's history, not only in the
 * replica's stored configuration: a replica added later learns it from the leader's snapshot, and
 * one that replayed the leader's log from index 1 without it would build its membership from
 * nothing (and could elect a second leader).
 */
const BOOTSTRAP_INDEX = 1;
const BOOTSTRAP_TERM = 1;

/** True for a group's bootstrap snapshot: the initial state, whose data is empty. */
export function isBootstrapSnapshot(snapshot: Snapshot): boolean {
  return snapshot.data.byteLength === 0;
}

/** Timing of every group on the broker. */
export interface HostTiming {
  /** Milliseconds per Raft tick. */
  readonly tickMs: number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
}

export const DEFAULT_TIMING: HostTiming = { tickMs: 50, electionTick: 10, heartbeatTick: 2 };

export interface RaftHostOptions {
  readonly nodeId: number;
  readonly store: LogStore;
  readonly transport: PeerTransport;
  readonly timing?: Partial<HostTiming>;
  /** How long a proposal or read waits before failing with COMMIT_TIMEOUT. Default 10 s. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /** Random integer in [0, n): election timeout jitter. Defaults to Math.random. */
  readonly randomInt?: (n: number) => number;
  /** Called when a group's leader or this node's role in it changes. */
  readonly onSoftState?: (group: number, state: SoftState, term: number) => void;
  /**
   * The other brokers, sent a broker-level heartbeat (an empty frame) every heartbeat interval:
   * followers of quiet groups stay quiet while they hear from the leader's broker.
   */
  readonly peers?: () => Iterable<number>;
  /**
   * Bytes per second of log entries this broker sends to learners (replicas catching up during a
   * move), all groups together. Default 25 MiB/s (`DEFAULT_MOVE_BANDWIDTH`: why).
   */
  readonly learnerBandwidth?: number;
  /**
   * Whether a group's learners are rate-limited by `learnerBandwidth` (default: every group). A
   * group whose learners are permanent, not catching up once (the metadata group), is exempt, so
   * its updates never queue behind a partition's catch-up.
   */
  readonly throttlesLearners?: (group: number) => boolean;
  /**
   * Whether a group's leader holds back its empty appends for a later append to ride with (see
   * `splitEmptyAppends`; default: every group). A group whose followers act on each commit as they
   * apply it (the metadata group: every broker creates the replicas it is given) is exempt.
   */
  readonly holdsEmptyAppends?: (group: number) => boolean;
}

/**
 * Most entry bytes in flight to one follower: bounds what a throttled learner's appends hold in
 * memory, and is far above what a follower on a LAN needs to keep its pipeline full.
 */
const MAX_INFLIGHT_BYTES = 16 * 1024 * 1024;

/**
 * Most entry bytes in one append message, and so in one batch of proposals handed to Raft
 * together (a batch goes to each follower as one message; a larger one would wait for a round trip).
 */
const MAX_MESSAGE_BYTES = 1024 * 1024;

interface ProposalWaiter {
  readonly term: number;
  readonly deadline: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** A proposal waiting for the start of the next turn, where a group's proposals go to Raft together. */
interface QueuedProposal {
  readonly data: Uint8Array;
  readonly deadline: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/**
 * The reads that share one ReadIndex request: every read asked for before the request reached
 * Raft (in the same turn) is answered by it, so a burst of fetches costs one heartbeat round.
 */
class ReadBatch {
  /** Set once the leader confirmed the read point. */
  index: number | undefined;
  private readonly waiters: Array<{ resolve(index: number): void; reject(err: Error): void }> = [];

  constructor(readonly deadline: number) {}

  wait(): Promise<number> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  resolve(index: number): void {
    for (const w of this.waiters) w.resolve(index);
  }

  reject(err: Error): void {
    for (const w of this.waiters) w.reject(err);
  }
}

/** One Raft group hosted here. */
class HostedGroup {
  readonly proposals = new Map<number, ProposalWaiter>();
  /** Proposals not handed to Raft yet (see `submitProposals`). */
  queued: QueuedProposal[] = [];
  readonly reads = new Map<string, ReadBatch>();
  /** The context of the read batch that has not been handed to Raft yet (see `submitReads`). */
  openRead: Uint8Array | undefined;
  /** Set while a Ready of this group is being carried out. */
  inFlight: Ready | undefined;
  /** Messages of `inFlight` that may only go out after its writes are durable. */
  lateMessages: readonly Message[] = [];
  /** A leader's empty appends, held back for a later append to ride with (see `splitEmptyAppends`). */
  heldAppends: readonly Message[] = [];
  /** The host tick during which the oldest of `heldAppends` was held. */
  heldSinceTick = 0;
  /** Quiet: not ticked until a proposal, a read or a message wakes it (see `RawNode.quiesce`). */
  quiesced = false;

  constructor(
    readonly id: number,
    readonly node: RawNode,
    readonly sm: GroupStateMachine,
    /** Index of the last membership change the stored membership already reflects. */
    public confIndex: number,
  ) {}
}

/** Meta key: the index of the last membership change in the stored membership (8 bytes, big-endian). */
const CONF_INDEX_KEY = 'conf-index';

function encodeIndex(index: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(index));
  return out;
}

function decodeIndex(bytes: Uint8Array | undefined): number {
  if (bytes === undefined || bytes.byteLength !== 8) return 0;
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0));
}

/** Leader messages that promise nothing about the leader's own durable state. */
const SENDABLE_BEFORE_SYNC = new Set<MessageType>([MessageType.App, MessageType.Heartbeat, MessageType.Snap]);

/** Counters of the host loop, for metrics. */
export interface HostStats {
  turns: number;
  syncs: number;
  readiesPerSync: number;
  lastSyncMs: number;
  totalSyncMs: number;
  /** Entry bytes sent to learners (replicas catching up). */
  learnerBytes: number;
}

/**
 * The multi-Raft host: drives every Raft group of this broker with one ticker and one loop. Each
 * turn takes the Ready of every group that has one, stages all their writes in the store, applies
 * committed entries (answering their proposers) while it makes the writes durable with ONE synced
 * batch, then sends all messages (one frame per peer) and advances — the order written on
 * {@link Ready}, with a leader's appends sent before its sync.
 */
export class RaftHost {
  readonly nodeId: number;
  private readonly store: LogStore;
  private readonly transport: PeerTransport;
  readonly timing: HostTiming;
  private readonly requestTimeoutMs: number;
  private readonly log: Logger;
  private readonly randomInt: (n: number) => number;
  private readonly onSoftState: RaftHostOptions['onSoftState'];
  private readonly groups = new Map<number, HostedGroup>();
  private ticker: NodeJS.Timeout | undefined;
  private turnScheduled = false;
  private turnRunning = false;
  /**
   * Writes were staged after the last batch that need no sync (commit indexes, state-machine
   * checkpoints, compactions): they go with the next batch a Ready must sync, or at the next tick.
   */
  private unsyncedStaged = false;
  private failure: Error | undefined;
  private closed = false;
  private readCounter = 0;
  private readonly heard = new Map<number, number>();
  private readonly earlyVotes: EarlyVotes;
  /** Groups that may have a Ready: ticked, stepped, proposed to, or just advanced. */
  private readonly dirty = new Set<HostedGroup>();
  private readonly peers: () => Iterable<number>;
  private ticks = 0;
  private readonly startedAt = Date.now();
  private idle: Array<() => void> = [];
  /**
   * Messages of the last turn that had to wait for its sync (a follower's acknowledgements, votes):
   * they go out with the next turn's first messages, in the same check phase of the event loop
   * where they would have been flushed alone, so each peer gets one frame per turn rather than two.
   */
  private afterSync: Array<readonly [HostedGroup, readonly Message[]]> = [];
  private readonly throttle: LearnerThrottle;
  private readonly throttlesLearners: (group: number) => boolean;
  private readonly holdsEmptyAppends: (group: number) => boolean;
  readonly stats: HostStats = {
    turns: 0,
    syncs: 0,
    readiesPerSync: 0,
    lastSyncMs: 0,
    totalSyncMs: 0,
    learnerBytes: 0,
  };

  constructor(o: RaftHostOptions) {
    this.nodeId = o.nodeId;
    this.store = o.store;
    this.transport = o.transport;
    this.timing = { ...DEFAULT_TIMING, ...o.timing };
    this.requestTimeoutMs = o.requestTimeoutMs ?? 10_000;
    this.log = o.logger ?? silentLogger;
    this.randomInt = o.randomInt ?? ((n) => Math.floor(Math.random() * n));
    this.onSoftState = o.onSoftState;
    this.peers = o.peers ?? (() => []);
    this.throttlesLearners = o.throttlesLearners ?? (() => true);
    this.holdsEmptyAppends = o.holdsEmptyAppends ?? (() => true);
    this.earlyVotes = new EarlyVotes(this.timing.electionTick * this.timing.tickMs);
    this.throttle = new LearnerThrottle(o.learnerBandwidth ?? DEFAULT_MOVE_BANDWIDTH, (peer, messages) => {
      this.stats.learnerBytes = this.throttle.bytesSent;
      if (!this.closed && !this.failure) this.transport.send(peer, messages);
    });
    this.store.onEntriesLoaded((group) => this.entriesLoaded(group));
    this.transport.onReceive((from, messages) => this.receive(from, messages));
    this.transport.onUnreachable((peer, messages) => this.unreachable(peer, messages));
    this.ticker = setInterval(() => this.tick(), this.timing.tickMs);
  }

  /** The storage failure that stopped this host, if any. */
  get failed(): Error | undefined {
    return this.failure;
  }

  hasGroup(id: number): boolean {
    return this.groups.has(id);
  }

  groupIds(): number[] {
    return [...this.groups.keys()];
  }

  /**
   * Start hosting a group. A group new to this broker is created with `voters` as its initial
   * membership (every initial replica must be given the same list); an existing one resumes from
   * its stored state. With `campaignIfNew`, the replica of a new group starts an election at once
   * instead of waiting for a timeout (used by the preferred leader).
   */
  addGroup(
    id: number,
    sm: GroupStateMachine,
    opts: { voters?: readonly number[]; campaignIfNew?: boolean } = {},
  ): void {
    if (this.groups.has(id)) throw new Error(`raft host: group ${id} already hosted`);
    const view = this.store.group(id);
    const initial = view.initialState();
    const isNew = view.lastIndex() === 0 && view.snapshot().meta.index === 0 && initial.hardState.term === 0;
    if (isNew && opts.voters) this.bootstrap(id, opts.voters);
    // A snapshot installed just before a crash may be newer than the state machine's last
    // durable state: then the snapshot is where the state machine resumes.
    const snapshot = view.snapshot();
    if (snapshot.meta.index > sm.durableApplied) sm.restore(snapshot);
    // A state machine that restored a snapshot whose data is ahead of its index may have durable
    // state beyond the commit index stored with that snapshot: Raft resumes at the commit index
    // and the state machine skips what it already reflects.
    const commit = view.initialState().hardState.commit;
    const node = new RawNode({
      id: this.nodeId,
      storage: view,
      applied: Math.max(snapshot.meta.index, Math.min(sm.durableApplied, commit)),
      maxInflightBytes: MAX_INFLIGHT_BYTES,
      maxSizePerMsg: MAX_MESSAGE_BYTES,
      electionTick: this.timing.electionTick,
      heartbeatTick: this.timing.heartbeatTick,
      randomInt: this.randomInt,
    });
    const confIndex = Math.max(decodeIndex(this.store.getMeta(id, CONF_INDEX_KEY)), snapshot.meta.index);
    const g = new HostedGroup(id, node, sm, confIndex);
    this.groups.set(id, g);
    // A brand-new group need not wait an election timeout for its first leader, nor does a group
    // whose only voter is this broker.
    const voters = view.initialState().confState;
    const alone =
      voters.voters.length === 1 && voters.voters[0] === this.nodeId && voters.votersOutgoing.length === 0;
    if ((isNew && opts.campaignIfNew) || alone) node.campaign();
    this.touch(g);
    for (const m of this.earlyVotes.take(id, Date.now())) this.step(g, m);
  }

  /**
   * Write a new group's bootstrap snapshot: every initial replica writes the same one, so the
   * entry at index 1 is identical on all of them. A replica added to the group later starts with
   * nothing and receives the membership with the leader's snapshot.
   */
  private bootstrap(id: number, voters: readonly number[]): void {
    this.store.applySnapshot(id, {
      meta: {
        index: BOOTSTRAP_INDEX,
        term: BOOTSTRAP_TERM,
        confState: {
          voters: [...voters].sort((a, b) => a - b),
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
      data: new Uint8Array(0),
    });
    this.store.setHardState(id, { term: BOOTSTRAP_TERM, vote: 0, commit: BOOTSTRAP_INDEX });
    this.unsyncedStaged = true;
  }

  /** Wake a group: it is ticked again and looked at in the next turn. */
  private touch(g: HostedGroup): void {
    g.quiesced = false;
    this.dirty.add(g);
    this.scheduleTurn();
  }

  /** Stop hosting a group; with `dropData` its stored data is removed too. */
  removeGroup(id: number, dropData: boolean): void {
    const g = this.groups.get(id);
    if (!g) return;
    this.groups.delete(id);
    this.dirty.delete(g);
    const gone = `group ${id} is no longer hosted on broker ${this.nodeId}`;
    // A write in flight may still commit elsewhere: its outcome is unknown, not a refusal.
    for (const w of g.proposals.values())
      w.reject(new RaftlogError('COMMIT_TIMEOUT', `${gone}; the outcome is unknown`));
    for (const q of g.queued) q.reject(new RaftlogError('NOT_LEADER', `${gone}; it was not written`));
    for (const w of g.reads.values()) w.reject(new RaftlogError('NOT_LEADER', gone));
    if (dropData) {
      this.store.dropGroup(id);
      this.unsyncedStaged = true;
    }
  }

  /** Role, leader and term of this broker's replica of a group. */
  groupState(id: number): { role: Role; leader: number; term: number } | undefined {
    const g = this.groups.get(id);
    return g && { role: g.node.role, leader: g.node.leader, term: g.node.term };
  }

  status(id: number) {
    return this.groups.get(id)?.node.status();
  }

  private group(id: number): HostedGroup {
    if (this.failure)
      throw new RaftlogError('STORAGE_FAILED', 'this broker stopped after a storage failure', {
        cause: this.failure,
      });
    if (this.closed) throw new RaftlogError('NOT_LEADER', 'this broker is shutting down');
    const g = this.groups.get(id);
    if (!g) throw new RaftlogError('NOT_LEADER', `group ${id} is not hosted on broker ${this.nodeId}`);
    return g;
  }

  private notLeader(g: HostedGroup): RaftlogError {
    const leader = g.node.leader;
    return new RaftlogError(
      leader === 0 ? 'NO_LEADER' : 'NOT_LEADER',
      `broker ${this.nodeId} is not the leader of group ${g.id}`,
      {
        details: { leader: leader === 0 ? undefined : leader },
      },
    );
  }

  /**
   * Propose `data` as one entry of group `id` on this broker, which must be the group's leader.
   * Resolves with the state machine's result once the entry is committed (on a majority, each
   * fsync'd) and applied here. Rejects with NOT_LEADER / NO_LEADER when this broker cannot take it,
   * NOT_LEADER when it is known not to have committed, and COMMIT_TIMEOUT when the outcome is
   * unknown.
   */
  propose(id: number, data: Uint8Array): Promise<unknown> {
    let g: HostedGroup;
    try {
      g = this.leaderGroup(id);
    } catch (err) {
      return Promise.reject(err);
    }
    // Queued for the next turn: the proposals of one turn reach each follower in one message.
    return new Promise((resolve, reject) => {
      g.queued.push({ data, deadline: Date.now() + this.requestTimeoutMs, resolve, reject });
      this.touch(g);
    });
  }

  /** Propose a membership change of group `id` (on its leader). Resolves with the new membership. */
  proposeConfChange(id: number, cc: ConfChange): Promise<ConfState> {
    let g: HostedGroup;
    try {
      g = this.leaderGroup(id);
      g.node.proposeConfChange(cc);
    } catch (err) {
      return Promise.reject(proposalRefusal(err));
    }
    const index = g.node.lastIndex();
    const term = g.node.term;
    this.touch(g);
    return new Promise((resolve, reject) => {
      g.proposals.set(index, { term, deadline: Date.now() + this.requestTimeoutMs, resolve, reject });
    });
  }

  /** Group `id`, of which this broker must be the leader. */
  private leaderGroup(id: number): HostedGroup {
    const g = this.group(id);
    if (g.node.role !== Role.Leader) throw this.notLeader(g);
    return g;
  }

  /**
   * Hand a group's queued proposals to Raft (at the start of a turn), as few batches as the
   * message size allows: Raft sends each batch to each follower as one append message.
   */
  private submitProposals(g: HostedGroup): void {
    const queued = g.queued;
    if (queued.length === 0) return;
    g.queued = [];
    let start = 0;
    while (start < queued.length) {
      let end = start + 1;
      let bytes = queued[start]!.data.byteLength;
      while (end < queued.length && bytes + queued[end]!.data.byteLength <= MAX_MESSAGE_BYTES) {
        bytes += queued[end]!.data.byteLength;
        end++;
      }
      this.proposeBatch(g, queued.slice(start, end));
      start = end;
    }
  }

  /**
   * Propose `batch` as consecutive entries. Raft takes a batch all or none, which is what one by
   * one would give too: the reasons it drops a proposal (no longer leader or member, leadership
   * being handed over) hold for every entry alike.
   */
  private proposeBatch(g: HostedGroup, batch: readonly QueuedProposal[]): void {
    try {
      if (g.node.role !== Role.Leader) throw this.notLeader(g);
      g.node.proposeBatch(batch.map((q) => q.data));
    } catch (err) {
      const refusal = proposalRefusal(err);
      for (const q of batch) q.reject(refusal);
      return;
    }
    const term = g.node.term;
    let index = g.node.lastIndex() - batch.length;
    for (const { deadline, resolve, reject } of batch) {
      g.proposals.set(++index, { term, deadline, resolve, reject });
    }
  }

  /**
   * A linearizable read point of group `id` (ReadIndex, Raft thesis §6.4): resolves with an index
   * once the leader confirmed its leadership with a quorum AND this replica applied up to it, so
   * state read right after reflects every write acknowledged before the call. On a follower the
   * request goes to the leader through Raft and the follower waits to apply up to the answer.
   */
  readIndex(id: number): Promise<number> {
    let g: HostedGroup;
    try {
      g = this.group(id);
      if (g.node.role !== Role.Leader && g.node.leader === 0) throw this.notLeader(g);
    } catch (err) {
      return Promise.reject(err);
    }
    // Join the batch that has not reached Raft yet: its read point will be taken after this call,
    // which is all linearizability asks. A batch already handed to Raft took its point before.
    const open = g.openRead && g.reads.get(contextKey(g.openRead));
    if (open) return open.wait();
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, ++this.readCounter);
    const batch = new ReadBatch(Date.now() + this.requestTimeoutMs);
    g.reads.set(contextKey(ctx), batch);
    g.openRead = ctx;
    this.touch(g);
    return batch.wait();
  }

  /** Hand a group's open read batch to Raft (at the start of a turn). */
  private submitReads(g: HostedGroup): void {
    const ctx = g.openRead;
    if (ctx === undefined) return;
    g.openRead = undefined;
    const key = contextKey(ctx);
    const batch = g.reads.get(key);
    if (batch === undefined) return; // already failed (leadership lost, timed out)
    if (g.node.role !== Role.Leader && g.node.leader === 0) {
      g.reads.delete(key);
      batch.reject(this.notLeader(g));
      return;
    }
    g.node.readIndex(ctx);
  }

  /**
   * Propose `data` to group `id` without waiting for the outcome: on a follower the proposal is
   * forwarded to the leader through Raft. Returns false when it could not even be submitted (no
   * leader known). For idempotent housekeeping commands that are checked and retried.
   */
  submit(id: number, data: Uint8Array): boolean {
    try {
      const g = this.group(id);
      g.node.propose(data);
      this.touch(g);
    } catch {
      return false;
    }
    return true;
  }

  /** How many hosted groups are quiet (not ticking). */
  quiescedGroups(): number {
    let n = 0;
    for (const g of this.groups.values()) if (g.quiesced) n++;
    return n;
  }

  /** When a frame (or heartbeat) from `peer` last arrived, in ms since the epoch; 0 if never. */
  lastHeardFrom(peer: number): number {
    return this.heard.get(peer) ?? 0;
  }

  /**
   * Compact group `id`'s log through `index`: record a snapshot at `index` holding `data()`, and
   * drop the entries up to it; staged with the next group-commit batch. `data()` is the state
   * machine's state at its applied index A ≥ `index` (never empty: that is the bootstrap
   * snapshot), called only when the compaction happens; a replica that restores it skips the
   * entries up to A when they come again (see {@link GroupStateMachine.restore}). The snapshot
   * carries the membership at `index`, so this does nothing and returns false while a membership
   * change above `index` is applied; also when `index` is not above the current snapshot, not
   * applied yet, or the group is not hosted here.
   */
  compactLog(id: number, index: number, data: () => Uint8Array): boolean {
    const g = this.groups.get(id);
    if (!g || this.failure || this.closed) return false;
    const view = this.store.group(id);
    if (index <= view.snapshot().meta.index || index > g.node.appliedIndex() || g.confIndex > index) {
      return false;
    }
    const bytes = data();
    if (bytes.byteLength === 0) throw new Error('raft host: snapshot data must not be empty');
    const confState = view.initialState().confState;
    this.store.compact(id, { meta: { index, term: view.term(index), confState }, data: bytes });
    this.unsyncedStaged = true;
    return true;
  }

  /**
   * Group `id`'s snapshot index and data size (what a replica that needs the snapshot is sent)
   * and applied index, or `undefined` when it is not hosted here.
   */
  logState(id: number): { snapshotIndex: number; snapshotBytes: number; appliedIndex: number } | undefined {
    const g = this.groups.get(id);
    if (!g) return undefined;
    const { meta, data } = this.store.group(id).snapshot();
    return { snapshotIndex: meta.index, snapshotBytes: data.byteLength, appliedIndex: g.node.appliedIndex() };
  }

  /** Ask group `id`'s leader (this broker) to hand leadership to broker `to`. */
  transferLeader(id: number, to: number): void {
    const g = this.group(id);
    g.node.transferLeader(to);
    this.touch(g);
  }

  // ---- inputs ------------------------------------------------------------------------------

  private tick(): void {
    if (this.failure || this.closed) return;
    const now = Date.now();
    const heartbeatDue = ++this.ticks % this.timing.heartbeatTick === 0;
    this.earlyVotes.expire(now);
    if (this.unsyncedStaged) {
      this.unsyncedStaged = false;
      this.store.commit({ sync: false }).catch((err) => this.fail(err));
    }
    if (heartbeatDue) for (const peer of this.peers()) this.transport.send(peer, []);
    const silentPeers = this.silentPeers(now);
    for (const g of this.groups.values()) {
      expire(g.proposals, now);
      expire(g.reads, now);
      // Queued proposals wait longer than a turn only while a turn is stuck (a stalled disk).
      if (g.queued.length > 0) g.queued = expireQueued(g.queued, now);
      if (g.quiesced) {
        // A quiet follower wakes up when its leader's broker falls silent: then it elects.
        const leader = g.node.leader;
        if (g.node.role !== Role.Leader && (leader === 0 || silentPeers.has(leader))) {
          // The silence already lasted an election timeout: move the election clock on by one,
          // so this replica campaigns within the randomized remainder rather than a full timeout.
          for (let i = 0; i < this.timing.electionTick; i++) g.node.tick();
          this.touch(g);
        }
        continue;
      }
      this.dirty.add(g);
      // Go quiet instead of ticking: a tick may send an ordinary heartbeat, and its answers
      // would wake the group again at once.
      if (
        heartbeatDue &&
        !g.inFlight &&
        g.heldAppends.length === 0 &&
        g.proposals.size === 0 &&
        g.queued.length === 0 &&
        g.reads.size === 0 &&
        g.node.quiesce(silentPeers)
      ) {
        g.quiesced = true;
        continue;
      }
      g.node.tick();
    }
    this.scheduleTurn();
  }

  /** Peers not heard from (frames or broker heartbeats) within an election timeout. */
  private silentPeers(now: number): Set<number> {
    const timeoutMs = this.timing.electionTick * this.timing.tickMs;
    const silent = new Set<number>();
    for (const peer of this.peers()) {
      if (now - (this.heard.get(peer) ?? this.startedAt) > timeoutMs) silent.add(peer);
    }
    return silent;
  }

  private receive(from: number, messages: readonly GroupMessage[]): void {
    if (this.failure || this.closed) return;
    const now = Date.now();
    this.heard.set(from, now);
    let last: HostedGroup | undefined;
    for (const { group, message } of messages) {
      if (message.from !== from) continue;
      const g = this.groups.get(group);
      // A group this broker does not host (yet, or any more): Raft will retry; a vote request
      // waits a while for the group (see EarlyVotes).
      if (g) this.step(g, message);
      else this.earlyVotes.keep(group, message, now);
      // Messages of one group come together in a frame: apply once per run of them.
      if (last !== undefined && last !== g) this.applyWhileSyncing(last);
      last = g;
    }
    if (last !== undefined) this.applyWhileSyncing(last);
    this.scheduleTurn();
  }

  /**
   * While a group's Ready is being synced, what committed since (a follower's answer to this
   * leader, a commit index from this follower's leader) is applied and answered now rather than
   * after the sync; the state machine's writes go into a later batch.
   */
  private applyWhileSyncing(g: HostedGroup): void {
    if (g.inFlight === undefined) return;
    const entries = g.node.committedEntriesInFlight();
    if (entries.length === 0) return;
    this.applyCommitted(g, entries);
    this.unsyncedStaged = true;
  }

  private step(g: HostedGroup, message: Message): void {
    try {
      g.node.step(message);
    } catch (err) {
      this.log.warn({ err, group: g.id, from: message.from, type: message.type }, 'raft message refused');
    }
    const quiet = isQuiesceMessage(message);
    if (quiet && message.type === MessageType.Heartbeat) {
      // The leader went quiet; follow it if this replica has its whole log.
      this.dirty.add(g);
      g.quiesced = g.node.quiescentFollowerOf(message.from);
    } else if (!quiet) {
      this.touch(g);
    }
  }

  /** The store loaded entries a group's Raft asked for: what waited for them goes on now. */
  private entriesLoaded(group: number): void {
    const g = this.groups.get(group);
    if (!g || this.failure || this.closed) return;
    g.node.entriesLoaded();
    this.touch(g);
  }

  private unreachable(peer: number, messages: readonly GroupMessage[]): void {
    const seen = new Set<number>();
    for (const { group, message } of messages) {
      const g = this.groups.get(group);
      if (!g) continue;
      if (message.type === MessageType.Snap) g.node.reportSnapshot(peer, false);
      if (!seen.has(group)) {
        seen.add(group);
        g.node.reportUnreachable(peer);
        this.dirty.add(g);
      }
    }
    this.scheduleTurn();
  }

  // ---- the loop ----------------------------------------------------------------------------

  private scheduleTurn(): void {
    if (this.turnScheduled || this.turnRunning || this.failure || this.closed) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      void this.runTurn();
    });
  }

  private async runTurn(): Promise<void> {
    if (this.turnRunning || this.failure) return;
    this.turnRunning = true;
    try {
      await this.turn();
    } catch (err) {
      this.fail(err);
    } finally {
      this.turnRunning = false;
    }
    if (this.failure) return;
    if (this.afterSync.length > 0 || this.dirty.size > 0) this.scheduleTurn();
    else for (const done of this.idle.splice(0)) done();
  }

  /** One turn: every ready group's Ready, carried out in the order of the contract. */
  private async turn(): Promise<void> {
    const work: HostedGroup[] = [];
    // The last turn's messages that waited for its sync go first: per peer, in the order Raft made them.
    const early: Array<readonly [HostedGroup, readonly Message[]]> = this.afterSync;
    this.afterSync = [];
    const candidates = [...this.dirty];
    this.dirty.clear();
    for (const g of candidates) {
      this.submitProposals(g);
      this.submitReads(g);
      const held = g.heldAppends;
      const mayHold =
        this.holdsEmptyAppends(g.id) && (held.length === 0 || this.ticks - g.heldSinceTick < HOLD_TICKS);
      if (!g.node.hasReady()) {
        if (held.length > 0 && !mayHold) {
          early.push([g, held]);
          g.heldAppends = [];
        }
        continue;
      }
      g.heldAppends = [];
      g.inFlight = g.node.ready();
      work.push(g);
      const rd = g.inFlight;
      let messages = withoutRedundantAppends(held.length > 0 ? [...held, ...rd.messages] : rd.messages);
      if (mayHold) {
        // Empty appends wait for a later append to the same follower to ride with.
        const [now, later] = splitEmptyAppends(messages);
        if (later.length > 0 && held.length === 0) g.heldSinceTick = this.ticks;
        g.heldAppends = later;
        messages = now;
      }
      // Raft thesis §10.2.1: a leader's appends and heartbeats need not wait for its own fsync
      // (it counts itself toward the quorum only after that), so followers write in parallel.
      if (g.node.role === Role.Leader) {
        g.lateMessages = messages.filter((m) => !SENDABLE_BEFORE_SYNC.has(m.type));
        early.push([g, messages.filter((m) => SENDABLE_BEFORE_SYNC.has(m.type))]);
      } else {
        g.lateMessages = messages;
      }
    }
    if (work.length === 0) {
      this.sendAll(early); // what waited for the last turn's sync, appends it held back
      return;
    }
    this.stats.turns++;
    // Group commit: every group's writes of this turn, and the writes staged since the last batch
    // (state-machine checkpoints, commit indexes), go into one synced batch when any Ready needs
    // it (new entries, a snapshot, a new term or vote). Commit indexes and checkpoints alone can
    // be recomputed after a crash: they stay staged for that batch or the next tick's (see
    // `tick`), so that a turn that only moves commit indexes writes nothing, and neither its
    // messages (sent at once, with the early ones) nor the next turn's batch wait for a write.
    const sync = work.some((g) => g.inFlight!.mustSync);
    // Sent before the writes are staged (encoding entries takes a while): what waited for the last
    // sync, and a leader's appends, which need not wait for its own writes.
    this.sendAll(sync ? early : [...early, ...work.map((g) => [g, g.lateMessages] as const)]);
    for (const g of work) this.stage(g, g.inFlight!);
    const t0 = performance.now();
    this.unsyncedStaged = !sync;
    const committing = sync ? this.store.commit({ sync }) : undefined;
    // Committed entries are on a majority of disks already (a leader counts its own copy only
    // once it is synced): they are applied, and their proposers answered, while this turn's batch
    // is written rather than after it, as etcd does (the store started the write in `commit`).
    try {
      this.applyEarly(work);
    } finally {
      await committing;
    }
    const ms = performance.now() - t0;
    if (sync) this.stats.syncs++;
    if (turnChannel.hasSubscribers) {
      turnChannel.publish({
        broker: this.nodeId,
        readies: work.length,
        sync,
        durationMs: ms,
      } satisfies TurnEvent);
    }
    this.stats.readiesPerSync = work.length;
    this.stats.lastSyncMs = ms;
    this.stats.totalSyncMs += ms;
    if (sync) for (const g of work) if (g.lateMessages.length > 0) this.afterSync.push([g, g.lateMessages]);
    for (const g of work) this.finishReady(g);
  }

  /** Step 1 of the Ready contract: stage what must be durable before anything else happens. */
  private stage(g: HostedGroup, rd: Ready): void {
    if (rd.snapshot) this.store.applySnapshot(g.id, rd.snapshot);
    if (rd.entries.length > 0) this.store.append(g.id, rd.entries);
    if (rd.hardState) this.store.setHardState(g.id, rd.hardState);
  }

  /**
   * Step 2: one frame per peer with every group's messages, written now: a turn runs in the check
   * phase, and a flush left to the transport would wait for the next iteration of the event loop.
   */
  private sendAll(work: ReadonlyArray<readonly [HostedGroup, readonly Message[]]>): void {
    const perPeer = new Map<number, GroupMessage[]>();
    const snapshotsSent: Array<[HostedGroup, number]> = [];
    for (const [g, messages] of work) {
      for (const message of messages) {
        if (
          message.type === MessageType.App &&
          g.node.isLearner(message.to) &&
          this.throttlesLearners(g.id)
        ) {
          // Catch-up traffic is rate-limited so it cannot starve live replication; empty appends
          // queue too, so that none overtakes the held ones (see LearnerThrottle).
          this.throttle.offer(message.to, { group: g.id, message }, entriesSize(message.entries));
          continue;
        }
        const list = perPeer.get(message.to);
        if (list) list.push({ group: g.id, message });
        else perPeer.set(message.to, [{ group: g.id, message }]);
        if (message.type === MessageType.Snap) snapshotsSent.push([g, message.to]);
      }
    }
    for (const [peer, list] of perPeer) this.transport.send(peer, list);
    this.transport.flush();
    // Snapshots travel inline in the frame: once handed to the transport they count as sent; a
    // failed delivery is reported through onUnreachable and the leader probes again.
    for (const [g, peer] of snapshotsSent) g.node.reportSnapshot(peer, true);
  }

  /**
   * Step 3 ahead of step 1 (see {@link Ready}) for the Readies of `work` without a snapshot;
   * what applying stages goes into a later batch.
   */
  private applyEarly(work: readonly HostedGroup[]): void {
    if (this.failure) return;
    for (const g of work) {
      const rd = g.inFlight!;
      if (rd.snapshot || rd.committedEntries.length === 0 || this.groups.get(g.id) !== g) continue;
      this.applyCommitted(g, rd.committedEntries);
      this.unsyncedStaged = true;
    }
  }

  /** Step 3: apply committed entries and answer their proposers. */
  private applyCommitted(g: HostedGroup, entries: readonly Entry[]): void {
    for (const e of entries) {
      let result: unknown;
      if (e.type === EntryType.ConfChange) {
        // After a restart, Raft hands out again the entries above the state machine's durable
        // point; a change the stored membership already holds must not be applied twice.
        if (e.index > g.confIndex) {
          const cs = g.node.applyConfChange(decodeConfChange(e.data));
          this.store.setConfState(g.id, cs);
          this.recordConfIndex(g, e.index);
          result = cs;
        } else {
          result = g.node.status().confState;
        }
        g.sm.apply(e);
      } else {
        result = g.sm.apply(e);
      }
      const w = g.proposals.get(e.index);
      if (w) {
        g.proposals.delete(e.index);
        if (w.term === e.term) w.resolve(result);
        else
          w.reject(
            new RaftlogError(
              'NOT_LEADER',
              'leadership changed before the entry was committed; it was not written',
            ),
          );
      }
    }
  }

  /**
   * Step 3 for a Ready with a snapshot (restored now that it is durable, then its committed
   * entries applied), and step 4 for every Ready: read states, role changes, advance.
   */
  private finishReady(g: HostedGroup): void {
    const rd = g.inFlight!;
    g.inFlight = undefined;
    if (this.groups.get(g.id) !== g) return; // removed (or replaced) while its Ready was being persisted
    if (rd.snapshot) {
      g.sm.restore(rd.snapshot);
      this.recordConfIndex(g, rd.snapshot.meta.index);
      // Whoever waited on an index the snapshot covers cannot learn its own entry's fate here.
      this.settleProposalsUpTo(g, rd.snapshot.meta.index);
      this.applyCommitted(g, rd.committedEntries);
      // The state machine staged its writes after this turn's batch.
      this.unsyncedStaged = true;
    }
    for (const rs of rd.readStates) {
      const w = g.reads.get(contextKey(rs.context));
      if (w) w.index = rs.index;
    }
    if (rd.softState) {
      this.onSoftState?.(g.id, rd.softState, g.node.term);
      if (leadershipChannel.hasSubscribers) {
        leadershipChannel.publish({
          broker: this.nodeId,
          group: g.id,
          term: g.node.term,
          leader: rd.softState.leader,
        } satisfies LeadershipEvent);
      }
    }
    g.node.advance();
    // Advancing may make more ready (entries just made stable can commit): look again.
    this.dirty.add(g);
    this.settleReads(g);
    if (rd.softState && (rd.softState.role !== Role.Leader || rd.softState.leader !== this.nodeId)) {
      // Reads in flight through a leader that is gone would never be confirmed.
      for (const [key, w] of g.reads) {
        g.reads.delete(key);
        w.reject(this.notLeader(g));
      }
    }
  }

  /** Staged with the membership it describes, so both are durable together. */
  private recordConfIndex(g: HostedGroup, index: number): void {
    g.confIndex = index;
    this.store.putMeta(g.id, CONF_INDEX_KEY, encodeIndex(index));
  }

  /** Proposals at or below a snapshot's index: their fate cannot be learned here. */
  private settleProposalsUpTo(g: HostedGroup, index: number): void {
    for (const [i, w] of g.proposals) {
      if (i > index) continue;
      g.proposals.delete(i);
      w.reject(
        new RaftlogError(
          'COMMIT_TIMEOUT',
          'the outcome of this write is unknown (a snapshot replaced the log here)',
        ),
      );
    }
  }

  private settleReads(g: HostedGroup): void {
    const applied = g.node.appliedIndex();
    for (const [key, w] of g.reads) {
      if (w.index !== undefined && w.index <= applied) {
        g.reads.delete(key);
        w.resolve(w.index);
      }
    }
  }

  private fail(err: unknown): void {
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.log.error({ err: this.failure }, 'storage failure: this broker stops acknowledging writes');
    const stopped = new RaftlogError('STORAGE_FAILED', 'this broker stopped after a storage failure', {
      cause: this.failure,
    });
    for (const g of this.groups.values()) {
      for (const w of g.proposals.values()) w.reject(stopped);
      for (const q of g.queued) q.reject(stopped);
      for (const w of g.reads.values()) w.reject(stopped);
      g.proposals.clear();
      g.queued = [];
      g.reads.clear();
    }
    clearInterval(this.ticker);
    for (const done of this.idle.splice(0)) done();
  }

  /** Resolves when the loop has nothing left to do (for orderly shutdown and tests). */
  whenIdle(): Promise<void> {
    if (!this.turnRunning && !this.turnScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stop ticking and answering; fails every waiter; waits for the turn in progress. */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.ticker);
    this.ticker = undefined;
    await this.whenIdle();
    // Closed first, so that no turn stages more while the writes left staged are written.
    this.closed = true;
    if (this.unsyncedStaged && !this.failure) {
      this.unsyncedStaged = false;
      await this.store.commit({ sync: false }).catch((err) => this.fail(err));
    }
    this.throttle.close();
    // Writes in flight may still commit through the other replicas: their outcome is unknown.
    const unknown = new RaftlogError(
      'COMMIT_TIMEOUT',
      'this broker is shutting down; the outcome is unknown',
    );
    const closing = new RaftlogError('NOT_LEADER', 'this broker is shutting down');
    for (const g of this.groups.values()) {
      for (const w of g.proposals.values()) w.reject(unknown);
      for (const q of g.queued) q.reject(closing);
      for (const w of g.reads.values()) w.reject(closing);
    }
    this.groups.clear();
  }
}

/** A read context as a map key. */
function contextKey(ctx: Uint8Array): string {
  return Buffer.from(ctx).toString('latin1');
}

function isQuiesceMessage(m: Message): boolean {
  return (
    (m.type === MessageType.Heartbeat || m.type === MessageType.HeartbeatResp) &&
    m.context !== undefined &&
    m.context.length === QUIESCE_CONTEXT.length &&
    m.context[0] === QUIESCE_CONTEXT[0]
  );
}

function expire<K>(waiters: Map<K, { deadline: number; reject(err: Error): void }>, now: number): void {
  for (const [key, w] of waiters) {
    if (w.deadline > now) continue;
    waiters.delete(key);
    w.reject(timedOut());
  }
}

/** The queued proposals still within their deadline; the others are rejected. */
function expireQueued(queued: readonly QueuedProposal[], now: number): QueuedProposal[] {
  const kept: QueuedProposal[] = [];
  for (const q of queued) {
    if (q.deadline > now) kept.push(q);
    else q.reject(timedOut());
  }
  return kept;
}

function timedOut(): RaftlogError {
  return new RaftlogError('COMMIT_TIMEOUT', 'timed out; the outcome of this request is unknown');
}

/** Raft's refusal of a proposal as the error for its proposer: a dropped one was not written. */
function proposalRefusal(err: unknown): Error {
  if (err instanceof RaftlogError && err.code === 'PROPOSAL_DROPPED') {
    return new RaftlogError('NOT_LEADER', err.message, { cause: err, details: { leader: undefined } });
  }
  return err instanceof Error ? err : new Error(String(err));
}
