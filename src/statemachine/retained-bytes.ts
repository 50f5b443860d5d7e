/** Raft indexes per span: the byte counts are exact at span boundaries, estimated inside a span. */
export const BYTE_SPAN = 64;

const spanOf = (index: number) => Math.floor(index / BYTE_SPAN);

/** Most indexes {@link RetainedBytes.estimate} spreads bytes over (2^20 spans, 8 MiB). */
const MAX_ESTIMATED_INDEXES = BYTE_SPAN * 2 ** 20;

/**
 * The data bytes of a partition's retained entries by where they lie in the Raft log, so that
 * "bytes at or below index i" (how much of the log a replica holding it through i has) is a
 * lookup, not a read of the log. It keeps one running total per span of {@link BYTE_SPAN}
 * indexes (8 bytes per 64 entries), not one per entry: within a span the bytes are spread evenly
 * over the span's indexes.
 *
 * Only an estimate for progress reports: no replicated decision depends on it (the state's own
 * retained-bytes count stays authoritative). In normal operation it is a function of the applied
 * history, so it goes into snapshots unchanged on every replica.
 */
export class RetainedBytes {
  /** Span of `starts[0]`. */
  private origin = 0;
  /** `starts[k]`: bytes added before span `origin + k`, counted since the origin. */
  private starts: number[] = [];
  /** Bytes added since the origin. */
  private added = 0;
  /** Of those, the bytes dropped from the front (all lie in spans up to the first retained entry's). */
  private dropped = 0;
  /** Index of the first retained data entry, and of the last one; 0 when none is retained. */
  private first = 0;
  private last = 0;

  /** Sum of the retained entries' bytes. */
  get total(): number {
    return this.added - this.dropped;
  }

  /** A data entry of `bytes` bytes at Raft `index`, above every index added so far. */
  add(index: number, bytes: number): void {
    const span = spanOf(index);
    if (this.last === 0) {
      this.origin = span;
      this.starts = [0];
      this.added = 0;
      this.dropped = 0;
      this.first = index;
    }
    while (this.origin + this.starts.length <= span) this.starts.push(this.added);
    this.added += bytes;
    this.last = index;
  }

  /**
   * The entries below `first` (the new first retained entry's index; `undefined` when none is
   * retained) were dropped: `bytes` of data, all in the spans up to `first`'s.
   */
  dropBefore(first: number | undefined, bytes: number): void {
    if (first === undefined) {
      this.clear();
      return;
    }
    this.dropped = Math.min(this.added, this.dropped + bytes);
    this.first = first;
    const dead = spanOf(first) - this.origin;
    // Forget the spans below the first retained entry's now and then, not at every drop.
    if (dead > 0 && dead * 2 >= this.starts.length) {
      this.starts.splice(0, dead);
      this.origin += dead;
    }
  }

  clear(): void {
    this.origin = 0;
    this.starts = [];
    this.added = 0;
    this.dropped = 0;
    this.first = 0;
    this.last = 0;
  }

  /**
   * Bytes of the retained entries at or below `index`: exact at the last index of a span (and
   * from the last retained entry on), elsewhere the span's bytes spread evenly over its indexes.
   * Never decreases as `index` grows.
   */
  upTo(index: number): number {
    if (this.last === 0 || index < this.first) return 0;
    if (index >= this.last) return this.total;
    const span = spanOf(index);
    const k = span - this.origin;
    const spanStart = Math.max(this.starts[k]!, this.dropped);
    const spanEnd = Math.max(spanStart, k + 1 < this.starts.length ? this.starts[k + 1]! : this.added);
    const lo = Math.max(span * BYTE_SPAN, this.first);
    const hi = Math.min(span * BYTE_SPAN + BYTE_SPAN - 1, this.last);
    const at = spanStart + Math.floor((spanEnd - spanStart) * ((index - lo + 1) / (hi - lo + 1)));
    return Math.min(this.total, at - this.dropped);
  }

  /**
   * The retained bytes of each span from the first retained entry's to the last's: plain data,
   * the same whatever was dropped before (see {@link fromSnapshot}).
   */
  toSnapshot(): number[] {
    if (this.last === 0) return [];
    const sums: number[] = [];
    for (let span = spanOf(this.first); span <= spanOf(this.last); span++) {
      const k = span - this.origin;
      const end = k + 1 < this.starts.length ? this.starts[k + 1]! : this.added;
      sums.push(Math.max(0, end - Math.max(this.starts[k]!, this.dropped)));
    }
    return sums;
  }

  /**
   * Rebuild from {@link toSnapshot}'s sums, for retained entries from index `first` to `last`.
   * Returns `undefined` when the sums do not fit those entries.
   */
  static fromSnapshot(sums: readonly unknown[], first: number, last: number): RetainedBytes | undefined {
    if (sums.length !== spanOf(last) - spanOf(first) + 1) return undefined;
    const b = new RetainedBytes();
    b.origin = spanOf(first);
    for (const sum of sums) {
      if (!Number.isSafeInteger(sum) || (sum as number) < 0) return undefined;
      b.starts.push(b.added);
      b.added += sum as number;
    }
    if (!Number.isSafeInteger(b.added)) return undefined;
    b.first = first;
    b.last = last;
    return b;
  }

  /**
   * Retained entries from index `first` to `last` holding `total` bytes whose spread is unknown
   * (a snapshot written before this index existed): the bytes spread evenly over the indexes.
   * Over more than {@link MAX_ESTIMATED_INDEXES} indexes (no real log; a damaged snapshot's
   * claim) it spreads nothing, rather than allocate a span per 64 of them: only entries added
   * later count then.
   */
  static estimate(total: number, first: number, last: number): RetainedBytes {
    const n = last - first + 1;
    if (n > MAX_ESTIMATED_INDEXES) return new RetainedBytes();
    const upTo = (index: number) => (index >= last ? total : Math.floor(total * ((index - first + 1) / n)));
    const sums: number[] = [];
    for (let span = spanOf(first); span <= spanOf(last); span++) {
      const lo = Math.max(span * BYTE_SPAN, first);
      const hi = Math.min(span * BYTE_SPAN + BYTE_SPAN - 1, last);
      sums.push(upTo(hi) - (lo === first ? 0 : upTo(lo - 1)));
    }
    return RetainedBytes.fromSnapshot(sums, first, last)!;
  }
}
