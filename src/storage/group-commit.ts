import { RaftlogError } from '../errors.js';

/** Callbacks around each batch, for the store's bookkeeping of what is durable. */
export interface GroupCommitHooks {
  /** A batch holding everything staged so far is about to be written. */
  batchStarted(): void;
  /** That batch is durable. */
  batchDurable(): void;
}

interface Waiter {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Group commit with fail-stop: staged operations of every caller go into one synced batch; at
 * most one batch is in flight, and commits that arrive meanwhile share the next batch. Each
 * commit resolves only after the batch holding its operations is durable.
 *
 * A batch starts at the end of the event-loop turn in which its first commit was asked for:
 * writers woken together by one batch (every group of a node) then share the next one, rather
 * than the first of them taking a batch of its own.
 *
 * After a failed write every later commit is refused with the same `STORAGE_FAILED` error:
 * nothing is acknowledged after an I/O error, so nothing acknowledged can be lost.
 */
export class GroupCommit<Op> {
  readonly #write: (ops: Op[]) => Promise<void>;
  readonly #hooks: GroupCommitHooks;
  #staged: Op[] = [];
  #inflight: Promise<void> | undefined;
  #next: Waiter | undefined;
  #failure: RaftlogError | undefined;

  constructor(write: (ops: Op[]) => Promise<void>, hooks: GroupCommitHooks) {
    this.#write = write;
    this.#hooks = hooks;
  }

  /** The error that stopped this store, if a write failed. */
  get failure(): RaftlogError | undefined {
    return this.#failure;
  }

  /** Operations staged since the last batch started. */
  get stagedCount(): number {
    return this.#staged.length;
  }

  stage(op: Op): void {
    this.#staged.push(op);
  }

  /** Drops every staged operation (the store is closing without committing them). */
  discardStaged(): void {
    this.#staged = [];
  }

  /**
   * Resolves once everything staged so far is durable. The batch starts at the end of the
   * current turn of the event loop (so every group's writes of this turn share it), or after
   * the batch in flight.
   */
  commit(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    // Everything this caller staged is already in the batch in flight, if any.
    if (this.#staged.length === 0) return this.#inflight ?? Promise.resolve();
    if (this.#next === undefined) {
      this.#next = waiter();
      if (this.#inflight === undefined) setImmediate(() => this.#startNext());
    }
    return this.#next.promise;
  }

  /**
   * Writes every batch already asked for, then resolves (whether the writes succeeded or not).
   * Operations staged without a commit are left staged.
   */
  async settle(): Promise<void> {
    for (;;) {
      if (this.#inflight !== undefined) await this.#inflight.catch(() => undefined);
      else if (this.#next !== undefined) this.#startNext();
      else return;
    }
  }

  #start(): Promise<void> {
    const ops = this.#staged;
    this.#staged = [];
    this.#hooks.batchStarted();
    const written = new Promise<void>((resolve) => resolve(this.#write(ops))).then(
      () => {
        this.#inflight = undefined;
        this.#hooks.batchDurable();
        this.#startNext();
      },
      (err: unknown) => {
        this.#failure = new RaftlogError('STORAGE_FAILED', `log store write failed: ${String(err)}`, {
          cause: err,
        });
        this.#inflight = undefined;
        this.#next?.reject(this.#failure);
        this.#next = undefined;
        throw this.#failure;
      },
    );
    this.#inflight = written;
    return written;
  }

  #startNext(): void {
    const next = this.#next;
    if (next === undefined || this.#inflight !== undefined) return;
    this.#next = undefined;
    this.#start().then(next.resolve, next.reject);
  }
}
