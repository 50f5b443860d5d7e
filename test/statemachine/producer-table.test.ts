import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { PRODUCER_BATCH_WINDOW, ProducerTable } from '../../src/statemachine/producer-table.js';

const tag = (id: string, epoch: number, sequence: number) => ({ id, epoch, sequence });

/** Append `n` one-record batches for (id, epoch) from sequence `from`, at offsets from `offset`. */
function appendRun(
  t: ProducerTable,
  id: string,
  epoch: number,
  from: number,
  n: number,
  offset: number,
): number {
  for (let s = from; s < from + n; s++) {
    expect(t.check(tag(id, epoch, s))).toEqual({ outcome: 'append' });
    t.record(tag(id, epoch, s), offset, offset);
    offset++;
  }
  return offset;
}

describe('idempotent producer table', () => {
  it('an unknown producer starts at sequence 0, in any epoch', () => {
    const t = new ProducerTable(10);
    expect(t.check(tag('p', 7, 0))).toEqual({ outcome: 'append' });
    expect(t.check(tag('p', 0, 3))).toMatchObject({
      outcome: 'rejected',
      code: 'OUT_OF_ORDER_SEQUENCE',
      details: { expected_sequence: 0 },
    });
  });

  it(`recognises retries of the last ${PRODUCER_BATCH_WINDOW} batches, with their offsets`, () => {
    const t = new ProducerTable(10);
    appendRun(t, 'p', 0, 0, 8, 100);
    for (let s = 8 - PRODUCER_BATCH_WINDOW; s < 8; s++) {
      expect(t.check(tag('p', 0, s))).toEqual({
        outcome: 'duplicate',
        batch: { sequence: s, baseOffset: 100 + s, lastOffset: 100 + s },
      });
    }
    // Older than the window: no longer recognised, and not the next one either.
    expect(t.check(tag('p', 0, 8 - PRODUCER_BATCH_WINDOW - 1))).toMatchObject({
      outcome: 'rejected',
      code: 'OUT_OF_ORDER_SEQUENCE',
      details: { expected_sequence: 8 },
    });
    expect(t.check(tag('p', 0, 8))).toEqual({ outcome: 'append' });
  });

  it('a gap is OUT_OF_ORDER_SEQUENCE', () => {
    const t = new ProducerTable(10);
    appendRun(t, 'p', 0, 0, 2, 0);
    expect(t.check(tag('p', 0, 3))).toMatchObject({
      outcome: 'rejected',
      code: 'OUT_OF_ORDER_SEQUENCE',
      details: { epoch: 0, sequence: 3, expected_sequence: 2 },
    });
  });

  it('an older epoch is fenced; a newer one must start at 0 and then fences the old one', () => {
    const t = new ProducerTable(10);
    appendRun(t, 'p', 3, 0, 3, 0);
    expect(t.check(tag('p', 2, 3))).toMatchObject({
      outcome: 'rejected',
      code: 'PRODUCER_FENCED',
      details: { epoch: 2, current_epoch: 3 },
    });
    expect(t.check(tag('p', 4, 1))).toMatchObject({
      code: 'OUT_OF_ORDER_SEQUENCE',
      details: { expected_sequence: 0 },
    });
    // The refused new epoch changed nothing: the old one goes on.
    expect(t.check(tag('p', 3, 3))).toEqual({ outcome: 'append' });
    appendRun(t, 'p', 4, 0, 1, 3);
    expect(t.check(tag('p', 3, 2))).toMatchObject({ code: 'PRODUCER_FENCED' });
    expect(t.check(tag('p', 4, 0))).toEqual({
      outcome: 'duplicate',
      batch: { sequence: 0, baseOffset: 3, lastOffset: 3 },
    });
    expect(t.check(tag('p', 4, 1))).toEqual({ outcome: 'append' });
  });

  it('producers are independent', () => {
    const t = new ProducerTable(10);
    appendRun(t, 'a', 0, 0, 3, 0);
    expect(t.check(tag('b', 0, 0))).toEqual({ outcome: 'append' });
    expect(t.check(tag('b', 0, 3))).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
  });

  it('forgets the least recently appended producer beyond maxProducers; checks are no use', () => {
    const t = new ProducerTable(3);
    appendRun(t, 'a', 0, 0, 1, 0);
    appendRun(t, 'b', 0, 0, 1, 1);
    appendRun(t, 'c', 0, 0, 1, 2);
    appendRun(t, 'a', 0, 1, 1, 3); // a is now the most recent
    expect(t.check(tag('b', 0, 0))).toMatchObject({ outcome: 'duplicate' }); // a check is no use
    appendRun(t, 'd', 0, 0, 1, 4); // evicts b
    expect(t.size).toBe(3);
    expect(t.check(tag('b', 0, 1))).toMatchObject({
      code: 'OUT_OF_ORDER_SEQUENCE',
      details: { expected_sequence: 0 },
    });
    expect(t.check(tag('c', 0, 0))).toMatchObject({ outcome: 'duplicate' });
    expect(t.check(tag('a', 0, 1))).toMatchObject({ outcome: 'duplicate' });
    expect(t.toSnapshot().map((row) => (row as unknown[])[0])).toEqual(['c', 'a', 'd']);
  });

  it('snapshots round-trip, recency order included', () => {
    const t = new ProducerTable(3);
    appendRun(t, 'x', 1, 0, 7, 0);
    appendRun(t, 'y', 0, 0, 2, 7);
    appendRun(t, 'x', 1, 7, 1, 9);
    const back = ProducerTable.fromSnapshot(3, t.toSnapshot(), 10);
    expect(back.toSnapshot()).toEqual(t.toSnapshot());
    appendRun(t, 'z', 0, 0, 1, 10);
    appendRun(back, 'z', 0, 0, 1, 10);
    appendRun(t, 'w', 0, 0, 1, 11);
    appendRun(back, 'w', 0, 0, 1, 11);
    expect(back.toSnapshot()).toEqual(t.toSnapshot()); // same eviction (y) on both
    expect(back.check(tag('y', 0, 0))).toEqual({ outcome: 'append' });
  });

  describe('fromSnapshot rejects inconsistent data with STORAGE_CORRUPT', () => {
    const cases: Array<[string, unknown, number?]> = [
      ['not a list', { a: 1 }],
      [
        'more producers than allowed',
        [
          ['a', 0, 0, 0, 0],
          ['b', 0, 0, 1, 1],
          ['c', 0, 0, 2, 2],
        ],
        2,
      ],
      ['no batches', [['a', 0]]],
      ['a partial batch', [['a', 0, 0, 0]]],
      ['a bad id', [['', 0, 0, 0, 0]]],
      ['a negative epoch', [['a', -1, 0, 0, 0]]],
      [
        'the same id twice',
        [
          ['a', 0, 0, 0, 0],
          ['a', 0, 1, 1, 1],
        ],
      ],
      ['a gap in sequences', [['a', 0, 0, 0, 0, 2, 1, 1]]],
      ['offsets going back', [['a', 0, 0, 5, 5, 1, 4, 4]]],
      ['base after last', [['a', 0, 0, 5, 4]]],
      ['an offset at the end', [['a', 0, 0, 10, 10]]],
      ['too many batches', [['a', 0, ...[0, 1, 2, 3, 4, 5].flatMap((s) => [s, s, s])]]],
    ];
    it.each(cases)('%s', (_, data, max = 5) => {
      let thrown: unknown;
      try {
        ProducerTable.fromSnapshot(max, data, 10);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(RaftlogError);
      expect((thrown as RaftlogError).code).toBe('STORAGE_CORRUPT');
    });
  });
});
