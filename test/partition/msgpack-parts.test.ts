import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MsgpackParts, partsLength } from '../../src/partition/msgpack-parts.js';

function decode(parts: readonly Uint8Array[]): unknown {
  return unpack(Buffer.concat(parts));
}

describe('MsgpackParts', () => {
  it('writes integers, arrays, booleans and nil at every length boundary as msgpackr reads them', () => {
    const numbers = [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
    const w = new MsgpackParts();
    w.array(numbers.length + 3);
    for (const n of numbers) w.uint(n);
    w.bool(true);
    w.bool(false);
    w.nil();
    expect(decode(w.finish())).toEqual([...numbers, true, false, null]);
    for (const length of [15, 16, 65_535, 65_536]) {
      const a = new MsgpackParts();
      a.array(length);
      for (let i = 0; i < length; i++) a.uint(i % 200);
      expect(decode(a.finish())).toEqual(Array.from({ length }, (_, i) => i % 200));
    }
  });

  it('copies small binaries and references large ones, at every length boundary', () => {
    const lengths = [0, 255, 256, 4095, 4096, 65_535, 65_536];
    const bins = lengths.map((n) => new Uint8Array(n).fill(n % 251));
    const w = new MsgpackParts();
    w.array(bins.length);
    for (const b of bins) w.bin(b);
    const parts = w.finish();
    expect(bins.filter((b) => parts.includes(b)).map((b) => b.length)).toEqual([4096, 65_535, 65_536]);
    expect(decode(parts)).toEqual(bins.map((b) => Buffer.from(b)));
    expect(partsLength(parts)).toBe(Buffer.concat(parts).length);
  });
});
