import { type GroupStateMachine, isBootstrapSnapshot } from '../partition/host.js';
import type { Entry, Snapshot } from '../raft/types.js';
import type { LogStore } from '../storage/log-store.js';
import { type ApplyResult, PartitionState } from './partition-state.js';

/**
 * Replace `state` by a partition group's snapshot: the bootstrap snapshot stands for the empty
 * state at its index; any other holds the state at an applied index at or above its own.
 */
export function restoreSnapshot(state: PartitionState, snapshot: Snapshot): void {
  if (isBootstrapSnapshot(snapshot)) state.reset(snapshot.meta.index);
  else state.restore(snapshot.data);
}

const CHECKPOINT_KEY = 'partition-state';
/** Fewest applied entries between two checkpoints. */
const MIN_CHECKPOINT_INTERVAL = 1000;
/**
 * Checkpoints also wait for a tenth of the retained entries to be applied, so that their cost
 * (the whole offset index, a few bytes per retained entry) stays constant per applied entry, and a
 * restart re-applies at most about a tenth of the log.
 */
const CHECKPOINT_FRACTION = 10;

/**
 * One partition's state machine on one broker: the deterministic {@link PartitionState}, made
 * durable by checkpoints (the state's snapshot, with its applied index) staged in the store, and
 * a signal for readers waiting for new records (long polls).
 */
export class PartitionMachine implements GroupStateMachine {
  readonly state: PartitionState;
  readonly durableApplied: number;
  private sinceCheckpoint = 0;
  private waiters = new Set<() => void>();
  /** A wake of the long polls is queued for the next event-loop turn (see `apply`). */
  private wakeQueued = false;

  constructor(
    private readonly store: LogStore,
    private readonly group: number,
  ) {
    this.state = new PartitionState();
    const saved = store.getMeta(group, CHECKPOINT_KEY);
    if (saved) this.state.restore(saved);
    this.durableApplied = this.state.appliedIndex;
  }

  apply(entry: Entry): ApplyResult {
    // A restored snapshot's data may be ahead of its index: Raft hands the entries up to the
    // state's applied index out again (they are in the log, to be read), and they change nothing.
    if (entry.index <= this.state.appliedIndex) return { outcome: 'empty', index: entry.index };
    const result = this.state.apply(entry);
    if (++this.sinceCheckpoint >= Math.max(MIN_CHECKPOINT_INTERVAL, this.retained() / CHECKPOINT_FRACTION)) {
      this.checkpoint();
    }
    if (result.outcome === 'appended') this.queueWake();
    return result;
  }

  restore(snapshot: Snapshot): void {
    restoreSnapshot(this.state, snapshot);
    this.checkpoint();
    this.wakeReaders();
  }

  /** Stage the whole state with its applied index: a restart resumes from here. */
  checkpoint(): void {
    this.store.putMeta(this.group, CHECKPOINT_KEY, this.state.snapshot());
    this.sinceCheckpoint = 0;
  }

  private retained(): number {
    const first = this.state.firstRetainedIndex;
    return first === undefined ? 0 : this.state.appliedIndex - first;
  }

  /** Resolves when records are appended, after `ms`, or when `signal` aborts, whichever is first. */
  waitForAppend(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  /**
   * Wake the long polls once for every entry applied in this event-loop turn, and only after it:
   * the proposers of those entries are answered first (their promises settle in this turn), and
   * the readers read all of the turn's records in one go instead of waking per entry.
   */
  private queueWake(): void {
    if (this.wakeQueued || this.waiters.size === 0) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.wakeReaders();
    });
  }

  /** Wake every long poll (new records, or the partition is going away). */
  wakeReaders(): void {
    for (const w of [...this.waiters]) w();
  }
}
