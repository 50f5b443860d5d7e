import { RaftlogError } from '../errors.js';
import { MAX_RECORDS_PER_BATCH } from './record-batch.js';
import { isCount } from './tagged-msgpack.js';

/** Where a data entry sits: its Raft index, its first offset and how many records it holds. */
export interface DataEntryLocation {
  readonly index: number;
  readonly baseOffset: number;
  readonly count: number;
}

/** The offset index's part of a partition snapshot: plain data, see {@link OffsetIndex.toSnapshot}. */
export interface OffsetIndexSnapshot {
  /** Base offset of the first retained entry (the end offset when none is retained). */
  readonly firstBaseOffset: number;
  /** Record count of every retained entry, in order, as unsigned LEB128 varints. */
  readonly counts: Uint8Array;
  /**
   * Where the Raft index jumps by more than one between consecutive retained entries, flattened:
   * `[position, raftIndex, ...]`, position 0 (the first retained entry) always first.
   */
  readonly runs: readonly number[];
}

const CHUNK_SHIFT = 8;
/** Entries per chunk: 255 deltas of at most 2^24 records each stay below 2^32. */
const CHUNK = 1 << CHUNK_SHIFT;
const MIN_RUNS = 8;

/**
 * The translation between offsets and Raft indexes for the retained data entries of a partition
 * (entries that carry records; no-ops, configuration changes, duplicates and rejected batches take
 * no offsets and are not in it). Both directions are binary searches over typed arrays.
 *
 * Entries are numbered by ordinal in apply order. About 4 bytes per entry (40 MB for 10 million):
 * - Base offsets: one float64 per chunk of {@link CHUNK} ordinals plus one uint32 delta per entry
 *   from its chunk's base. {@link MAX_RECORDS_PER_BATCH} (2^24) keeps every delta below 2^32.
 * - Raft indexes: `index = ordinal + skew`, where the skew only changes where entries without
 *   offsets lie between two data entries (rare: a no-op per election, retries...). One (ordinal,
 *   skew) pair per run of consecutive indexes.
 *
 * Internal to the partition state: methods trust their arguments (see `partition-state.ts`).
 * Members are TypeScript-private rather than `#private`: on Node 20 the lookups run about twice
 * as fast that way.
 */
export class OffsetIndex {
  /** Ordinal of the first retained entry. */
  private head = 0;
  /** Ordinal the next appended entry gets. */
  private next = 0;
  /** Ordinal of `deltas[0]`: a multiple of CHUNK. */
  private origin = 0;
  private deltas = new Uint32Array(CHUNK);
  /** `chunkBases[c]`: base offset of ordinal `origin + c * CHUNK`. */
  private chunkBases = new Float64Array(1);
  /** The offset after the last entry. */
  private end: number;
  private runStart = new Float64Array(MIN_RUNS);
  private runSkew = new Float64Array(MIN_RUNS);
  private runHead = 0;
  private runEnd = 0;

  /** An empty index whose first entry will start at `startOffset`. */
  constructor(startOffset = 0) {
    this.end = startOffset;
  }

  /** Number of retained entries. */
  get size(): number {
    return this.next - this.head;
  }

  /** The offset after the last entry (the next offset to assign). */
  get endOffset(): number {
    return this.end;
  }

  /** The first retained entry, if any. */
  get first(): DataEntryLocation | undefined {
    return this.size === 0 ? undefined : this.location(this.head);
  }

  /** The last retained entry, if any. */
  get last(): DataEntryLocation | undefined {
    return this.size === 0 ? undefined : this.location(this.next - 1);
  }

  /** Append an entry of `count` (1 to 2^24) records at Raft `index` (above every index so far). */
  append(index: number, count: number): void {
    const pos = this.next - this.origin;
    if (pos === this.deltas.length) this.resize(2 * this.deltas.length);
    const chunk = pos >> CHUNK_SHIFT;
    if ((pos & (CHUNK - 1)) === 0) this.chunkBases[chunk] = this.end;
    this.deltas[pos] = this.end - this.chunkBases[chunk]!;
    const skew = index - this.next;
    if (this.runEnd === this.runHead || this.runSkew[this.runEnd - 1] !== skew) this.pushRun(this.next, skew);
    this.next++;
    this.end += count;
  }

