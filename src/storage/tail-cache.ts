import type { Entry } from '../raft/types.js';
import { countWithinBytes } from './log-checks.js';

/** Bytes an entry holds in memory beyond its data (the object and its slot), roughly. */
const ENTRY_OVERHEAD = 96;

/** What a cached entry costs in memory, as cache budgets count it. */
export function memoryOf(e: Entry): number {
  return e.data.length + ENTRY_OVERHEAD;
}

/**
 * The most recent entries of one group, contiguous and ending at the log's last index, so the
 * Raft core's reads of the tail (replication, applying) are served from memory. Old entries are
 * evicted from the front, but never an entry whose write is not yet durable: until then the
 * cache is the only place a read can find it.
 */
export class TailCache {
  #entries: Entry[] = [];
  /** Position of the first live entry in `#entries` (evicted ones are dropped lazily). */
  #head = 0;
  #bytes = 0;

  /** Index of the first cached entry (`lastIndex + 1` when empty). */
  firstIndex(lastIndex: number): number {
    return lastIndex - (this.#entries.length - this.#head) + 1;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** Cached entries `[lo, hi)`, cut at `maxBytes` (at least one); `lo` must be cached. */
  read(lo: number, hi: number, maxBytes: number, lastIndex: number): Entry[] {
    const start = this.#head + lo - this.firstIndex(lastIndex);
    return this.#entries.slice(
      start,
      start + countWithinBytes(this.#entries, start, start + hi - lo, maxBytes),
    );
  }

  /**
   * Appends `entries` after truncating the cache at `entries[0].index`; `lastIndex` is the log's
   * last index before the append. Returns the change in cached bytes.
   */
  append(entries: readonly Entry[], lastIndex: number): number {
    const before = this.#bytes;
    const first = entries[0]!.index;
    const cachedFirst = this.firstIndex(lastIndex);
    if (first < cachedFirst) {
      this.clear();
    } else {
      this.#dropFrom(this.#head + first - cachedFirst);
    }
    for (const e of entries) {
      this.#entries.push(e);
      this.#bytes += memoryOf(e);
    }
    return this.#bytes - before;
  }

  /**
   * Evicts entries from the front while the cache holds more than `maxBytes` (of memory), keeping every entry
   * at or after `keepFrom`. Returns the bytes freed.
   */
  evict(maxBytes: number, keepFrom: number, lastIndex: number): number {
    const before = this.#bytes;
    let index = this.firstIndex(lastIndex);
    let count = 0;
    let bytes = this.#bytes;
    while (bytes > maxBytes && this.#head + count < this.#entries.length && index < keepFrom) {
      bytes -= memoryOf(this.#entries[this.#head + count]!);
      count++;
      index++;
    }
    this.#dropFront(count);
    return before - this.#bytes;
  }

  /** Drops every cached entry at or below `index` (after a compaction). Returns the bytes freed. */
  dropThrough(index: number, lastIndex: number): number {
    const before = this.#bytes;
    this.#dropFront(Math.min(this.length, Math.max(0, index - this.firstIndex(lastIndex) + 1)));
    return before - this.#bytes;
  }

  /** Empties the cache; returns the bytes freed. */
  clear(): number {
    const freed = this.#bytes;
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
    return freed;
  }

  #dropFront(count: number): void {
    for (let i = 0; i < count; i++) this.#bytes -= memoryOf(this.#entries[this.#head + i]!);
    this.#head += count;
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  #dropFrom(position: number): void {
    if (position >= this.#entries.length) return;
    for (let i = position; i < this.#entries.length; i++) this.#bytes -= memoryOf(this.#entries[i]!);
    this.#entries.length = position;
  }
}
