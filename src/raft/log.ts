import { isErrorCode } from '../errors.js';
import type { RaftStorage } from './storage.js';
import type { Entry, Snapshot } from './types.js';

/** Sum of entry payload sizes, the unit of every byte limit in the core. */
export function entriesSize(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) n += e.data.byteLength;
  return n;
}

/** Keep a prefix of `entries` within `maxBytes`, but never fewer than one entry. */
function limitSize(entries: readonly Entry[], maxBytes: number): readonly Entry[] {
  if (entries.length === 0) return entries;
  let size = entries[0]!.data.byteLength;
  let i = 1;
  for (; i < entries.length; i++) {
    size += entries[i]!.data.byteLength;
    if (size > maxBytes) break;
  }
  return i === entries.length ? entries : entries.slice(0, i);
}

/**
 * The log as the core sees it: the stable part in {@link RaftStorage}, followed by the
 * "unstable" part — entries (and possibly an incoming snapshot) that were accepted but not yet
 * reported persisted by the driver.
 */
export class RaftLog {
  /** Index of the first unstable entry: everything below it is known to be on stable storage. */
  private unstableOffset: number;
  private unstableEntries: Entry[] = [];
  private unstableSnapshot: Snapshot | undefined;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index handed to the driver for applying (in a Ready not yet advanced). */
  applying: number;
  /** Highest index the driver reported applied. */
  applied: number;
  /**
   * Highest index handed out for persisting in a Ready not yet advanced (0: none): the driver
   * has those entries staged, so they may be applied while the write is in flight.
   */
  private persisting = 0;

  constructor(
    readonly storage: RaftStorage,
    applied: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstableOffset = last + 1;
    const { hardState } = storage.initialState();
    this.committed = Math.max(hardState.commit, first - 1);
    if (applied > this.committed)
      throw new RangeError(`raft log: applied ${applied} above committed ${this.committed}`);
    this.applied = Math.max(applied, first - 1);
    this.applying = this.applied;
  }

  firstIndex(): number {
    return this.unstableSnapshot ? this.unstableSnapshot.meta.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    const n = this.unstableEntries.length;
    if (n > 0) return this.unstableEntries[n - 1]!.index;
    if (this.unstableSnapshot) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  /** Last index known to be on stable storage (what a leader may count as its own vote). */
  lastStableIndex(): number {
    return this.unstableOffset - 1;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at `index`, or undefined when it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    const snap = this.unstableSnapshot;
    if (snap && index === snap.meta.index) return snap.meta.term;
    if (index >= this.unstableOffset) {
      const e = this.unstableEntries[index - this.unstableOffset];
      return e?.term;
    }
    if (snap && index < snap.meta.index) return undefined;
    if (index < this.storage.firstIndex() - 1 || index > this.storage.lastIndex()) return undefined;
    return this.storage.term(index);
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries `[lo, hi)` within `maxBytes` (at least one). Returns `'compacted'` when `lo` is below
   * the first index, and `undefined` when the stable part is still being loaded into memory.
   */
  slice(lo: number, hi: number, maxBytes: number): readonly Entry[] | 'compacted' | undefined {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return 'compacted';
    const out: Entry[] = [];
    if (lo < this.unstableOffset) {
      let stable: readonly Entry[] | undefined;
      try {
        stable = this.storage.entries(lo, Math.min(hi, this.unstableOffset), maxBytes);
      } catch (err) {
        if (isErrorCode(err, 'LOG_COMPACTED')) return 'compacted';
        throw err;
      }
      if (stable === undefined) return undefined;
      // Storage cut the range short: the byte limit was reached.
      if (stable.length < Math.min(hi, this.unstableOffset) - lo) return stable;
      out.push(...stable);
    }
    if (hi > this.unstableOffset) {
      const from = Math.max(lo, this.unstableOffset) - this.unstableOffset;
      out.push(...this.unstableEntries.slice(from, hi - this.unstableOffset));
    }
    return limitSize(out, maxBytes);
  }

  /** Index of the first entry of `entries` that conflicts with (or extends) the log; 0 if none. */
  private findConflict(entries: readonly Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * For fast backtracking: the largest index at or below `index` whose term is at most `term`,
   * with that term (0 when unknown because compacted or missing).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (let i = index; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return [i, 0];
      if (t <= term) return [i, t];
    }
    return [0, 0];
  }

  /**
   * Accept an append from the leader: the entry at `index` must have `logTerm`. Returns the
   * index of the last new entry, or undefined when the logs do not match there.
   */
  maybeAppend(
    index: number,
    logTerm: number,
    committed: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + entries.length;
    const ci = this.findConflict(entries);
    if (ci !== 0) {
      if (ci <= this.committed)
        throw new Error(`raft log: conflict at committed index ${ci} (committed ${this.committed})`);
      this.append(entries.slice(ci - index - 1));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  /** Append entries after truncating any conflicting suffix; returns the new last index. */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    if (after < this.committed)
      throw new Error(`raft log: append after ${after} is below committed ${this.committed}`);
    // Entries handed out for persisting and replaced now are no longer what the driver staged.
    this.persisting = Math.min(this.persisting, after);
    if (after + 1 === this.unstableOffset + this.unstableEntries.length) {
      for (const e of entries) this.unstableEntries.push(e);
    } else if (after + 1 <= this.unstableOffset) {
      // The new entries replace everything from their first index on, including stable ones:
      // the driver truncates the stored log when it persists them.
      this.unstableOffset = after + 1;
      this.unstableEntries = [...entries];
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, after + 1 - this.unstableOffset).concat(entries);
    }
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new Error(`raft log: commit ${index} is out of range (last index ${this.lastIndex()})`);
    }
    this.committed = index;
  }

  /** Commit up to `index` if that entry belongs to `term` (§5.4.2: count replicas only for the current term). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  unstable(): readonly Entry[] {
    return this.unstableEntries;
  }

  pendingSnapshot(): Snapshot | undefined {
    return this.unstableSnapshot;
  }

  /** The latest snapshot: an incoming one not yet persisted, else the stored one. */
  snapshot(): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }

