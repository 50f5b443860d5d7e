/**
 * The terms of a group's log as runs `[firstIndexOfRun, term]`, so `term(i)` is a binary search
 * in memory and never a disk read. A log of a million entries written in a handful of terms
 * holds a handful of runs. The LevelDB store persists each run start as one small record.
 */
export class TermIndex {
  /** Run starts, ascending; `terms[k]` is the term of entries from `starts[k]` to the next start. */
  #starts: number[] = [];
  #terms: number[] = [];
  /** The last run's term (read on every append, so kept out of the arrays). */
  #lastTerm: number | undefined;

  /** Runs as `[firstIndex, term]` pairs, in index order. */
  runs(): Array<[number, number]> {
    return this.#starts.map((s, k) => [s, this.#terms[k]!]);
  }

  /** Restores one persisted run (in index order). */
  addRun(firstIndex: number, term: number): void {
    this.#starts.push(firstIndex);
    this.#terms.push(term);
    this.#lastTerm = term;
  }

  /** Term of `index`; the caller ensures the index is within the log and not below the first run. */
  termAt(index: number): number {
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.#terms[lo]!;
  }

  /** Removes the runs starting at or after `index`; returns their starts. */
  truncateFrom(index: number): number[] {
    let k = this.#starts.length;
    while (k > 0 && this.#starts[k - 1]! >= index) k--;
    this.#terms.length = k;
    this.#lastTerm = this.#terms[k - 1];
    return this.#starts.splice(k);
  }

  /**
   * Records that the entry at `index` (the new last entry) has `term`. Returns true when this
   * starts a new run.
   */
  extend(index: number, term: number): boolean {
    if (this.#lastTerm === term) return false;
    this.addRun(index, term);
    return true;
  }

  /**
   * Forgets the runs that hold no entry at or after `firstIndex` (the log's new first index);
   * returns their starts.
   */
  compactTo(firstIndex: number): number[] {
    let k = 0;
    while (k + 1 < this.#starts.length && this.#starts[k + 1]! <= firstIndex) k++;
    this.#terms.splice(0, k);
    return this.#starts.splice(0, k);
  }

  clear(): number[] {
    this.#terms = [];
    this.#lastTerm = undefined;
    const starts = this.#starts;
    this.#starts = [];
    return starts;
  }
}
