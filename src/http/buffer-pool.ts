/**
 * Reused buffers for large answer bodies (catch-up fetches of megabytes). A fresh buffer per
 * answer is a fresh ArrayBuffer of megabytes each time, and V8 answers such allocations with
 * frequent full garbage collections; the profile of a catch-up reader showed them taking more
 * CPU than building the answers. A buffer comes back once the answer written from it was
 * handed to the socket entirely (`give` after the response's 'finish'); one whose answer was cut
 * off never comes back and is left to the garbage collector.
 */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #keep: number;
  readonly #largest: number;

  /** Keeps up to `keep` free buffers of at most `largest` bytes each. */
  constructor(keep: number, largest: number) {
    this.#keep = keep;
    this.#largest = largest;
  }

  /** A buffer of at least `bytes` bytes (contents undefined): a free one if any is large enough. */
  take(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const length = this.#free[i]!.length;
      if (length >= bytes && (best < 0 || length < this.#free[best]!.length)) best = i;
    }
    if (best < 0) return Buffer.allocUnsafeSlow(bytes);
    return this.#free.splice(best, 1)[0]!;
  }

  /** Hands `buffer` back for reuse: nothing may use it afterwards. Keeps the largest ones. */
  give(buffer: Buffer): void {
    if (buffer.length > this.#largest) return;
    this.#free.push(buffer);
    if (this.#free.length <= this.#keep) return;
    let smallest = 0;
    for (let i = 1; i < this.#free.length; i++)
      if (this.#free[i]!.length < this.#free[smallest]!.length) smallest = i;
    this.#free.splice(smallest, 1);
  }
}
