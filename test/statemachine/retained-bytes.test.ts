import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BYTE_SPAN, RetainedBytes } from '../../src/statemachine/retained-bytes.js';

/** Data entries as [index, bytes], ascending. */
type Entries = ReadonlyArray<readonly [number, number]>;

const exactUpTo = (entries: Entries, index: number) =>
  entries.reduce((n, [i, b]) => (i <= index ? n + b : n), 0);

const build = (entries: Entries) => {
  const b = new RetainedBytes();
  for (const [i, bytes] of entries) b.add(i, bytes);
  return b;
};

/** Ascending indexes from 2 with gaps (entries without records), sizes from tiny to large. */
const arbEntries = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 3 * BYTE_SPAN }), fc.integer({ min: 1, max: 1 << 20 })), {
    minLength: 1,
    maxLength: 400,
  })
  .map((steps) => {
    let index = 1;
    return steps.map(([gap, bytes]) => {
      index += gap === 1 || gap % 7 !== 0 ? 1 : gap; // mostly consecutive, now and then a gap
      return [index, bytes] as const;
    });
  });

/** Checks `b` against the retained `entries`: monotone, exact at span ends, within a span elsewhere. */
function expectFits(b: RetainedBytes, entries: Entries): void {
  const last = entries[entries.length - 1]![0];
  const total = exactUpTo(entries, last);
  expect(b.total).toBe(total);
  let previous = 0;
  for (let i = 0; i <= last + 1; i++) {
    const got = b.upTo(i);
    expect(got, `upTo(${i})`).toBeGreaterThanOrEqual(previous);
    previous = got;
    const exact = exactUpTo(entries, i);
    if (i >= last || i % BYTE_SPAN === BYTE_SPAN - 1) expect(got, `upTo(${i})`).toBe(exact);
    const spanStart = i - (i % BYTE_SPAN);
    const spanBytes = exactUpTo(entries, spanStart + BYTE_SPAN - 1) - exactUpTo(entries, spanStart - 1);
    expect(Math.abs(got - exact), `upTo(${i})`).toBeLessThanOrEqual(spanBytes);
  }
  expect(b.upTo(last)).toBe(total);
}

describe('RetainedBytes: data bytes of the retained entries by Raft index', () => {
  it('is monotone, exact at span ends and at the end, and within one span elsewhere', () => {
    fc.assert(
      fc.property(arbEntries, (entries) => {
        expectFits(build(entries), entries);
      }),
    );
  });

  it('after dropping a prefix: the same figures and snapshot as a replica that never had it', () => {
    fc.assert(
      fc.property(arbEntries, fc.nat(), (entries, cut) => {
        const dropped = cut % entries.length;
        const kept = entries.slice(dropped);
        const b = build(entries);
        b.dropBefore(kept[0]![0], exactUpTo(entries.slice(0, dropped), Number.MAX_SAFE_INTEGER));
        expectFits(b, kept);
        expect(b.toSnapshot()).toEqual(build(kept).toSnapshot());
        // Adding goes on from there.
        const next = [kept[kept.length - 1]![0] + 1, 5] as const;
        b.add(...next);
        expectFits(b, [...kept, next]);
      }),
    );
  });

  it('rebuilds from its snapshot', () => {
    fc.assert(
      fc.property(arbEntries, (entries) => {
        const sums = build(entries).toSnapshot();
        const b = RetainedBytes.fromSnapshot(sums, entries[0]![0], entries[entries.length - 1]![0])!;
        expectFits(b, entries);
        expect(b.toSnapshot()).toEqual(sums);
      }),
    );
  });

  it('refuses sums that do not fit the entries', () => {
    expect(RetainedBytes.fromSnapshot([1, 2], 2, 10)).toBeUndefined(); // one span, two sums
    expect(RetainedBytes.fromSnapshot([-1], 2, 10)).toBeUndefined();
    expect(RetainedBytes.fromSnapshot(['1'], 2, 10)).toBeUndefined();
    expect(RetainedBytes.fromSnapshot([1, 2], 2, BYTE_SPAN)).toBeDefined();
  });

  it('dropping everything leaves nothing; adding starts again', () => {
    const b = build([
      [2, 10],
      [3, 20],
    ]);
    b.dropBefore(undefined, 30);
    expect([b.total, b.upTo(100), b.toSnapshot()]).toEqual([0, 0, []]);
    b.add(500, 7);
    expect([b.total, b.upTo(499), b.upTo(500)]).toEqual([7, 0, 7]);
  });

  it('estimates an unknown spread evenly over the indexes, with the exact total', () => {
    const b = RetainedBytes.estimate(1000, 10, 209); // 200 indexes
    expect(b.total).toBe(1000);
    expect(b.upTo(9)).toBe(0);
    expect(b.upTo(109)).toBe(500);
    expect(b.upTo(209)).toBe(1000);
    let previous = 0;
    for (let i = 10; i <= 209; i++) {
      expect(b.upTo(i)).toBeGreaterThanOrEqual(previous);
      previous = b.upTo(i);
    }
    // A range no real log holds (a damaged snapshot's claim) is not spread out span by span.
    expect(RetainedBytes.estimate(1000, 10, 2 ** 50).toSnapshot()).toEqual([]);
  });
});
