import type { Entry, EntryType } from '../raft/types.js';

/** Bytes an entry holds in memory beyond its data (its data's view object and its slots), roughly. */
const ENTRY_OVERHEAD = 96;

/** What a cached entry costs in memory, as cache budgets count it. */
export function memoryOf(e: Entry): number {
  return dataMemory(e.data);
}

/** What the data slot of an evicted entry holds until the slots are cut. */
const DROPPED = new Uint8Array(0);

/** Slots of `TailCache.#slots` per entry. */
const SLOTS = 3;

function dataMemory(data: Uint8Array): number {
  return data.length + ENTRY_OVERHEAD;
}

/**
 * The most recent entries of one group, contiguous and ending at the log's last index, so the
 * Raft core's reads of the tail (replication, applying) are served from memory. Old entries are
 * evicted from the front, but never an entry whose write is not yet durable: until then the
 * cache is the only place a read can find it.
 *
 * It keeps each entry's term, type and data side by side in one array rather than the entry
 * object, and builds entries when they are read: a cached entry then costs the garbage collector
 * only its data (terms and types are small integers stored inline), where an object kept for
 * seconds would be copied out of the young generation and marked again and again; and an append
 * touches one array, not three.
 */
export class TailCache {
  /** Per entry, from the oldest: term, type, data. */
  #slots: Array<number | Uint8Array> = [];
  /** Position of the first live entry in `#slots`, in entries (evicted ones are dropped lazily). */
  #head = 0;
  #bytes = 0;

  /** Index of the first cached entry (`lastIndex + 1` when empty). */
  firstIndex(lastIndex: number): number {
    return lastIndex - this.length + 1;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#slots.length / SLOTS - this.#head;
  }

  /** Cached entries `[lo, hi)`, cut at `maxBytes` (at least one); `lo` must be cached. */
  read(lo: number, hi: number, maxBytes: number, lastIndex: number): Entry[] {
    const start = this.#head + lo - this.firstIndex(lastIndex);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = start; i < start + hi - lo; i++) {
      const data = this.#data(i);
      bytes += data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      const term = this.#slots[i * SLOTS] as number;
      const type = this.#slots[i * SLOTS + 1] as EntryType;
      out.push({ index: lo + out.length, term, type, data });
    }
    return out;
  }

  /**
   * Appends `entries` after truncating the cache at `entries[0].index`; `lastIndex` is the log's
   * last index before the append. Returns the change in cached bytes.
   */
  append(entries: readonly Entry[], lastIndex: number): number {
    const before = this.#bytes;
    const first = entries[0]!.index;
    if (first <= lastIndex) {
      const cachedFirst = this.firstIndex(lastIndex);
      if (first < cachedFirst) this.clear();
      else this.#dropFrom(this.#head + first - cachedFirst);
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      this.#slots.push(e.term, e.type, e.data);
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
    while (bytes > maxBytes && count < this.length && index < keepFrom) {
      bytes -= dataMemory(this.#data(this.#head + count));
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
    this.#slots = [];
    this.#head = 0;
    this.#bytes = 0;
    return freed;
  }

  #dropFront(count: number): void {
    for (let i = 0; i < count; i++) {
      const position = this.#head + i;
      this.#bytes -= dataMemory(this.#data(position));
      // The slots themselves go lazily, their data at once: with entries of a megabyte, a
      // thousand evicted ones would otherwise stay in memory until the slots are cut.
      this.#slots[position * SLOTS + 2] = DROPPED;
    }
    this.#head += count;
    if (this.length === 0) {
      this.clear();
    } else if (this.#head > 1024 && this.#head > this.length) {
      this.#slots = this.#slots.slice(this.#head * SLOTS);
      this.#head = 0;
    }
  }

  /** Drops the entries from `position` (in entries, counted like `#head`) on. */
  #dropFrom(position: number): void {
    const end = this.#slots.length / SLOTS;
    if (position >= end) return;
    for (let i = position; i < end; i++) this.#bytes -= dataMemory(this.#data(i));
    this.#slots.length = position * SLOTS;
  }

  #data(position: number): Uint8Array {
    return this.#slots[position * SLOTS + 2] as Uint8Array;
  }
}
