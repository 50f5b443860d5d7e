import { decodeConfChange } from '../../../src/raft/confchange-codec.js';
import { RawNode } from '../../../src/raft/rawnode.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type ReadState,
  type Ready,
  type Snapshot,
} from '../../../src/raft/types.js';
import type { GroupLog } from '../../../src/storage/log-store.js';
import type { MemoryLogStore } from '../../../src/storage/memory-log-store.js';
import { InvariantViolation, type LogView, type NodeView } from './invariants.js';
import type { RandomInt } from './prng.js';
import type { CrashPoint } from './schedule.js';
import { type AppliedCommand, ListStateMachine } from './state-machine.js';
import type { SimStats } from './stats.js';

/** The one Raft group every simulated node runs. */
export const GROUP = 1;
/** Meta key of the state machine's durable copy (its encoded state, which holds its applied index). */
const STATE_KEY = 'sm';

/** Core settings shared by the simulated nodes (small limits, so flow control is exercised). */
export interface SimNodeOptions {
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxCommittedSizePerReady: number;
}

/** What a node's driver tells the rest of the simulation. */
export interface DriverHooks {
  /** Put a message on the network; false if it was lost at once (partition). */
  send(message: Message): boolean;
  applied(nodeId: number, entry: Entry): void;
  restored(nodeId: number, applied: number, state: readonly AppliedCommand[]): void;
  readServed(nodeId: number, rs: ReadState): void;
}

function contract(nodeId: number, detail: string): InvariantViolation {
  return new InvariantViolation('Ready contract', `node ${nodeId}: ${detail}`);
}

/**
 * One simulated process: a {@link RawNode}, its {@link MemoryLogStore} and its state machine,
 * with the driver loop that carries out each `Ready` in the documented order (persist, send,
 * apply, advance) and asserts the parts of that contract it can see. It can crash at any step
 * of that loop and restart from only what its store had committed.
 */
export class SimNode {
  private node: RawNode | undefined;
  private sm = ListStateMachine.empty();
  /** Membership as of `sm.applied` (what snapshots taken now must carry). */
  private confState: ConfState;
  private armedCrash: CrashPoint | undefined;
  /** Read states handed out whose index is not applied yet. */
  private pendingReads: ReadState[] = [];

  constructor(
    readonly id: number,
    private store: MemoryLogStore,
    private readonly randomInt: RandomInt,
    private readonly options: SimNodeOptions,
    private readonly hooks: DriverHooks,
    /** Where this node counts what it did (shared by the cluster's nodes). */
    private readonly stats: SimStats,
  ) {
    this.confState = this.group().initialState().confState;
  }

  get live(): boolean {
    return this.node !== undefined;
  }

  /** The running core; only call while {@link live}. */
  get raw(): RawNode {
    if (this.node === undefined) throw new Error(`node ${this.id} is down`);
    return this.node;
  }

  /**
   * Start (or restart) from the store: the state machine resumes from its durable copy or from
   * the store's snapshot, whichever is newer, and the core re-delivers committed entries above it.
   */
  start(): void {
    const g = this.group();
    const durable = this.store.getMeta(GROUP, STATE_KEY);
    let sm = durable === undefined ? ListStateMachine.empty() : ListStateMachine.decode(durable);
    const snap = g.snapshot();
    if (snap.meta.index > sm.applied) sm = ListStateMachine.decode(snap.data);
    this.sm = sm;
    this.hooks.restored(this.id, sm.applied, sm.state);
    this.confState = g.initialState().confState;
    this.node = new RawNode({
      id: this.id,
      storage: g,
      applied: sm.applied,
      randomInt: this.randomInt,
      ...this.options,
    });
  }

  /** Lose everything not committed to the store; the node stays down until {@link start}. */
  crash(): void {
    this.store = this.store.crash();
    this.node = undefined;
    this.armedCrash = undefined;
    this.pendingReads = [];
  }

  /** Crash at `at` while carrying out the next Ready (or now, for `now`). */
  armCrash(at: CrashPoint): void {
    if (!this.live) return;
    if (at !== 'now') this.armedCrash = at;
    else {
      this.stats.crashes++;
      this.crash();
    }
  }

  disarmCrash(): void {
    this.armedCrash = undefined;
  }

  /** Snapshot the state machine at its applied index and compact the log up to it. */
  compact(): void {
    const g = this.group();
    const index = this.sm.applied;
    if (index <= g.snapshot().meta.index) return;
    const snapshot: Snapshot = {
      meta: { index, term: g.term(index), confState: this.confState },
      data: this.sm.encode(),
    };
    this.store.compact(GROUP, snapshot);
    this.store.commitSync();
    this.stats.compactions++;
  }

