import { isErrorCode } from '../errors.js';
import { encodeConfChange } from './confchange-codec.js';
import type { RaftConfig } from './config.js';
import { entriesSize } from './log.js';
import type { ProgressState } from './progress.js';
import { message, Raft } from './raft.js';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type Ready,
  Role,
  type SoftState,
} from './types.js';

export { ProgressState } from './progress.js';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  /** Heard from within the last election timeout (meaningful on the leader only). */
  readonly recentActive: boolean;
}

/** A snapshot of a node's state for observers (metrics, tests, status pages). */
export interface Status {
  readonly id: number;
  readonly hardState: HardState;
  readonly role: Role;
  readonly leader: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** Set while a leadership transfer to that node is in progress (leader only). */
  readonly leadTransferee: number;
  /** Per-node replication progress; only on the leader. */
  readonly progress?: ReadonlyMap<number, ProgressStatus>;
}

/** Messages that only the node itself may generate; `step` refuses them from peers. */
const LOCAL_ONLY = new Set<MessageType>([
  MessageType.Hup,
  MessageType.Beat,
  MessageType.Unreachable,
  MessageType.SnapStatus,
  MessageType.CheckQuorum,
]);

const RESPONSES = new Set<MessageType>([
  MessageType.AppResp,
  MessageType.VoteResp,
  MessageType.PreVoteResp,
  MessageType.HeartbeatResp,
]);

/**
 * What a handed-out Ready covered, so that `advance()` can acknowledge exactly that; the applied
 * part grows when committed entries are handed out while the Ready is in flight.
 */
interface Accepted {
  readonly lastEntry?: { index: number; term: number };
  readonly snapshotIndex: number;
  appliedIndex: number;
  appliedBytes: number;
}

const sameHardState = (a: HardState, b: HardState): boolean =>
  a.term === b.term && a.vote === b.vote && a.commit === b.commit;

/**
 * The pure Raft node: the driver feeds it time (`tick`), messages (`step`) and requests
 * (`propose`, `proposeConfChange`, `transferLeader`, `readIndex`), takes its output with `ready()`,
 * carries it out in the order documented on {@link Ready}, then calls `advance()`.
 *
 * No method blocks, performs I/O or reads a clock. Requests that are refused throw a
 * `RaftlogError` (`PROPOSAL_DROPPED` when a proposal cannot be accepted right now).
 *
 * A new group starts from storage whose `initialState().confState` lists its initial voters
 * (the driver writes it before the first start); a node added later starts empty and learns its
 * membership from the leader's log or snapshot.
 *
 * Between `ready()` and `advance()` the node may still be stepped and ticked; `hasReady()` is
 * false until the outstanding Ready is advanced, but what commits meanwhile can be taken with
 * `committedEntriesInFlight()`.
 */
