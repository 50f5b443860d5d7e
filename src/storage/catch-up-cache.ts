import type { Entry } from '../raft/types.js';
import { countWithinBytes } from './log-checks.js';
import { memoryOf } from './tail-cache.js';

/**
 * A small cache of older entries loaded from disk for the Raft core (a follower catching up),
 * kept apart from the tail caches so such reads never evict the recent tail. It holds one run of
 * consecutive entries per group and forgets the least recently loaded runs first.
 */
export class CatchUpCache {
  readonly #maxBytes: number;
  /** Per group, one run of consecutive entries; Map order is load order (oldest first). */
  readonly #runs = new Map<number, { entries: Entry[]; bytes: number }>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /**
   * Entries `[lo, hi)` of `groupId`, cut at `maxBytes` (at least one), or `undefined` unless the
   * cached run holds all of them up to the cut.
   */
  read(groupId: number, lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    const entries = this.#runs.get(groupId)?.entries;
    if (entries === undefined || entries.length === 0) return undefined;
    const offset = lo - entries[0]!.index;
    if (offset < 0 || offset >= entries.length) return undefined;
    const end = offset + hi - lo;
    const n = countWithinBytes(entries, offset, Math.min(end, entries.length), maxBytes);
    if (offset + n === entries.length && entries.length < end) {
      // The run ended before `hi`: the answer is complete only if the byte limit is passed.
      let bytes = 0;
      for (let i = offset; i < entries.length; i++) bytes += entries[i]!.data.length;
      if (bytes <= maxBytes) return undefined;
    }
    return entries.slice(offset, offset + n);
  }

  /** Remembers `entries` (consecutive, non-empty) as the run of `groupId`. */
  put(groupId: number, entries: Entry[]): void {
    this.drop(groupId);
    let bytes = 0;
    for (const e of entries) bytes += memoryOf(e);
    this.#runs.set(groupId, { entries, bytes });
    this.#bytes += bytes;
    for (const [id, run] of this.#runs) {
      if (this.#bytes <= this.#maxBytes || id === groupId) break;
      this.#runs.delete(id);
      this.#bytes -= run.bytes;
    }
  }

  /** Forgets the cached entries of `groupId` at or after `index` (they were overwritten). */
  truncateFrom(groupId: number, index: number): void {
    const run = this.#runs.get(groupId);
    if (run === undefined || run.entries.length === 0) return;
    const keep = Math.max(0, index - run.entries[0]!.index);
    if (keep >= run.entries.length) return;
    this.put(groupId, run.entries.slice(0, keep));
  }

  drop(groupId: number): void {
    const run = this.#runs.get(groupId);
    if (run === undefined) return;
    this.#runs.delete(groupId);
    this.#bytes -= run.bytes;
  }
}
