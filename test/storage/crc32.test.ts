import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32Of } from '../../src/storage/crc32.js';

describe('crc32Of', () => {
  it('equals zlib.crc32 for any bytes (every length around the 8-byte steps, and offsets)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(7), (bytes, offset) => {
        // The bytes at an odd place in a larger buffer, as the encoder's view of its scratch.
        const buffer = new Uint8Array(offset + bytes.length);
        buffer.set(bytes, offset);
        const view = new DataView(buffer.buffer, offset, bytes.length);
        expect(crc32Of(view, bytes.length)).toBe(crc32(bytes));
        if (bytes.length > 0) expect(crc32Of(view, bytes.length - 1)).toBe(crc32(bytes.subarray(0, -1)));
      }),
      { numRuns: 2000 },
    );
  });
});