  /** The commands its state machine has applied. */
  appliedCommands(): readonly AppliedCommand[] {
    return this.sm.state;
  }

  /** The node's state for the safety monitor (only while live). */
  view(): NodeView {
    const st = this.raw.status();
    return {
      id: this.id,
      term: st.hardState.term,
      vote: st.hardState.vote,
      commit: st.hardState.commit,
      role: st.role,
      applied: st.applied,
      log: this.logView(),
    };
  }

  /** Carry out every Ready the core has, in the documented order; stops if the node crashes. */
  drain(): void {
    while (this.node?.hasReady()) {
      const node = this.node;
      const rd = node.ready();
      const durable = this.group().initialState().hardState;
      this.checkBeforePersist(rd, durable);

      // 1. Persist.
      if (rd.snapshot) this.store.applySnapshot(GROUP, rd.snapshot);
      if (rd.entries.length > 0) this.store.append(GROUP, rd.entries);
      if (rd.hardState) this.store.setHardState(GROUP, rd.hardState);
      if (this.crashesAt('beforePersist')) return;
      this.store.commitSync();
      this.checkMessagesBacked(rd);
      if (this.crashesAt('afterPersist')) return;

      // 2. Send.
      const half = Math.ceil(rd.messages.length / 2);
      this.send(rd.messages.slice(0, half));
      if (this.crashesAt('midSend')) return;
      this.send(rd.messages.slice(half));
      if (this.crashesAt('afterSend')) return;

      // 3. Apply, making the state machine's progress durable with it.
      if (rd.snapshot) this.restore(rd.snapshot);
      const split = Math.ceil(rd.committedEntries.length / 2);
      this.apply(rd.committedEntries.slice(0, split));
      if (this.crashesAt('midApply')) return;
      this.apply(rd.committedEntries.slice(split));
      if (this.crashesAt('beforeAdvance')) return;

      // 4. Advance; a read is served once its index is applied.
      node.advance();
      this.pendingReads.push(...rd.readStates);
      this.serveReads();
    }
    if (this.node) this.checkSettled();
  }

  private serveReads(): void {
    const ready = this.pendingReads.filter((rs) => rs.index <= this.sm.applied);
    if (ready.length === 0) return;
    this.pendingReads = this.pendingReads.filter((rs) => rs.index > this.sm.applied);
    for (const rs of ready) this.hooks.readServed(this.id, rs);
    this.stats.readsServed += ready.length;
  }

  private group(): GroupLog {
    return this.store.group(GROUP);
  }

  private crashesAt(point: CrashPoint): boolean {
    if (this.armedCrash !== point) return false;
    this.stats.crashes++;
    this.crash();
    return true;
  }

  private send(messages: readonly Message[]): void {
    for (const m of messages) {
      if (this.hooks.send(m)) continue;
      this.raw.reportUnreachable(m.to);
      if (m.type === MessageType.Snap) this.raw.reportSnapshot(m.to, false);
    }
  }

  private restore(snapshot: Snapshot): void {
    this.sm = ListStateMachine.decode(snapshot.data);
    if (this.sm.applied !== snapshot.meta.index) {
      throw contract(
        this.id,
        `snapshot at ${snapshot.meta.index} carries a state applied to ${this.sm.applied}`,
      );
    }
    this.confState = snapshot.meta.confState;
    this.hooks.restored(this.id, this.sm.applied, this.sm.state);
    this.stats.snapshotsInstalled++;
    this.store.putMeta(GROUP, STATE_KEY, this.sm.encode());
    this.store.commitSync();
  }

  private apply(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (const e of entries) {
      if (e.index !== this.sm.applied + 1) {
        throw contract(this.id, `committed entry ${e.index} handed out after applied ${this.sm.applied}`);
      }
      this.hooks.applied(this.id, e);
      this.sm.apply(e);
      if (e.type === EntryType.ConfChange) {
        this.confState = this.raw.applyConfChange(decodeConfChange(e.data));
        this.store.setConfState(GROUP, this.confState);
        this.stats.confChangesApplied++;
      }
    }
    this.stats.entriesApplied += entries.length;
    this.store.putMeta(GROUP, STATE_KEY, this.sm.encode());
    this.store.commitSync();
  }