  /** The entry holding `offset`, or `undefined` when no retained entry does. */
  locate(offset: number): DataEntryLocation | undefined {
    if (this.size === 0 || offset < this.baseOf(this.head) || offset >= this.end) return undefined;
    return this.location(this.ordinalOf(offset));
  }

  /** The retained entry at Raft `index`, or `undefined` when `index` is no retained data entry. */
  entryAt(index: number): DataEntryLocation | undefined {
    if (this.size === 0) return undefined;
    let lo = this.runHead;
    let hi = this.runEnd - 1;
    if (this.runStart[lo]! + this.runSkew[lo]! > index) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runStart[mid]! + this.runSkew[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    const k = index - this.runSkew[lo]!;
    const runLimit = lo + 1 < this.runEnd ? this.runStart[lo + 1]! : this.next;
    if (k < this.head || k >= runLimit) return undefined;
    return { index, baseOffset: this.baseOf(k), count: this.countOf(k) };
  }

  /** Drop the entries whose every offset is below `offset` (at most the end offset). */
  truncateBefore(offset: number): void {
    if (this.size === 0 || offset <= this.baseOf(this.head)) return;
    this.head = offset >= this.end ? this.next : this.ordinalOf(offset);
    if (this.head === this.next) {
      this.runHead = 0;
      this.runEnd = 0;
    } else {
      while (this.runHead + 1 < this.runEnd && this.runStart[this.runHead + 1]! <= this.head) this.runHead++;
    }
    this.compact();
  }

  /** The retained entries as plain data, independent of how they are laid out in memory. */
  toSnapshot(): OffsetIndexSnapshot {
    const n = this.size;
    let bytes = 0;
    for (let k = this.head; k < this.next; k++) bytes += varintLength(this.countOf(k));
    const counts = new Uint8Array(bytes);
    let at = 0;
    for (let k = this.head; k < this.next; k++) at = writeVarint(counts, at, this.countOf(k));
    const runs: number[] = [];
    for (let r = this.runHead; r < this.runEnd && n > 0; r++) {
      const k = Math.max(this.runStart[r]!, this.head);
      runs.push(k - this.head, k + this.runSkew[r]!);
    }
    return { firstBaseOffset: n === 0 ? this.end : this.baseOf(this.head), counts, runs };
  }

  /** Rebuild from {@link toSnapshot}'s data. Throws `STORAGE_CORRUPT` when it is inconsistent. */
  static fromSnapshot(snap: OffsetIndexSnapshot): OffsetIndex {
    const corrupt = (why: string) =>
      new RaftlogError('STORAGE_CORRUPT', `corrupt offset index snapshot: ${why}`);
    const { firstBaseOffset, counts, runs } = snap;
    if (!isCount(firstBaseOffset)) throw corrupt('bad first base offset');
    if (runs.length % 2 !== 0) throw corrupt('odd runs list');
    const idx = new OffsetIndex(firstBaseOffset);
    let r = 0; // next run to start
    let index = 0; // Raft index of the entry appended last
    let at = 0;
    for (let k = 0; at < counts.length; k++) {
      let count = 0;
      for (let shift = 1; ; shift *= 128) {
        if (at >= counts.length || shift > 128 ** 3) throw corrupt('bad varint');
        const b = counts[at++]!;
        count += (b & 127) * shift;
        if (b < 128) break;
      }
      if (count < 1 || count > MAX_RECORDS_PER_BATCH) throw corrupt(`entry ${k} has ${count} records`);
      if (r < runs.length && runs[r] === k) {
        const start = runs[r + 1]!;
        if (!isCount(start) || start <= index || (k > 0 && start === index + 1))
          throw corrupt(`bad run at ${k}`);
        index = start;
        r += 2;
      } else if (k === 0) {
        throw corrupt('no run at the first entry');
      } else {
        index++;
      }
      if (!Number.isSafeInteger(idx.end + count)) throw corrupt('offsets overflow');
      idx.append(index, count);
    }
    if (r !== runs.length) throw corrupt('runs beyond the entries');
    return idx;
  }

  private baseOf(k: number): number {
    const pos = k - this.origin;
    return this.chunkBases[pos >> CHUNK_SHIFT]! + this.deltas[pos]!;
  }

  private countOf(k: number): number {
    return (k + 1 < this.next ? this.baseOf(k + 1) : this.end) - this.baseOf(k);
  }

  private indexOf(k: number): number {
    let lo = this.runHead;
    let hi = this.runEnd - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runStart[mid]! <= k) lo = mid;
      else hi = mid - 1;
    }
    return k + this.runSkew[lo]!;
  }

  private location(k: number): DataEntryLocation {
    return { index: this.indexOf(k), baseOffset: this.baseOf(k), count: this.countOf(k) };
  }

  /** Ordinal of the entry holding `offset`, for `first base offset <= offset < end`. */
  private ordinalOf(offset: number): number {
    const firstPos = this.head - this.origin;
    const lastPos = this.next - 1 - this.origin;
    // The last chunk whose base is at or below `offset`...
    let lo = firstPos >> CHUNK_SHIFT;
    let hi = lastPos >> CHUNK_SHIFT;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunkBases[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // ...then the last entry in it whose delta is at or below offset's.
    const rel = offset - this.chunkBases[lo]!;
    let a = Math.max(lo << CHUNK_SHIFT, firstPos);
    let b = Math.min(((lo + 1) << CHUNK_SHIFT) - 1, lastPos);
    while (a < b) {
      const mid = (a + b + 1) >> 1;
      if (this.deltas[mid]! <= rel) a = mid;
      else b = mid - 1;
    }
    return this.origin + a;
  }

  private pushRun(start: number, skew: number): void {
    if (this.runEnd === this.runStart.length) {
      const grown = new Float64Array(2 * this.runStart.length);
      grown.set(this.runSkew);
      this.runSkew = grown;
      const starts = new Float64Array(grown.length);
      starts.set(this.runStart);
      this.runStart = starts;
    }
    this.runStart[this.runEnd] = start;
    this.runSkew[this.runEnd] = skew;
    this.runEnd++;
  }

  /**
   * Release the space of dropped entries once it outweighs the live ones (amortized O(1) per
   * entry), shrinking the arrays when they became mostly empty.
   */
  private compact(): void {
    const shift = ((this.head - this.origin) >> CHUNK_SHIFT) << CHUNK_SHIFT;
    const live = this.next - this.origin - shift;
    if (shift > 0 && shift >= live) {
      const capacity = this.deltas.length;
      const target = 4 * live < capacity ? Math.max(CHUNK, roundUpToChunk(2 * live)) : capacity;
      const deltas = target === capacity ? this.deltas : new Uint32Array(target);
      const chunkBases = target === capacity ? this.chunkBases : new Float64Array(target / CHUNK);
      deltas.set(this.deltas.subarray(shift, shift + live));
      const firstChunk = shift >> CHUNK_SHIFT;
      chunkBases.set(this.chunkBases.subarray(firstChunk, firstChunk + roundUpToChunk(live) / CHUNK));
      this.deltas = deltas;
      this.chunkBases = chunkBases;
      this.origin += shift;
    }
    const deadRuns = this.runHead;
    if (deadRuns >= MIN_RUNS && deadRuns >= this.runEnd - deadRuns) {
      this.runStart.copyWithin(0, deadRuns, this.runEnd);
      this.runSkew.copyWithin(0, deadRuns, this.runEnd);
      this.runHead = 0;
      this.runEnd -= deadRuns;
    }
  }

  private resize(capacity: number): void {
    const deltas = new Uint32Array(capacity);
    deltas.set(this.deltas);
    this.deltas = deltas;
    const chunkBases = new Float64Array(capacity / CHUNK);
    chunkBases.set(this.chunkBases);
    this.chunkBases = chunkBases;
  }
}

function roundUpToChunk(n: number): number {
  return Math.ceil(n / CHUNK) * CHUNK;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 128) {
    out[at++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}
