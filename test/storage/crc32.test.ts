import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Crc32Scratch } from '../../src/storage/crc32.js';

describe('Crc32Scratch', () => {
  it('sums like zlib.crc32 for any bytes (every length around the 8-byte steps)', () => {
    const scratch = new Crc32Scratch();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        scratch.bytes.set(bytes, 0);
        expect(scratch.sum(bytes.length)).toBe(crc32(bytes));
        if (bytes.length > 0) expect(scratch.sum(bytes.length - 1)).toBe(crc32(bytes.subarray(0, -1)));
      }),
      { numRuns: 2000 },
    );
  });

  it('sums the whole scratch', () => {
    const scratch = new Crc32Scratch();
    scratch.bytes.fill(0xa5);
    for (let i = 0; i < scratch.bytes.length; i += 997) scratch.bytes[i] = i & 0xff;
    expect(scratch.sum(scratch.bytes.length)).toBe(crc32(scratch.bytes));
  });
});