  /** Ready checks against the durable state before anything of the Ready is persisted. */
  private checkBeforePersist(rd: Ready, durable: HardState): void {
    const g = this.group();
    for (const m of rd.messages) {
      if (m.from !== this.id || m.to === this.id) {
        throw contract(this.id, `message ${m.type} from ${m.from} to ${m.to} in its Ready`);
      }
    }
    const hs = rd.hardState;
    if (hs) {
      if (hs.term < durable.term)
        throw contract(this.id, `hard state term ${hs.term} < durable ${durable.term}`);
      if (hs.term === durable.term && durable.vote !== NONE && hs.vote !== durable.vote) {
        throw contract(this.id, `vote in term ${hs.term} changed from ${durable.vote} to ${hs.vote}`);
      }
      if (hs.commit < durable.commit) {
        throw contract(this.id, `commit went back from ${durable.commit} to ${hs.commit}`);
      }
    }
    const base = rd.snapshot ? rd.snapshot.meta.index : g.lastIndex();
    for (const [i, e] of rd.entries.entries()) {
      if (i > 0 && e.index !== rd.entries[i - 1]!.index + 1)
        throw contract(this.id, 'entries not consecutive');
      // Overwriting a stored entry is allowed only above the commit index.
      if (!rd.snapshot && e.index <= base && e.index >= g.firstIndex() && g.term(e.index) !== e.term) {
        if (e.index <= durable.commit) {
          throw contract(this.id, `entry ${e.index} overwrites a committed entry (commit ${durable.commit})`);
        }
      }
    }
    if (rd.entries.length > 0 && rd.entries[0]!.index > base + 1) {
      throw contract(this.id, `entries start at ${rd.entries[0]!.index}, after last index ${base}`);
    }
    const commit = (hs ?? durable).commit;
    const first = rd.committedEntries[0];
    const expected = (rd.snapshot ? rd.snapshot.meta.index : this.sm.applied) + 1;
    if (first && first.index !== expected) {
      throw contract(this.id, `committed entries start at ${first.index}, expected ${expected}`);
    }
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last && last.index > commit) {
      throw contract(this.id, `entry ${last.index} handed out to apply above commit ${commit}`);
    }
  }

  /** After persisting: what the Ready's messages promise must be durable now. */
  private checkMessagesBacked(rd: Ready): void {
    const g = this.group();
    const hs = g.initialState().hardState;
    for (const e of rd.committedEntries) {
      if (e.index >= g.firstIndex() && (e.index > g.lastIndex() || g.term(e.index) !== e.term)) {
        throw contract(this.id, `committed entry ${e.index} (term ${e.term}) is not in the durable log`);
      }
    }
    for (const m of rd.messages) {
      if (m.type === MessageType.PreVote || m.type === MessageType.PreVoteResp) continue;
      if (m.term > hs.term) {
        throw contract(this.id, `message ${m.type} of term ${m.term} sent with durable term ${hs.term}`);
      }
      if (m.type === MessageType.Vote && (hs.term !== m.term || hs.vote !== this.id)) {
        throw contract(this.id, `vote request of term ${m.term} sent before its own vote was durable`);
      }
      if (m.type === MessageType.VoteResp && !m.reject && (hs.term !== m.term || hs.vote !== m.to)) {
        throw contract(this.id, `vote for ${m.to} in term ${m.term} sent before it was durable`);
      }
      if (m.type === MessageType.AppResp && !m.reject && m.index > g.lastIndex()) {
        throw contract(this.id, `acknowledged index ${m.index} beyond durable last index ${g.lastIndex()}`);
      }
      if (m.type === MessageType.App) {
        for (const e of m.entries) {
          if (e.index >= g.firstIndex() && (e.index > g.lastIndex() || g.term(e.index) !== e.term)) {
            throw contract(this.id, `append of entry ${e.index} (term ${e.term}) sent before it was durable`);
          }
        }
      }
    }
  }

  /** Once no Ready is left, the core's hard state and log end must be what the store holds. */
  private checkSettled(): void {
    const st = this.raw.status();
    const g = this.group();
    const durable = g.initialState().hardState;
    if (st.hardState.term !== durable.term || st.hardState.vote !== durable.vote) {
      throw contract(
        this.id,
        `core is at term ${st.hardState.term} vote ${st.hardState.vote}, durable term ${durable.term} vote ${durable.vote}`,
      );
    }
    if (st.lastIndex !== g.lastIndex()) {
      throw contract(this.id, `core's last index ${st.lastIndex} differs from the durable ${g.lastIndex()}`);
    }
  }

  private logView(): LogView {
    const g = this.group();
    const first = g.firstIndex();
    const last = g.lastIndex();
    return {
      snapshotIndex: first - 1,
      snapshotTerm: g.term(first - 1),
      entries: last >= first ? this.entriesOf(g, first, last) : [],
    };
  }

  private entriesOf(g: GroupLog, first: number, last: number): readonly Entry[] {
    const entries = g.entries(first, last + 1, Number.MAX_SAFE_INTEGER);
    if (entries === undefined)
      throw new Error(`node ${this.id}: the memory store did not return its entries`);
    return entries;
  }
}
