import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_BYTES,
  FrameReader,
  framed,
  frameHeader,
  parseStamped,
  STAMP_BYTES,
  stampedHeader,
} from '../../src/partition/framing.js';

/** Split `bytes` at the given cut points (taken modulo its length). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort(
    (x, y) => x - y,
  );
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

describe('FrameReader', () => {
  it('reassembles any sequence of frames however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (payloads, cuts) => {
          const reader = new FrameReader(40);
          const out: Buffer[] = [];
          const stream = Buffer.concat(payloads.map((p) => framed(Buffer.from(p))));
          for (const chunk of chunked(stream, cuts)) {
            reader.push(chunk);
            for (let f = reader.next(); f !== undefined; f = reader.next()) {
              expect(f).not.toBe('oversize');
              out.push(f as Buffer);
            }
          }
          expect(out.map((b) => [...b])).toEqual(payloads.map((p) => [...p]));
        },
      ),
    );
  });

  it('returns a payload within one chunk as a view of it', () => {
    const chunk = framed(Buffer.from('abc'));
    const reader = new FrameReader(10);
    reader.push(chunk);
    const payload = reader.next() as Buffer;
    expect(payload.toString()).toBe('abc');
    expect(payload.buffer).toBe(chunk.buffer);
  });

  it('reports a frame over the limit from its header alone, and the limit can change', () => {
    const reader = new FrameReader(3);
    reader.push(frameHeader(4));
    expect(reader.next()).toBe('oversize');
    reader.setMaxPayload(4);
    expect(reader.next()).toBeUndefined(); // now allowed, waiting for the payload
    reader.push(Buffer.from('wxyz'));
    expect((reader.next() as Buffer).toString()).toBe('wxyz');
  });
});

describe('stamped data frames', () => {
  it('carry the sync counter as a big-endian u64, any safe integer, and refuse larger ones', () => {
    for (const counter of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER]) {
      const header = stampedHeader(3, counter);
      expect(header.readBigUInt64BE(FRAME_HEADER_BYTES)).toBe(BigInt(counter));
      const payload = Buffer.concat([header.subarray(FRAME_HEADER_BYTES), Buffer.of(1, 2, 3)]);
      expect(parseStamped(payload)).toEqual({ counter, body: Buffer.of(1, 2, 3) });
    }
    const tooLarge = Buffer.alloc(STAMP_BYTES);
    tooLarge.writeBigUInt64BE(BigInt(Number.MAX_SAFE_INTEGER) + 1n);
    expect(parseStamped(tooLarge)).toBeUndefined();
    expect(parseStamped(Buffer.alloc(STAMP_BYTES - 1))).toBeUndefined();
  });
});
