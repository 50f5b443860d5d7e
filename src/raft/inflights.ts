/**
 * Flow control for one follower: the append messages sent but not yet acknowledged, each
 * remembered by the last index it carried and its size. Sending stops when either the count or
 * the byte limit is reached.
 */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxCount: number,
    /** 0 = no byte limit. */
    private readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.indexes.length - this.head;
  }

  add(lastIndex: number, size: number): void {
    this.indexes.push(lastIndex);
    this.sizes.push(size);
    this.bytes += size;
  }

  /** Forget every message whose last index is at or below `index` (it was acknowledged). */
  freeLE(index: number): void {
    while (this.head < this.indexes.length && this.indexes[this.head]! <= index) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.indexes.length) {
      this.indexes.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }
}
