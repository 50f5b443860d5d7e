import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { type DataEntryLocation, OffsetIndex } from '../../src/statemachine/offset-index.js';
import { MAX_RECORDS_PER_BATCH } from '../../src/statemachine/record-batch.js';

/** The obvious model: every retained entry in a plain array. */
class ModelIndex {
  entries: DataEntryLocation[] = [];
  end: number;
  constructor(start = 0) {
    this.end = start;
  }
  append(index: number, count: number) {
    this.entries.push({ index, baseOffset: this.end, count });
    this.end += count;
  }
  truncateBefore(offset: number) {
    this.entries = this.entries.filter((e) => e.baseOffset + e.count > offset);
  }
}

const same = (a: DataEntryLocation | undefined, b: DataEntryLocation | undefined) =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.index === b.index &&
    a.baseOffset === b.baseOffset &&
    a.count === b.count);

/** The first answer of the index that differs from the model's, or `undefined`. */
function firstMismatch(idx: OffsetIndex, model: ModelIndex, lastIndex: number): string | undefined {
  if (idx.size !== model.entries.length) return `size ${idx.size}`;
  if (idx.endOffset !== model.end) return `end ${idx.endOffset}`;
  if (!same(idx.first, model.entries[0]) || !same(idx.last, model.entries.at(-1))) return 'first/last';
  for (const e of model.entries) {
    if (!same(idx.entryAt(e.index), e)) return `entryAt(${e.index})`;
    for (const offset of [e.baseOffset, e.baseOffset + e.count - 1, e.baseOffset + (e.count >> 1)]) {
      if (!same(idx.locate(offset), e)) return `locate(${offset})`;
    }
  }
  const dataIndexes = new Set(model.entries.map((e) => e.index));
  for (let i = 0; i <= lastIndex + 1; i++) {
    if (!dataIndexes.has(i) && idx.entryAt(i) !== undefined) return `entryAt(${i}) of no data entry`;
  }
  if (idx.locate(model.end) !== undefined) return 'locate(end)';
  const first = model.entries[0];
  if (first !== undefined && idx.locate(first.baseOffset - 1) !== undefined) return 'locate below the first';
  return undefined;
}

function expectSame(idx: OffsetIndex, model: ModelIndex, lastIndex: number): void {
  expect(firstMismatch(idx, model, lastIndex)).toBeUndefined();
}

type Op =
  | { kind: 'append'; skip: number; count: number; repeat: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'snapshot' };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      // Mostly consecutive indexes, sometimes a gap (entries that took no offsets).
      skip: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 5 })),
      count: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) },
        fc.integer({ min: 1, max: 1000 }),
        fc.constant(MAX_RECORDS_PER_BATCH),
      ),
      repeat: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) },
        fc.integer({ min: 100, max: 600 }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
);

