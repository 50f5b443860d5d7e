import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import type { Entry } from '../../src/raft/types.js';
import { entryKey } from '../../src/storage/level-keys.js';
import { decodeEntry, EntryEncoder } from '../../src/storage/record-codec.js';

const entryArb = fc.record({
  index: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  term: fc.oneof(
    fc.nat(300),
    fc.nat(0x1_0001),
    fc.nat(0xffff_ffff),
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  ),
  type: fc.constantFrom(0 as const, 1 as const),
  data: fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.integer({ min: 0, max: 70_000 }).map((n) => new Uint8Array(n).fill(7)),
  ),
});

const encoder = new EntryEncoder();
/** Key and value of `e` in group 3, copied: the encoder's are valid only until its next call. */
function encode(e: Entry): { key: Buffer; value: Buffer } {
  const value = Buffer.from(encoder.encode(3, e));
  return { key: Buffer.from(encoder.key), value };
}

describe('record codec: entries', () => {
  it('round-trips any entry, and its body is the msgpack array [term, type, data]', () => {
    const packr = new Packr({ useRecords: false });
    fc.assert(
      fc.property(entryArb, (e: Entry) => {
        const { key, value } = encode(e);
        expect(key.equals(entryKey(3, e.index))).toBe(true);
        const decoded = decodeEntry(key, e.index, value);
        expect([decoded.index, decoded.term, decoded.type]).toEqual([e.index, e.term, e.type]);
        expect(Buffer.from(decoded.data).equals(e.data)).toBe(true);
        const [term, type, data] = packr.unpack(value.subarray(0, -4)) as [number, number, Uint8Array];
        expect([term, type, Buffer.from(data).equals(e.data)]).toEqual([e.term, e.type, true]);
      }),
    );
  });

  it('refuses a value under another key, or with any single byte changed', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (e: Entry, at, flip) => {
        const { key, value } = encode(e);
        const other = entryKey(4, e.index);
        expect(
          isErrorCode(
            catchError(() => decodeEntry(other, e.index, value)),
            'STORAGE_CORRUPT',
          ),
        ).toBe(true);
        const damaged = Buffer.from(value);
        damaged[at % damaged.length]! ^= flip;
        expect(
          isErrorCode(
            catchError(() => decodeEntry(key, e.index, damaged)),
            'STORAGE_CORRUPT',
          ),
        ).toBe(true);
      }),
    );
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
