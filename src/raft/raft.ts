import { RaftlogError } from '../errors.js';
import { applyConfChangeTo, type ConfChangeResult, InvalidConfChange, isLeaveJoint } from './confchange.js';
import { decodeConfChange, encodeConfChange } from './confchange-codec.js';
import { type RaftConfig, type ResolvedRaftConfig, resolveConfig } from './config.js';
import { entriesSize, RaftLog } from './log.js';
import { type Progress, ProgressState } from './progress.js';
import { VoteResult } from './quorum.js';
import { ReadOnly } from './read-only.js';
import { isJoint, membershipFromConfState, ProgressTracker } from './tracker.js';
import {
  type ConfChange,
  ConfChangeTransition,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type ReadState,
  Role,
  type Snapshot,
} from './types.js';

const EMPTY = new Uint8Array(0);
/** Vote context marking an election started by a leadership transfer: it overrides leader leases. */
const CAMPAIGN_TRANSFER = new Uint8Array([1]);
/**
 * Heartbeat context with which a leader tells its followers that the group goes quiet: nothing is
 * in flight and every member has the whole, committed log. Drivers stop ticking quiet groups.
 */
export const QUIESCE_CONTEXT = new Uint8Array([0x51]);

/** Build a message, every unused field at its default. */
export function message(m: Partial<Message> & Pick<Message, 'type'>): Message {
  return {
    from: NONE,
    to: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...m,
  };
}

const isTransferCampaign = (m: Message): boolean =>
  m.context !== undefined && m.context.length === 1 && m.context[0] === CAMPAIGN_TRANSFER[0];