describe('offset index', () => {
  it('answers like the obvious model across appends, gaps, truncations and snapshots', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1000 }), fc.array(arbOp, { maxLength: 25 }), (start, ops) => {
        let idx = new OffsetIndex(start);
        const model = new ModelIndex(start);
        let lastIndex = 0;
        for (const op of ops) {
          if (op.kind === 'append') {
            for (let r = 0; r < op.repeat; r++) {
              lastIndex += 1 + (r === 0 ? op.skip : 0);
              idx.append(lastIndex, op.count);
              model.append(lastIndex, op.count);
            }
          } else if (op.kind === 'truncate') {
            const lo = model.entries[0]?.baseOffset ?? model.end;
            const offset = lo + Math.floor(op.at * (model.end - lo));
            idx.truncateBefore(offset);
            model.truncateBefore(offset);
          } else {
            const snap = idx.toSnapshot();
            idx = OffsetIndex.fromSnapshot(snap);
            // A snapshot is logical: the rebuilt index snapshots to the same bytes.
            expect(idx.toSnapshot()).toEqual(snap);
          }
          expectSame(idx, model, lastIndex);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('keeps exact offsets when every entry holds the maximum 2^24 records (deltas near 2^32)', () => {
    const idx = new OffsetIndex();
    const model = new ModelIndex();
    for (let i = 1; i <= 700; i++) {
      idx.append(i, MAX_RECORDS_PER_BATCH);
      model.append(i, MAX_RECORDS_PER_BATCH);
    }
    expectSame(idx, model, 700);
    expect(idx.locate(255 * MAX_RECORDS_PER_BATCH + 7)).toEqual({
      index: 256,
      baseOffset: 255 * MAX_RECORDS_PER_BATCH,
      count: MAX_RECORDS_PER_BATCH,
    });
  });

  it('snapshots the tail of a run cut by a truncation', () => {
    const idx = new OffsetIndex();
    for (let i = 1; i <= 10; i++) idx.append(i, 2); // one run: indexes 1..10, offsets 0..19
    idx.append(15, 1);
    idx.truncateBefore(9); // keeps index 5 (offsets 8, 9) onwards
    const snap = idx.toSnapshot();
    expect(snap.firstBaseOffset).toBe(8);
    expect(snap.runs).toEqual([0, 5, 6, 15]);
    const back = OffsetIndex.fromSnapshot(snap);
    expect(back.first).toEqual({ index: 5, baseOffset: 8, count: 2 });
    expect(back.entryAt(15)).toEqual({ index: 15, baseOffset: 20, count: 1 });
    expect(back.entryAt(4)).toBeUndefined();
  });

  it('handles offsets far beyond 2^32 exactly', () => {
    const start = 2 ** 52;
    const idx = new OffsetIndex(start);
    idx.append(10, 3);
    idx.append(12, 1);
    expect(idx.locate(start + 2)).toEqual({ index: 10, baseOffset: start, count: 3 });
    expect(idx.entryAt(12)).toEqual({ index: 12, baseOffset: start + 3, count: 1 });
    expect(idx.entryAt(11)).toBeUndefined();
  });

  it('gives the memory of truncated entries back', () => {
    const idx = new OffsetIndex();
    for (let i = 1; i <= 100_000; i++) idx.append(i, 1);
    idx.truncateBefore(99_990);
    // 10 entries left: the arrays shrank to a chunk or two, the answers did not change.
    expect(idx.size).toBe(10);
    expect(idx.locate(99_995)).toEqual({ index: 99_996, baseOffset: 99_995, count: 1 });
    idx.truncateBefore(100_000);
    expect(idx.size).toBe(0);
    expect(idx.first).toBeUndefined();
    idx.append(100_002, 4);
    expect(idx.locate(100_003)).toEqual({ index: 100_002, baseOffset: 100_000, count: 4 });
    expect(idx.entryAt(100_001)).toBeUndefined();
  });

  describe('fromSnapshot rejects inconsistent data with STORAGE_CORRUPT', () => {
    const good = (() => {
      const idx = new OffsetIndex(5);
      idx.append(3, 2);
      idx.append(4, 200);
      idx.append(9, 1);
      return idx.toSnapshot();
    })();
    it('accepts the good one', () => {
      expect(good.runs).toEqual([0, 3, 2, 9]);
      expect(OffsetIndex.fromSnapshot(good).toSnapshot()).toEqual(good);
    });
    const cases: Array<[string, object]> = [
      ['negative first base', { firstBaseOffset: -1 }],
      ['a zero count', { counts: new Uint8Array([2, 0]) }],
      ['a count above 2^24', { counts: new Uint8Array([0x81, 0x80, 0x80, 0x08]), runs: [0, 1] }],
      ['an unterminated varint', { counts: new Uint8Array([2, 0x80]) }],
      ['a five-byte varint', { counts: new Uint8Array([0x81, 0x80, 0x80, 0x80, 0x01]), runs: [0, 1] }],
      ['no run for the first entry', { runs: [] }],
      ['odd runs', { runs: [0, 3, 2] }],
      ['indexes going back', { runs: [0, 3, 2, 4] }],
      ['a run that does not jump', { runs: [0, 3, 2, 5] }],
      ['a run beyond the entries', { runs: [0, 3, 2, 9, 7, 20] }],
      ['a run on a non-integer index', { runs: [0, 3.5] }],
      ['offsets beyond 2^53', { firstBaseOffset: Number.MAX_SAFE_INTEGER - 1 }],
    ];
    it.each(cases)('%s', (_, change) => {
      let thrown: unknown;
      try {
        OffsetIndex.fromSnapshot({ ...good, ...change });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(RaftlogError);
      expect((thrown as RaftlogError).code).toBe('STORAGE_CORRUPT');
    });
  });
});