  /** The driver persisted entries up to `index` (whose term was `term`). */
  stableTo(index: number, term: number): void {
    // Entries may have been replaced since they were handed out; then they are not stable yet.
    if (index < this.unstableOffset || this.term(index) !== term) return;
    this.unstableEntries = this.unstableEntries.slice(index + 1 - this.unstableOffset);
    this.unstableOffset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.unstableSnapshot?.meta.index === index) this.unstableSnapshot = undefined;
  }

  /** Replace the whole log by an incoming snapshot. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstableOffset = snapshot.meta.index + 1;
    this.unstableEntries = [];
    this.unstableSnapshot = snapshot;
    this.persisting = 0;
  }

  /** Entries up to `index` were handed out for persisting (0: the Ready carrying them is done). */
  persistingTo(index: number): void {
    this.persisting = index;
  }

  /** Committed entries not yet handed out for applying, within `maxBytes` (undefined: loading). */
  nextCommittedEntries(maxBytes: number): readonly Entry[] | undefined {
    return this.committedEntriesUpTo(this.committed, maxBytes);
  }

  /**
   * Like {@link nextCommittedEntries}, but only entries that are stable or handed out for
   * persisting: what the driver may apply while a Ready is in flight, its state-machine writes
   * going into a later batch than the entries themselves.
   */
  nextStagedCommittedEntries(maxBytes: number): readonly Entry[] | undefined {
    const staged = Math.max(this.unstableOffset - 1, this.persisting);
    return this.committedEntriesUpTo(Math.min(this.committed, staged), maxBytes);
  }

  private committedEntriesUpTo(hi: number, maxBytes: number): readonly Entry[] | undefined {
    const lo = Math.max(this.applying + 1, this.firstIndex());
    if (this.unstableSnapshot || lo > hi) return [];
    const ents = this.slice(lo, hi + 1, maxBytes);
    if (ents === 'compacted')
      throw new Error(`raft log: committed entries from ${lo} are compacted but not applied`);
    return ents;
  }

  /**
   * Whether committed entries are ready to hand out: not while the stable ones are still being
   * loaded into memory (the driver would find nothing to do and ask again at once).
   */
  hasNextCommittedEntries(): boolean {
    if (this.unstableSnapshot || this.committed <= this.applying) return false;
    return (this.nextCommittedEntries(1)?.length ?? 0) > 0;
  }

  /** Entries handed out up to `index` for applying. */
  applyingTo(index: number): void {
    this.applying = Math.max(this.applying, index);
  }

  appliedTo(index: number): void {
    if (index > this.committed)
      throw new Error(`raft log: applied ${index} above committed ${this.committed}`);
    this.applied = Math.max(this.applied, index);
    this.applying = Math.max(this.applying, this.applied);
  }
}