function voteResponseType(t: MessageType): MessageType {
  return t === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

function dropped(reason: string): RaftlogError {
  return new RaftlogError('PROPOSAL_DROPPED', `proposal dropped: ${reason}`);
}

type CampaignKind = 'pre-election' | 'election' | 'transfer';

/**
 * The Raft state machine of one node (Raft paper and thesis; structure after etcd-io/raft's
 * `raft.go`: the role's behaviour is a swapped `step` function). Driven by {@link RawNode}.
 */
export class Raft {
  readonly id: number;
  readonly cfg: ResolvedRaftConfig;
  term = 0;
  vote = NONE;
  lead = NONE;
  role: Role = Role.Follower;
  readonly log: RaftLog;
  readonly trk: ProgressTracker;
  /** Outgoing messages, sent by the driver after the state they depend on is persisted. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  isLearner = false;
  /** Index of the last membership change proposed by this leader; a new one waits until it applied. */
  pendingConfIndex = 0;
  /** Bytes proposed but not yet applied (leader only), bounded by maxUncommittedEntriesSize. */
  private uncommittedSize = 0;
  leadTransferee = NONE;
  private readonly readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its own term. */
  private pendingReadIndexMessages: Message[] = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private stepRole: (m: Message) => void = (m) => this.stepFollower(m);

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.log = new RaftLog(this.cfg.storage, this.cfg.applied);
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes);
    const { hardState, confState } = this.cfg.storage.initialState();
    this.restoreMembership(confState);
    if (hardState.term > 0 || hardState.vote !== NONE || hardState.commit > 0) this.loadHardState(hardState);
    this.becomeFollower(this.term, NONE);
  }

  private loadHardState(hs: HardState): void {
    if (hs.commit > this.log.lastIndex()) {
      throw new Error(`raft: stored commit ${hs.commit} is beyond the last index ${this.log.lastIndex()}`);
    }
    // A snapshot may cover more than the stored commit index; the snapshot is committed too.
    this.log.committed = Math.max(hs.commit, this.log.committed);
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---- role transitions ------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTick + this.cfg.randomInt(this.cfg.electionTick);
    this.leadTransferee = NONE;
    this.trk.resetVotes();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      const fresh = this.trk.newProgress(last + 1, pr.isLearner);
      // Others must prove themselves active again; our own copy counts once it is stable.
      fresh.recentActive = id === this.id;
      if (id === this.id) fresh.match = this.log.lastStableIndex();
      this.trk.progress.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly.reset();
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: number): void {
    this.stepRole = (m) => this.stepFollower(m);
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomeCandidate(): void {
    if (this.role === Role.Leader) throw new Error('raft: leader cannot become candidate');
    this.stepRole = (m) => this.stepCandidate(m);
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomePreCandidate(): void {
    if (this.role === Role.Leader) throw new Error('raft: leader cannot become pre-candidate');
    // A pre-candidate changes neither its term nor its vote: it only asks whether it could win.
    this.stepRole = (m) => this.stepCandidate(m);
    this.trk.resetVotes();
    this.lead = NONE;
    this.role = Role.PreCandidate;
  }

  private becomeLeader(): void {
    if (this.role === Role.Follower) throw new Error('raft: follower cannot become leader');
    this.stepRole = (m) => this.stepLeader(m);
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    this.trk.progress.get(this.id)?.becomeReplicate();
    // The no-op of this term: committing it commits every earlier entry (§5.4.2, §8).
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }]);
    // No membership change until the no-op applies: any change in the uncommitted tail is then
    // done, and an entry of this term has committed (the fix to single-server changes, thesis §4.1).
    this.pendingConfIndex = this.log.lastIndex();
  }

  // ---- time --------------------------------------------------------------------------------

  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.hup(this.cfg.preVote ? 'pre-election' : 'election');
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.checkQuorum();
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === Role.Leader && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== Role.Leader) return;
    const beat = this.heartbeatElapsed >= this.cfg.heartbeatTick;
    if (beat) this.heartbeatElapsed = 0;
    this.heartbeatIdleMembers(beat);
  }

  /**
   * Heartbeat every member this leader has sent nothing for `heartbeatTick` ticks, and on `beat`
   * (every `heartbeatTick` ticks) every member while a ReadIndex request waits for their answers
   * (the first heartbeat or its answer may have been lost). etcd-io/raft heartbeats every member on
   * the one clock; but a member that is sent appends hears from its leader at least as often
   * without them, and answers those: under load, heartbeats, their answers and the empty appends
   * those answers bring while entries are in flight are messages for nothing.
   */
  private heartbeatIdleMembers(beat: boolean): void {
    const context = this.readOnly.lastPendingContext();
    const everyone = beat && context !== undefined;
    for (const id of this.trk.memberIds()) {
      if (id === this.id) continue;
      const pr = this.trk.progress.get(id)!;
      if (++pr.idleTicks >= this.cfg.heartbeatTick || everyone) this.sendHeartbeat(id, pr, context);
    }
  }

  // ---- elections ---------------------------------------------------------------------------

  /**
   * Whether this node may become leader: a voter, with no snapshot waiting to be persisted. A node
   * removed from the configuration may also run while its log reaches past its commit index: it
   * may hold entries no voter has (a removed leader deposed before handing over), and voters that
   * have not applied its removal need its vote, which it refuses them while their logs are behind.
   * It then leads as a non-member until a voter holds its whole log (see stepDownAfterRemoval).
   */
  private promotable(): boolean {
    if (this.log.pendingSnapshot() !== undefined) return false;
    const pr = this.trk.progress.get(this.id);
    if (pr === undefined)
      return this.trk.voterNodes().length > 0 && this.log.lastIndex() > this.log.committed;
    return !pr.isLearner;
  }

  hup(kind: CampaignKind): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const ents = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    // Not in memory yet: try again on a later tick.
    if (ents === undefined) return true;
    if (ents === 'compacted') return false;
    return ents.some((e) => e.type === EntryType.ConfChange);
  }

  private campaign(kind: CampaignKind): void {
    let voteType: MessageType;
    let term: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      // Pre-votes are asked for the term the election would use; ours does not change yet.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, true) === VoteResult.Won) {
      // A single voter wins at once.
      if (kind === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.trk.voterNodes()) {
      if (id === this.id) continue;
      this.send(
        message({
          type: voteType,
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          ...(kind === 'transfer' ? { context: CAMPAIGN_TRANSFER } : {}),
        }),
      );
    }
  }

  private poll(id: number, granted: boolean): VoteResult {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes();
  }

  // ---- the message entry point -----------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // Local message, or a proposal / read request forwarded by a follower.
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const inLease =
          this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTick;
        // Leader lease: while we hear from a leader, vote requests are ignored (thesis §4.2.3),
        // unless the election was started by a leadership transfer.
        if (inLease && !isTransferCampaign(m)) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the term we asked for; we move to it only when we win.
      } else if (
        m.type === MessageType.App ||
        m.type === MessageType.Heartbeat ||
        m.type === MessageType.Snap
      ) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.cfg.checkQuorum || this.cfg.preVote) &&
        (m.type === MessageType.Heartbeat || m.type === MessageType.App)
      ) {
        // A stale leader (for example one that was partitioned away) learns our term from this
        // answer and steps down; without it, it could keep its followers from electing anyone.
        this.send(message({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote || m.type === MessageType.Vote) {
        // The candidate learns our term from the refusal (Raft §5.1); ignored, a candidate whose
        // term trails ours (we time out as often as it does) could stay behind indefinitely.
        this.send(message({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.cfg.preVote ? 'pre-election' : 'election');
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          // The answer carries the term of the request: for a pre-vote that is a future term.
          this.send(message({ type: voteResponseType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(message({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        this.stepRole(m);
    }
  }

  // ---- leader ------------------------------------------------------------------------------

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        this.checkQuorum();
        return;
      case MessageType.Prop:
        this.leaderPropose(m);
        return;
      case MessageType.ReadIndex:
        if (this.trk.isSingleton()) {
          this.respondToReadIndex(m, this.log.committed);
        } else if (!this.committedEntryInCurrentTerm()) {
          // Until an entry of this term commits, our commit index may be behind the true one.
          this.pendingReadIndexMessages.push(m);
        } else {
          this.startReadIndex(m);
        }
        return;
    }

    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp: {
        pr.recentActive = true;
        if (m.reject) {
          let nextProbe = m.rejectHint;
          if (m.logTerm > 0) {
            // Fast backtracking: skip every entry of ours whose term the follower cannot have.
            nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
          }
          if (pr.maybeDecrTo(m.index, nextProbe)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
          return;
        }
        const wasPaused = pr.isPaused();
        if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
          if (pr.state === ProgressState.Probe) {
            pr.becomeReplicate();
          } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.log.firstIndex()) {
            // The follower caught up through the snapshot (or an append) and can take entries.
            pr.becomeProbe();
            pr.becomeReplicate();
          } else if (pr.state === ProgressState.Replicate) {
            pr.inflights.freeLE(m.index);
          }
          if (this.maybeCommit()) {
            this.releasePendingReadIndexMessages();
            this.bcastAppend();
          } else if (wasPaused) {
            this.sendAppend(m.from);
          }
          // Keep the pipeline full.
          while (this.maybeSendAppend(m.from, false)) {}
          if (m.from === this.leadTransferee && pr.match === this.log.lastIndex())
            this.sendTimeoutNow(m.from);
          if (!this.trk.progress.has(this.id) || this.isLearner) this.stepDownAfterRemoval();
        }
        return;
      }
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        if (!this.probeFullWindow(m.from, pr)) {
          pr.msgAppFlowPaused = false;
          if (pr.match < this.log.lastIndex() || pr.state === ProgressState.Probe) this.sendAppend(m.from);
        }
        if (m.context === undefined) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks || this.trk.ackResult(acks) !== VoteResult.Won) return;
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.request, rs.index);
        return;
      }
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for a heartbeat answer before probing: the snapshot may still be applying.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
      case MessageType.TransferLeader: {
        if (pr.isLearner) return;
        const transferee = m.from;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === transferee) return;
          this.leadTransferee = NONE;
        }
        if (transferee === this.id) return;
        // The transfer must finish within an election timeout.
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
        else this.sendAppend(transferee);
        return;
      }
    }
  }

  private leaderPropose(m: Message): void {
    if (m.entries.length === 0) throw new RaftlogError('INVALID_REQUEST', 'empty proposal');
    if (!this.trk.progress.has(this.id)) throw dropped('this node is no longer a member');
    if (this.leadTransferee !== NONE)
      throw dropped(`leadership is being transferred to ${this.leadTransferee}`);
    let confAt = -1;
    m.entries.forEach((e, i) => {
      if (e.type !== EntryType.ConfChange) return;
      if (confAt >= 0) throw dropped('more than one membership change in one proposal');
      this.checkConfChangeProposal(decodeConfChange(e.data));
      confAt = i;
    });
    const first = this.log.lastIndex() + 1;
    if (!this.appendEntries(m.entries)) throw dropped('too many uncommitted bytes');
    if (confAt >= 0) this.pendingConfIndex = first + confAt;
    this.bcastAppend();
  }

  /** Refuse a membership change that may not be made now (thesis §4.1 and its known fix). */
  private checkConfChangeProposal(cc: ConfChange): void {
    if (this.pendingConfIndex > this.log.applied) {
      throw dropped('a membership change is pending, or no entry of this term has been applied yet');
    }
    const joint = isJoint(this.trk.config);
    if (joint && !isLeaveJoint(cc)) throw dropped('the configuration is joint: leave it first');
    if (!joint && isLeaveJoint(cc)) throw dropped('the configuration is not joint');
    try {
      applyConfChangeTo(this.trk, cc, this.log.lastIndex());
    } catch (err) {
      if (err instanceof InvalidConfChange) throw dropped(`invalid membership change: ${err.message}`);
      throw err;
    }
  }

  /** Append entries of this term to the leader's log. Returns false when over the byte budget. */
  private appendEntries(entries: readonly Entry[]): boolean {
    const size = entriesSize(entries);
    const limit = this.cfg.maxUncommittedEntriesSize;
    // An empty (no-op) entry is always accepted, and so is anything when nothing is outstanding.
    if (limit > 0 && size > 0 && this.uncommittedSize > 0 && this.uncommittedSize + size > limit)
      return false;
    this.uncommittedSize += size;
    let index = this.log.lastIndex();
    const stamped = entries.map(
      (e): Entry => ({ term: this.term, index: ++index, type: e.type, data: e.data }),
    );
    this.log.append(stamped);
    // The leader's own copy counts toward the quorum only after it is persisted (see advance).
    return true;
  }

  private maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private checkQuorum(): void {
    if (this.role !== Role.Leader) return;
    if (!this.trk.quorumActive()) {
      this.becomeFollower(this.term, NONE);
      return;
    }
    for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
  }

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /** Send entries (or a snapshot) to `to` if flow control allows. Returns whether anything was sent. */
  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const lastIndex = this.log.lastIndex();
    const ents =
      prevTerm === undefined ? 'compacted' : this.log.slice(pr.next, lastIndex + 1, this.cfg.maxSizePerMsg);
    if (ents === undefined) return false; // being loaded into memory: see entriesLoaded
    if (ents === 'compacted') return this.sendSnapshot(to);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      message({
        type: MessageType.App,
        to,
        index: prevIndex,
        logTerm: prevTerm!,
        entries: ents,
        commit: this.log.committed,
      }),
    );
    pr.sentEntries(ents.length, entriesSize(ents));
    return true;
  }

  /**
   * When the appends in flight to `to` fill its window, ask with an empty append after the last
   * of them whether they arrived (a follower that lost some refuses it, and the leader backs up),
   * rather than send entries past the in-flight limits: those limits bound what a slow follower
   * (a learner held back by a bandwidth limit) has on its way. Returns whether it did.
   */
  private probeFullWindow(to: number, pr: Progress): boolean {
    if (pr.state !== ProgressState.Replicate || !pr.inflights.full()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return false; // compacted: the usual path sends a snapshot
    this.send(
      message({
        type: MessageType.App,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: [],
        commit: this.log.committed,
      }),
    );
    return true;
  }

  private sendSnapshot(to: number): boolean {
    const pr = this.trk.progress.get(to)!;
    // A member that has not answered lately is probably down: do not ship it a snapshot.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    if (snapshot.meta.index === 0) throw new Error('raft: entries are compacted but there is no snapshot');
    this.send(message({ type: MessageType.Snap, to, snapshot }));
    pr.becomeSnapshot(snapshot.meta.index);
    return true;
  }

  /** The storage loaded entries it was asked for: send the appends that waited for them. */
  entriesLoaded(): void {
    if (this.role !== Role.Leader) return;
    for (const id of this.trk.memberIds()) if (id !== this.id) this.maybeSendAppend(id, false);
  }

  private bcastAppend(): void {
    for (const id of this.trk.memberIds()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithContext(this.readOnly.lastPendingContext());
  }

  private bcastHeartbeatWithContext(context: Uint8Array | undefined): void {
    for (const id of this.trk.memberIds()) {
      if (id !== this.id) this.sendHeartbeat(id, this.trk.progress.get(id)!, context);
    }
  }

  private sendHeartbeat(to: number, pr: Progress, context: Uint8Array | undefined): void {
    // Never tell a follower to commit past what it is known to hold.
    const commit = Math.min(pr.match, this.log.committed);
    this.send(message({ type: MessageType.Heartbeat, to, commit, ...(context ? { context } : {}) }));
  }

  private sendTimeoutNow(to: number): void {
    this.send(message({ type: MessageType.TimeoutNow, to }));
  }

  private startReadIndex(m: Message): void {
    const context = m.context ?? EMPTY;
    this.readOnly.addRequest(this.log.committed, { ...m, context });
    this.readOnly.recvAck(this.id, context);
    this.bcastHeartbeatWithContext(context);
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.startReadIndex(m);
  }

  private respondToReadIndex(request: Message, index: number): void {
    const context = request.context ?? EMPTY;
    if (request.from === NONE || request.from === this.id) {
      this.readStates.push({ index, context });
    } else {
      this.send(message({ type: MessageType.ReadIndexResp, to: request.from, index, context }));
    }
  }

  // ---- candidate ---------------------------------------------------------------------------

  private stepCandidate(m: Message): void {
    const myResponse = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw dropped('no leader');
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myResponse: {
        const result = this.poll(m.from, !m.reject);
        if (result === VoteResult.Won) {
          if (this.role === Role.PreCandidate) {
            this.campaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.Lost) {
          // A pre-vote answer carries a future term: stay in ours.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  // ---- follower ----------------------------------------------------------------------------

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) throw dropped('no leader');
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.TimeoutNow:
        // The leader chose us: campaign at once, past any leases (thesis §3.10).
        this.hup('transfer');
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context ?? EMPTY });
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Tell the leader where our logs may match: the last index at or below its probe whose term
    // is not above the one it expected, so it can skip whole terms (fast backtracking).
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(
      Math.min(m.index, this.log.lastIndex()),
      m.logTerm,
    );
    this.send(
      message({
        type: MessageType.AppResp,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hintIndex,
        logTerm: hintTerm,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(
      message({ type: MessageType.HeartbeatResp, to: m.from, ...(m.context ? { context: m.context } : {}) }),
    );
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    if (!snapshot) return;
    if (this.restore(snapshot)) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.log.committed }));
    }
  }

  /** Install an incoming snapshot. Returns false when it is stale or our log already covers it. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.meta;
    if (index <= this.log.committed) return false;
    // Unlike etcd-io/raft, a snapshot whose membership does not include us yet is installed too:
    // a new member can be sent a snapshot older than the change that added it, and refusing it
    // would leave that member unable to ever catch up.
    if (this.log.matchTerm(index, term)) {
      // Our log already has the snapshot's last entry: just move the commit index.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.restoreMembership(confState);
    return true;
  }

  // ---- membership --------------------------------------------------------------------------

  private restoreMembership(cs: ConfState): void {
    const config = membershipFromConfState(cs);
    const progress = new Map<number, ReturnType<ProgressTracker['newProgress']>>();
    const next = this.log.lastIndex() + 1;
    for (const id of [...config.voters.incoming, ...config.voters.outgoing])
      progress.set(id, this.trk.newProgress(next, false));
    for (const id of config.learners) progress.set(id, this.trk.newProgress(next, true));
    this.switchToConfig({ config, progress });
  }

  /** Apply a committed membership change; an invalid one is ignored the same way on every node. */
  applyConfChange(cc: ConfChange): ConfState {
    let result: ConfChangeResult;
    try {
      result = applyConfChangeTo(this.trk, cc, this.log.lastIndex());
    } catch (err) {
      if (err instanceof InvalidConfChange) return this.trk.confState();
      throw err;
    }
    return this.switchToConfig(result);
  }

  private switchToConfig(result: ConfChangeResult): ConfState {
    this.trk.setConfig(result.config, result.progress);
    const cs = this.trk.confState();
    const self = this.trk.progress.get(this.id);
    this.isLearner = self?.isLearner ?? false;
    if (this.role !== Role.Leader) return cs;
    if (!self || this.isLearner) {
      this.stepDownAfterRemoval();
      return cs;
    }
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.trk.memberIds()) if (id !== this.id) this.maybeSendAppend(id, false);
    if (this.leadTransferee !== NONE && !this.trk.config.voters.incoming.has(this.leadTransferee)) {
      this.leadTransferee = NONE;
    }
    return cs;
  }

  /**
   * A leader removed from (or demoted in) the configuration steps down once the change applies
   * (thesis §4.2.2) and some voter holds its whole log; it hands leadership to that voter, so the
   * group does not wait an election timeout. Until then it keeps replicating: stepping down while
   * every voter lacks some of its entries would leave no voter able to win its vote.
   */
  private stepDownAfterRemoval(): void {
    const last = this.log.lastIndex();
    const heir = this.trk
      .voterNodes()
      .find((id) => id !== this.id && this.trk.progress.get(id)?.match === last);
    if (heir === undefined) return;
    this.sendTimeoutNow(heir);
    this.becomeFollower(this.term, NONE);
  }

  // ---- quiescence ---------------------------------------------------------------------------

  /**
   * Leader only: when the whole log is committed, applied, persisted and held by every member
   * (members in `unreachable` aside), broadcast a heartbeat with {@link QUIESCE_CONTEXT} and return
   * true: the driver may then stop ticking this group until something happens.
   */
  quiesce(unreachable: ReadonlySet<number>): boolean {
    if (this.role !== Role.Leader || this.leadTransferee !== NONE || isJoint(this.trk.config)) return false;
    const last = this.log.lastIndex();
    if (this.log.committed !== last || this.log.applied !== last || this.log.lastStableIndex() !== last)
      return false;
    if (this.pendingReadIndexMessages.length > 0 || this.readOnly.lastPendingContext() !== undefined)
      return false;
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id || unreachable.has(id)) continue;
      if (pr.match !== last || pr.state !== ProgressState.Replicate) return false;
    }
    this.bcastHeartbeatWithContext(QUIESCE_CONTEXT);
    return true;
  }

  /** Whether this follower holds `leader`'s whole committed log, so it may stop ticking too. */
  quiescentFollowerOf(leader: number): boolean {
    return this.role === Role.Follower && this.lead === leader && this.log.committed === this.log.lastIndex();
  }

  // ---- driver hand-off ---------------------------------------------------------------------

  /** The driver persisted entries up to (`index`, `term`): a leader may now count its own copy. */
  onStable(index: number, term: number): void {
    this.log.stableTo(index, term);
    if (this.role !== Role.Leader) return;
    const self = this.trk.progress.get(this.id);
    if (self?.maybeUpdate(this.log.lastStableIndex()) && this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  /** The driver applied committed entries up to `index`. */
  onApplied(index: number, appliedBytes: number): void {
    this.log.appliedTo(index);
    if (this.role !== Role.Leader) return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - appliedBytes);
    // Joint consensus with auto-leave: once the joint configuration is applied, leave it.
    const cfg = this.trk.config;
    if (cfg.autoLeave && isJoint(cfg) && index >= this.pendingConfIndex) {
      const leave = encodeConfChange({ transition: ConfChangeTransition.Auto, changes: [] });
      this.appendEntries([{ term: 0, index: 0, type: EntryType.ConfChange, data: leave }]);
      this.pendingConfIndex = this.log.lastIndex();
      this.bcastAppend();
    }
  }

  private send(m: Message): void {
    if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
      // What resets a follower's election clock also resets the leader's heartbeat clock for it.
      const pr = this.trk.progress.get(m.to);
      if (pr) pr.idleTicks = 0;
    }
    // Proposals and read requests forwarded to the leader keep term 0: they are treated as local there.
    const term = m.type === MessageType.Prop || m.type === MessageType.ReadIndex ? 0 : m.term || this.term;
    this.msgs.push({ ...m, from: this.id, term });
  }
}
