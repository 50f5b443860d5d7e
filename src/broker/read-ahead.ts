/**
 * Reads ahead for readers going through a partition in order (catch-up): once a fetch stopped at
 * its byte or record limit, the same read from where it stopped starts at once, so that the
 * reader's next fetch finds it done or under way instead of waiting for the disk while the
 * previous answer travels and is decoded.
 *
 * At most one read ahead per partition (group), each counted at the bytes it may hold, within a
 * budget over all; one not taken within `ttlMs` is dropped. A read is handed over once, to the
 * fetch asking for exactly what it reads (`key`) of the same partition replica (`owner`).
 */
export class ReadAhead<T> {
  readonly #budgetBytes: number;
  readonly #ttlMs: number;
  readonly #reads = new Map<number, Pending<T>>();
  #bytes = 0;

  constructor(budgetBytes: number, ttlMs: number) {
    this.#budgetBytes = budgetBytes;
    this.#ttlMs = ttlMs;
  }

  /** The read started for `group` by `owner` as `key`, if there is one; it is handed over once. */
  take(group: number, owner: object, key: string): Promise<T> | undefined {
    const pending = this.#reads.get(group);
    if (pending === undefined || pending.owner !== owner || pending.key !== key) return undefined;
    this.#drop(group);
    return pending.read;
  }

  /**
   * Starts `read()` for `group` (replacing the one it had) unless the reads under way would then
   * hold more than the budget. Its failure, if any, is the taker's to meet.
   */
  start(group: number, owner: object, key: string, bytes: number, read: () => Promise<T>): void {
    this.#drop(group);
    if (this.#bytes + bytes > this.#budgetBytes) return;
    const promise = read();
    promise.catch(() => undefined);
    const timer = setTimeout(() => this.#drop(group), this.#ttlMs);
    timer.unref();
    this.#reads.set(group, { owner, key, bytes, read: promise, timer });
    this.#bytes += bytes;
  }

  /** Drops every read ahead (their results are never handed over). */
  clear(): void {
    for (const group of [...this.#reads.keys()]) this.#drop(group);
  }

  #drop(group: number): void {
    const pending = this.#reads.get(group);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.#reads.delete(group);
    this.#bytes -= pending.bytes;
  }
}

interface Pending<T> {
  readonly owner: object;
  readonly key: string;
  readonly bytes: number;
  readonly read: Promise<T>;
  readonly timer: NodeJS.Timeout;
}