export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private accepted: Accepted | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  get id(): number {
    return this.raft.id;
  }

  /** Current role (cheap; `status()` for everything). */
  get role(): Role {
    return this.raft.role;
  }

  /** The leader this node knows of, or 0. */
  get leader(): number {
    return this.raft.lead;
  }

  get term(): number {
    return this.raft.term;
  }

  /** Whether `id` is a learner of the membership in force (or becomes one when a joint change is left). */
  isLearner(id: number): boolean {
    const c = this.raft.trk.config;
    return c.learners.has(id) || c.learnersNext.has(id);
  }

  /** Index of the last entry the driver reported applied. */
  appliedIndex(): number {
    return this.raft.log.applied;
  }

  /** Index of the last entry in this node's log (stable or not). */
  lastIndex(): number {
    return this.raft.log.lastIndex();
  }

  /**
   * Leader only: if the group is idle and every member (but those in `unreachable`) holds the
   * whole committed log, tell the followers to go quiet and return true. The driver then stops
   * ticking the group until a proposal, a read or any message wakes it.
   */
  quiesce(unreachable: ReadonlySet<number> = new Set()): boolean {
    return this.raft.quiesce(unreachable);
  }

  /** After a quiesce heartbeat from `leader`: whether this follower may stop ticking too. */
  quiescentFollowerOf(leader: number): boolean {
    return this.raft.quiescentFollowerOf(leader);
  }

  /** Advance logical time by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Start an election now (a pre-election first when PreVote is on). */
  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup }));
  }

  /** Propose application data; forwarded to the leader when this node is a follower. */
  propose(data: Uint8Array): void {
    this.proposeBatch([data]);
  }

  /**
   * Propose several entries of application data at once, appended together (all or none): the
   * leader sends them to each follower in one append message instead of one message per entry.
   */
  proposeBatch(data: readonly Uint8Array[]): void {
    this.raft.step(
      message({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d })),
      }),
    );
  }

  /** Propose a membership change (refused while another one is pending). */
  proposeConfChange(cc: ConfChange): void {
    const data = encodeConfChange(cc);
    this.raft.step(
      message({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }],
      }),
    );
  }

  /**
   * Feed a message received from a peer. Local-only message types are refused; answers from
   * nodes that are not members, and proposals this node cannot take, are dropped silently.
   */
  step(m: Message): void {
    if (LOCAL_ONLY.has(m.type)) throw new RangeError(`raft: message type ${m.type} cannot come from a peer`);
    if (m.to !== this.raft.id) return;
    if (RESPONSES.has(m.type) && !this.raft.trk.progress.has(m.from)) return;
    try {
      this.raft.step(m);
    } catch (err) {
      // A forwarded proposal that cannot be taken: its sender learns through its own timeout.
      if (
        m.type === MessageType.Prop &&
        (isErrorCode(err, 'PROPOSAL_DROPPED') || isErrorCode(err, 'INVALID_REQUEST'))
      ) {
        return;
      }
      throw err;
    }
  }

  /** Ask the leader to hand leadership to `to` (caught up first, then TimeoutNow). */
  transferLeader(to: number): void {
    this.raft.step(message({ type: MessageType.TransferLeader, from: to }));
  }

  /** Request a linearizable read point; answered in `Ready.readStates` with the same context. */
  readIndex(context: Uint8Array): void {
    this.raft.step(message({ type: MessageType.ReadIndex, context }));
  }

  /** Apply a committed ConfChange entry's change; returns the membership now in force. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** The driver could not deliver a message to `id`. */
  reportUnreachable(id: number): void {
    this.raft.step(message({ type: MessageType.Unreachable, from: id }));
  }

  /** The driver finished sending a snapshot to `id` (`ok` false if it failed). */
  reportSnapshot(id: number, ok: boolean): void {
    this.raft.step(message({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  /**
   * Entries the storage answered `undefined` for (loading them) are in memory now: a leader sends
   * the appends that waited for them, rather than on its next unrelated event.
   */
  entriesLoaded(): void {
    this.raft.entriesLoaded();
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }

  hasReady(): boolean {
    if (this.accepted) return false;
    const r = this.raft;
    const soft = this.softState();
    return (
      soft.leader !== this.prevSoft.leader ||
      soft.role !== this.prevSoft.role ||
      !sameHardState(r.hardState(), this.prevHard) ||
      r.log.pendingSnapshot() !== undefined ||
      r.log.unstable().length > 0 ||
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.hasNextCommittedEntries()
    );
  }

  /** Everything the driver must do now; see {@link Ready} for the order. Call `advance()` after. */
  ready(): Ready {
    if (this.accepted) throw new Error('raft: ready() called again before advance()');
    const r = this.raft;
    const entries = [...r.log.unstable()];
    const snapshot = r.log.pendingSnapshot();
    const committedEntries = r.log.nextCommittedEntries(r.cfg.maxCommittedSizePerReady) ?? [];
    const soft = this.softState();
    const hard = r.hardState();
    const softChanged = soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role;
    const hardChanged = !sameHardState(hard, this.prevHard);
    const rd: Ready = {
      ...(softChanged ? { softState: soft } : {}),
      ...(hardChanged ? { hardState: hard } : {}),
      entries,
      ...(snapshot ? { snapshot } : {}),
      committedEntries,
      messages: r.msgs,
      readStates: r.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hard.term !== this.prevHard.term ||
        hard.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    this.prevSoft = soft;
    this.prevHard = hard;
    const last = entries[entries.length - 1];
    const lastApplied = committedEntries[committedEntries.length - 1];
    if (lastApplied) r.log.applyingTo(lastApplied.index);
    if (last) r.log.persistingTo(last.index);
    this.accepted = {
      ...(last ? { lastEntry: { index: last.index, term: last.term } } : {}),
      snapshotIndex: snapshot?.meta.index ?? 0,
      appliedIndex: lastApplied?.index ?? 0,
      appliedBytes: entriesSize(committedEntries),
    };
    return rd;
  }

  /**
   * While a Ready is outstanding (between `ready()` and `advance()`): entries that committed since
   * it was handed out (a follower's answer reached this leader, a leader's commit index reached this
   * follower), to be applied now, after the Ready's own committed entries. They are on a majority
   * of disks already; only entries this node has stable or staged in the outstanding Ready are
   * handed out, so the driver's state-machine writes never precede the entries in its store.
   * Nothing while the Ready installs a snapshot. `advance()` acknowledges them with the Ready, and
   * no later Ready hands them out again.
   */
  committedEntriesInFlight(): readonly Entry[] {
    const a = this.accepted;
    if (!a || a.snapshotIndex > 0) return [];
    const r = this.raft;
    const entries = r.log.nextStagedCommittedEntries(r.cfg.maxCommittedSizePerReady) ?? [];
    const last = entries[entries.length - 1];
    if (!last) return entries;
    r.log.applyingTo(last.index);
    a.appliedIndex = last.index;
    a.appliedBytes += entriesSize(entries);
    return entries;
  }

  /** Acknowledge that the last Ready was carried out: persisted, sent and applied. */
  advance(): void {
    const a = this.accepted;
    if (!a) throw new Error('raft: advance() without a Ready');
    this.accepted = undefined;
    const r = this.raft;
    r.log.persistingTo(0);
    if (a.snapshotIndex > 0) {
      r.log.stableSnapTo(a.snapshotIndex);
      r.log.appliedTo(a.snapshotIndex);
    }
    if (a.lastEntry) r.onStable(a.lastEntry.index, a.lastEntry.term);
    if (a.appliedIndex > 0) r.onApplied(a.appliedIndex, a.appliedBytes);
  }

  status(): Status {
    const r = this.raft;
    const base = {
      id: r.id,
      hardState: r.hardState(),
      role: r.role,
      leader: r.lead,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      confState: r.trk.confState(),
      leadTransferee: r.leadTransferee,
    };
    if (r.role !== Role.Leader) return base;
    const progress = new Map<number, ProgressStatus>();
    for (const [id, pr] of r.trk.progress) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        isLearner: pr.isLearner,
        recentActive: pr.recentActive,
      });
    }
    return { ...base, progress };
  }
}
