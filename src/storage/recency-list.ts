/** A member of a {@link RecencyList}: the list's links live in the member itself. */
export interface RecencyLinks<T> {
  older: T | undefined;
  newer: T | undefined;
  listed: boolean;
}

/**
 * Members ordered from least to most recently touched: a doubly linked list threaded through the
 * members, so moving one to the front on every append costs a few field writes and no hashing
 * (a `Map` deleted from and re-set on each append cost more than the append's own bookkeeping).
 */
export class RecencyList<T extends RecencyLinks<T>> {
  #oldest: T | undefined;
  #newest: T | undefined;

  /** The least recently touched member. */
  get oldest(): T | undefined {
    return this.#oldest;
  }

  /** Makes `member` the most recently touched, adding it if needed. */
  touch(member: T): void {
    if (member === this.#newest) return;
    if (member.listed) this.remove(member);
    member.older = this.#newest;
    member.newer = undefined;
    member.listed = true;
    if (this.#newest === undefined) this.#oldest = member;
    else this.#newest.newer = member;
    this.#newest = member;
  }

  /** Takes `member` out of the list (nothing if it is not in it). */
  remove(member: T): void {
    if (!member.listed) return;
    if (member.older === undefined) this.#oldest = member.newer;
    else member.older.newer = member.newer;
    if (member.newer === undefined) this.#newest = member.older;
    else member.newer.older = member.older;
    member.older = undefined;
    member.newer = undefined;
    member.listed = false;
  }
}
