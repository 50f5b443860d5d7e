/** Total bytes of a payload's parts. */
export function partsLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  return n;
}

/** Byte fields at least this long are referenced by the payload's parts rather than copied. */
const REFERENCED_BYTES = 4096;

/**
 * A msgpack writer for the shapes of peer messages (arrays, non-negative integers, booleans, nil,
 * binaries) that yields its output as parts: the bytes it wrote, cut around each large binary,
 * which is a part of its own. msgpackr decodes it (integers of 2^32 and above are float64s, as
 * msgpackr writes them).
 */
export class MsgpackParts {
  private readonly parts: Uint8Array[] = [];
  private buf = Buffer.allocUnsafe(1024);
  /** Where the bytes not yet cut into a part begin. */
  private from = 0;
  private at = 0;

  array(length: number): void {
    if (length < 16) this.byte(0x90 | length);
    else if (length < 0x10000) this.u16(0xdc, length);
    else this.u32(0xdd, length);
  }

  uint(n: number): void {
    if (n < 0x80) this.byte(n);
    else if (n < 0x100) {
      this.room(2);
      this.buf[this.at++] = 0xcc;
      this.buf[this.at++] = n;
    } else if (n < 0x10000) this.u16(0xcd, n);
    else if (n < 0x100000000) this.u32(0xce, n);
    else {
      this.room(9);
      this.buf[this.at] = 0xcb;
      this.buf.writeDoubleBE(n, this.at + 1);
      this.at += 9;
    }
  }

  bool(b: boolean): void {
    this.byte(b ? 0xc3 : 0xc2);
  }

  nil(): void {
    this.byte(0xc0);
  }

  bin(bytes: Uint8Array): void {
    const n = bytes.byteLength;
    if (n < 0x100) {
      this.room(2);
      this.buf[this.at++] = 0xc4;
      this.buf[this.at++] = n;
    } else if (n < 0x10000) this.u16(0xc5, n);
    else this.u32(0xc6, n);
    if (n >= REFERENCED_BYTES) {
      this.cut();
      this.parts.push(bytes);
    } else {
      this.room(n);
      this.buf.set(bytes, this.at);
      this.at += n;
    }
  }

  /** The parts, in order; the writer is done. */
  finish(): Uint8Array[] {
    this.cut();
    return this.parts;
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  private u16(tag: number, n: number): void {
    this.room(3);
    this.buf[this.at] = tag;
    this.buf.writeUInt16BE(n, this.at + 1);
    this.at += 3;
  }

  private u32(tag: number, n: number): void {
    this.room(5);
    this.buf[this.at] = tag;
    this.buf.writeUInt32BE(n, this.at + 1);
    this.at += 5;
  }

  /** Make room for `n` more bytes: a new buffer when this one is full (what it holds stays a part). */
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    this.cut();
    this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    this.from = 0;
    this.at = 0;
  }

  private cut(): void {
    if (this.at > this.from) this.parts.push(this.buf.subarray(this.from, this.at));
    this.from = this.at;
  }
}
