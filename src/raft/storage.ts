import type { ConfState, Entry, HardState, Snapshot } from './types.js';

/**
 * The core's read-only, synchronous view of one group's stable log (what earlier `Ready`s asked
 * the driver to persist, and the driver persisted). The driver writes; the core only reads.
 *
 * Indexes: the log holds entries `firstIndex() .. lastIndex()`; the entry just before them is
 * covered by `snapshot()` (index `firstIndex() - 1`), whose term `term()` must still answer.
 *
 * Errors: a read below the snapshot throws `RaftlogError('LOG_COMPACTED')`; a read above
 * `lastIndex()` throws `RaftlogError('LOG_UNAVAILABLE')`.
 */
export interface RaftStorage {
  /** Hard state and membership as persisted; membership as of the last applied change. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries `[lo, hi)`, at most `maxBytes` of entry data but always at least one entry. Returns
   * `undefined` when the entries exist but are not in memory: the store loads them in the
   * background and the core tries again on a later turn (the core never waits).
   */
  entries(lo: number, hi: number, maxBytes: number): readonly Entry[] | undefined;
  /** Term of the entry at `index`, for `firstIndex() - 1 <= index <= lastIndex()`. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot (index 0 and empty data when there is none). */
  snapshot(): Snapshot;
}
