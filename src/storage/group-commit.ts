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

  commit(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#inflight === undefined) {
      return this.#staged.length === 0 ? Promise.resolve() : this.#start();
    }
    // Everything this caller staged is already in the batch in flight.
    if (this.#staged.length === 0) return this.#inflight;
    this.#next ??= waiter();
    return this.#next.promise;
  }

  /** Resolves once no batch is in flight or waiting (whether it succeeded or not). */
  async settle(): Promise<void> {
    while (this.#inflight !== undefined) await this.#inflight.catch(() => undefined);
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
    if (next === undefined) return;
    this.#next = undefined;
    this.#start().then(next.resolve, next.reject);
  }
}
