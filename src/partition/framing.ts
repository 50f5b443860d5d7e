/**
 * Length-prefixed framing for peer connections: each frame is a u32 big-endian payload length
 * followed by the payload.
 */

/** Bytes of the length prefix. */
export const FRAME_HEADER_BYTES = 4;

/** The length prefix for a payload of `length` bytes. */
export function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}

/**
 * Bytes of the sync counter (u64 big-endian) that starts the payload of every data frame after
 * the handshake: the sender's latest durable sync counter (see `rollback-guard.ts`).
 */
export const STAMP_BYTES = 8;

// The counter is written and read as two 32-bit halves: a BigInt per frame showed in profiles.
const HIGH = 2 ** 32;
/** The high half of Number.MAX_SAFE_INTEGER: a counter above it is not a safe integer. */
const MAX_SAFE_HIGH = Math.floor(Number.MAX_SAFE_INTEGER / HIGH);

/** The length prefix and sync counter of a data frame whose body is `bodyLength` bytes. */
export function stampedHeader(bodyLength: number, counter: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES + STAMP_BYTES);
  header.writeUInt32BE(STAMP_BYTES + bodyLength, 0);
  header.writeUInt32BE(Math.floor(counter / HIGH), FRAME_HEADER_BYTES);
  header.writeUInt32BE(counter % HIGH, FRAME_HEADER_BYTES + 4);
  return header;
}

/** A data frame's payload taken apart, or `undefined` if it is too short or its counter too large. */
export function parseStamped(payload: Buffer): { counter: number; body: Buffer } | undefined {
  if (payload.length < STAMP_BYTES) return undefined;
  const high = payload.readUInt32BE(0);
  if (high > MAX_SAFE_HIGH) return undefined;
  return { counter: high * HIGH + payload.readUInt32BE(4), body: payload.subarray(STAMP_BYTES) };
}

/** A small payload with its length prefix, in one buffer (handshake frames). */
export function framed(payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload.length), payload]);
}

/**
 * Reassembles frames from the chunks a socket delivers. A payload that lies within one chunk is
 * returned as a view of it (no copy); one that spans chunks is concatenated once.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /**
   * @param maxPayload the largest payload accepted; may be lowered later (see {@link setMaxPayload}).
   */
  constructor(private maxPayload: number) {}

  /** Change the payload limit for the frames not yet read (a handshake allows only tiny ones). */
  setMaxPayload(maxPayload: number): void {
    this.maxPayload = maxPayload;
  }

  /** Add bytes read from the socket. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete payload, `undefined` while it is incomplete, or `'oversize'` when the
   * announced length exceeds the limit (the stream cannot be resynchronised: drop the connection).
   */
  next(): Buffer | undefined | 'oversize' {
    if (this.buffered < FRAME_HEADER_BYTES) return undefined;
    const length = this.peekLength();
    if (length > this.maxPayload) return 'oversize';
    if (this.buffered < FRAME_HEADER_BYTES + length) return undefined;
    this.consume(FRAME_HEADER_BYTES);
    return this.consume(length);
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32BE(0);
    const head = Buffer.concat(this.chunks, FRAME_HEADER_BYTES);
    return head.readUInt32BE(0);
  }

  /** Remove and return the first `n` buffered bytes (`n` ≤ buffered). */
  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const take = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(take);
    }
    return out;
  }
}
