import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import type { Entry } from '../../src/raft/types.js';
import {
  type ApplyResult,
  DEFAULT_MAX_PRODUCERS,
  PartitionState,
  rejectionError,
} from '../../src/statemachine/partition-state.js';
import { confEntry, dataEntry, garbageEntry, noopEntry, truncateEntry } from './entries.js';

const p = (id: string, epoch: number, sequence: number) => ({ id, epoch, sequence });

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
/**
 * A snapshot's bytes with forged fields: format 2's tag (without the retained bytes' spread, still
 * read), or with `spread` the current format's, then the fields.
 */
const forge = (fields: unknown[], spread?: unknown) =>
  spread === undefined
    ? new Uint8Array([2, ...packr.pack(fields)])
    : new Uint8Array([new PartitionState().snapshot()[0]!, ...packr.pack([...fields, spread])]);

function expectCode(code: string, fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(RaftlogError);
  expect((thrown as RaftlogError).code).toBe(code);
}

/** Applies entries 1, 2, ... and keeps them, as the Raft log does. */
function replica(maxProducers?: number) {
  const state = new PartitionState(maxProducers === undefined ? {} : { maxProducers });
  const log: Entry[] = [];
  return {
    state,
    log,
    apply(entry: Entry): ApplyResult {
      log.push(entry);
      return state.apply(entry);
    },
  };
}

const sizeOf = (...entries: Entry[]) => entries.reduce((n, e) => n + e.data.byteLength, 0);

describe('partition state: applying entries', () => {
  it('assigns dense offsets from 0 to data entries only', () => {
    const r = replica();
    expect(r.apply(noopEntry(1))).toEqual({ outcome: 'empty', index: 1 });
    expect(r.apply(dataEntry(2, 3))).toMatchObject({
      outcome: 'appended',
      index: 2,
      baseOffset: 0,
      lastOffset: 2,
    });
    expect(r.apply(confEntry(3))).toEqual({ outcome: 'empty', index: 3 });
    expect(r.apply(noopEntry(4))).toEqual({ outcome: 'empty', index: 4 });
    expect(r.apply(dataEntry(5, 1))).toMatchObject({
      outcome: 'appended',
      index: 5,
      baseOffset: 3,
      lastOffset: 3,
    });
    expect(r.state.highWatermark).toBe(4);
    expect(r.state.appliedIndex).toBe(5);
    expect(r.state.logStartOffset).toBe(0);
  });

  it('translates offsets to Raft indexes and back, skipping entries without records', () => {
    const r = replica();
    [noopEntry(1), dataEntry(2, 3), confEntry(3), noopEntry(4), dataEntry(5, 1), dataEntry(6, 2)].forEach(
      r.apply,
    );
    expect([0, 1, 2, 3, 4, 5].map((o) => r.state.locate(o)?.index)).toEqual([2, 2, 2, 5, 6, 6]);
    expect(r.state.locate(6)).toBeUndefined(); // the high watermark
    expect(r.state.locate(4)).toEqual({ index: 6, baseOffset: 4, count: 2 });
    expect([1, 2, 3, 4, 5, 6, 7].map((i) => r.state.entryAt(i)?.baseOffset)).toEqual([
      undefined,
      0,
      undefined,
      undefined,
      3,
      4,
      undefined,
    ]);
    expectCode('INVALID_REQUEST', () => r.state.locate(-1));
    expectCode('INVALID_REQUEST', () => r.state.locate(1.5));
    expectCode('INVALID_REQUEST', () => r.state.entryAt(2 ** 53));
  });

  it('hands out the decoded batch with the timestamp the leader chose', () => {
    const r = replica();
    const result = r.apply(dataEntry(1, 2, undefined, 1_700_000_000_123));
    expect(result.outcome).toBe('appended');
    if (result.outcome !== 'appended') return;
    expect(result.batch.timestamp).toBe(1_700_000_000_123);
    expect(result.batch.records).toHaveLength(2);
    expect(r.state.retainedBytes).toBe(sizeOf(r.log[0]!));
  });

  it('rejects undecodable data deterministically, taking no offsets', () => {
    const r = replica();
    const result = r.apply(garbageEntry(1));
    expect(result).toMatchObject({ outcome: 'rejected', index: 1, code: 'INVALID_REQUEST' });
    expect(r.apply(garbageEntry(2, new Uint8Array([99])))).toMatchObject({
      outcome: 'rejected',
      code: 'INVALID_REQUEST',
    });
    expect(r.apply(dataEntry(3, 1))).toMatchObject({ baseOffset: 0 });
    expect(r.state.entryAt(1)).toBeUndefined();
  });

  it('only accepts the entry after the applied index', () => {
    const r = replica();
    r.apply(dataEntry(1, 1));
    expectCode('INVALID_REQUEST', () => r.state.apply(dataEntry(3, 1)));
    expectCode('INVALID_REQUEST', () => r.state.apply(dataEntry(1, 1)));
    expect(r.state.appliedIndex).toBe(1);
    expect(r.state.highWatermark).toBe(1);
  });
});

describe('partition state: idempotent producers', () => {
  it('a retry returns the original offsets and appends nothing', () => {
    const r = replica();
    r.apply(dataEntry(1, 2, p('a', 0, 0)));
    r.apply(dataEntry(2, 3, p('a', 0, 1)));
    expect(r.apply(dataEntry(3, 3, p('a', 0, 1)))).toEqual({
      outcome: 'duplicate',
      index: 3,
      baseOffset: 2,
      lastOffset: 4,
    });
    expect(r.apply(dataEntry(4, 2, p('a', 0, 0)))).toEqual({
      outcome: 'duplicate',
      index: 4,
      baseOffset: 0,
      lastOffset: 1,
    });
    expect(r.state.highWatermark).toBe(5);
    expect(r.state.entryAt(3)).toBeUndefined();
    // Only appended entries are retained.
    expect(r.state.retainedBytes).toBe(sizeOf(r.log[0]!, r.log[1]!));
  });

  it('gaps and old epochs are rejected with errors the client can act on', () => {
    const r = replica();
    r.apply(dataEntry(1, 1, p('a', 2, 0)));
    const gap = r.apply(dataEntry(2, 1, p('a', 2, 5)));
    expect(gap).toMatchObject({ outcome: 'rejected', code: 'OUT_OF_ORDER_SEQUENCE' });
    const fenced = r.apply(dataEntry(3, 1, p('a', 1, 1)));
    expect(fenced).toMatchObject({ outcome: 'rejected', code: 'PRODUCER_FENCED' });
    if (fenced.outcome !== 'rejected') return;
    const err = rejectionError(fenced);
    expect(err).toBeInstanceOf(RaftlogError);
    expect(err.code).toBe('PRODUCER_FENCED');
    expect(err.details).toEqual({ epoch: 1, current_epoch: 2 });
    expect(r.state.highWatermark).toBe(1);
    expect(r.apply(dataEntry(4, 1, p('a', 3, 0)))).toMatchObject({ outcome: 'appended', baseOffset: 1 });
  });

  it('bounds the producers it remembers', () => {
    const r = replica(2);
    expect(new PartitionState().maxProducers).toBe(DEFAULT_MAX_PRODUCERS);
    r.apply(dataEntry(1, 1, p('a', 0, 0)));
    r.apply(dataEntry(2, 1, p('b', 0, 0)));
    r.apply(dataEntry(3, 1, p('c', 0, 0)));
    expect(r.state.producerCount).toBe(2);
    expect(r.apply(dataEntry(4, 1, p('a', 0, 1)))).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' });
    expectCode('INVALID_REQUEST', () => new PartitionState({ maxProducers: 0 }));
  });
});

describe('partition state: truncation, snapshots, restarts', () => {
  function sample() {
    const r = replica(4);
    [
      noopEntry(1),
      dataEntry(2, 3, p('a', 0, 0)),
      confEntry(3),
      dataEntry(4, 2, p('a', 0, 1)),
      dataEntry(5, 2, p('a', 0, 1)), // duplicate
      dataEntry(6, 1),
      noopEntry(7),
      dataEntry(8, 4, p('b', 1, 0)),
    ].forEach(r.apply);
    return r;
  }

  it('a truncate-prefix entry moves the log start and forgets whole entries below it', () => {
    const r = sample();
    const { state, log } = r;
    const retained = state.retainedBytes;
    // Offsets 0-2 at index 2, 3-4 at index 4: a log start inside the entry at 4 keeps it.
    expect(r.apply(truncateEntry(9, { fromOffset: 0, logStartOffset: 4, bytes: sizeOf(log[1]!) }))).toEqual({
      outcome: 'truncated',
      index: 9,
      logStartOffset: 4,
    });
    expect(state.logStartOffset).toBe(4);
    expect(state.firstRetainedIndex).toBe(4);
    expect(state.retainedBytes).toBe(retained - sizeOf(log[1]!));
    expect(state.locate(3)).toBeUndefined();
    expect(state.locate(4)).toEqual({ index: 4, baseOffset: 3, count: 2 });
    expect(state.entryAt(2)).toBeUndefined();
    // Computed against an older log start: changes nothing.
    expect(r.apply(truncateEntry(10, { fromOffset: 0, logStartOffset: 6, bytes: 1 }))).toEqual({
      outcome: 'empty',
      index: 10,
    });
    expect(state.logStartOffset).toBe(4);
    r.apply(truncateEntry(11, { fromOffset: 4, logStartOffset: 10, bytes: state.retainedBytes }));
    expect(state.firstRetainedIndex).toBeUndefined();
    expect(state.retainedBytes).toBe(0);
    expect(state.locate(9)).toBeUndefined();
    expect(state.highWatermark).toBe(10);
    // Producers outlive truncation: a retry still gets its (now truncated) offsets.
    expect(state.apply(dataEntry(12, 4, p('b', 1, 0)))).toMatchObject({
      outcome: 'duplicate',
      baseOffset: 6,
    });
  });

  it('rejects truncate-prefix entries that cannot be right, on every replica alike', () => {
    const { state, log } = sample();
    const before = state.snapshot();
    const all = state.retainedBytes;
    const bad = [
      { fromOffset: 0, logStartOffset: 11, bytes: all }, // beyond the high watermark
      { fromOffset: 0, logStartOffset: 0, bytes: 0 }, // does not move
      { fromOffset: 0, logStartOffset: 3, bytes: all + 1 }, // more than retained
      { fromOffset: 0, logStartOffset: 3, bytes: all }, // keeps entries, yet drops every byte
      { fromOffset: 0, logStartOffset: 10, bytes: sizeOf(log[1]!) }, // drops every entry, not every byte
    ];
    let index = 9;
    for (const cmd of bad) {
      expect(state.apply(truncateEntry(index++, cmd))).toMatchObject({
        outcome: 'rejected',
        code: 'INVALID_REQUEST',
      });
    }
    expect(state.apply(garbageEntry(index++, new Uint8Array([2, 0xc1])))).toMatchObject({
      outcome: 'rejected',
    });
    const copy = new PartitionState();
    copy.restore(before);
    for (let i = 9; i < index; i++) copy.apply(noopEntry(i));
    expect(state.snapshot()).toEqual(copy.snapshot());
  });

  it('restore(snapshot()) gives a state that behaves the same and snapshots to the same bytes', () => {
    const a = sample();
    a.apply(truncateEntry(9, { fromOffset: 0, logStartOffset: 4, bytes: sizeOf(a.log[1]!) }));
    const copy = new PartitionState();
    copy.restore(a.state.snapshot());
    expect(copy.snapshot()).toEqual(a.state.snapshot());
    expect(copy.maxProducers).toBe(4);
    expect(copy.appliedIndex).toBe(9);
    expect(copy.retainedBytes).toBe(a.state.retainedBytes);
    for (const entry of [
      dataEntry(10, 1, p('a', 0, 1)),
      dataEntry(11, 1, p('a', 0, 2)),
      noopEntry(12),
      dataEntry(13, 2),
    ]) {
      expect(copy.apply(entry)).toEqual(a.state.apply(entry));
    }
    expect(copy.snapshot()).toEqual(a.state.snapshot());
  });

  it('a restart rebuilds the same state from a checkpoint and the entries after it', () => {
    const a = sample();
    const checkpoint = a.state.snapshot(); // at index 8
    a.apply(dataEntry(9, 1, p('c', 0, 0)));
    a.apply(truncateEntry(10, { fromOffset: 0, logStartOffset: 3, bytes: sizeOf(a.log[1]!) }));
    a.apply(dataEntry(11, 1, p('c', 0, 1)));
    a.apply(dataEntry(12, 1, p('c', 0, 1))); // duplicate
    a.apply(noopEntry(13));
    const restarted = new PartitionState();
    restarted.restore(checkpoint);
    for (const entry of a.log.slice(restarted.appliedIndex)) restarted.apply(entry);
    expect(restarted.snapshot()).toEqual(a.state.snapshot());
  });

  it('reads format 2 snapshots (no spread of the retained bytes): spread evenly, totals exact', () => {
    const a = sample();
    const current = a.state.snapshot();
    const fields = (unpackr.unpack(current.subarray(1)) as unknown[]).slice(0, 8);
    const old = new PartitionState();
    old.restore(new Uint8Array([2, ...packr.pack(fields)]));
    expect(old.retainedBytes).toBe(a.state.retainedBytes);
    expect(old.retainedBytesUpTo(old.appliedIndex)).toBe(a.state.retainedBytes);
    expect(old.retainedBytesUpTo(0)).toBe(0);
    expect(old.snapshot()[0]).toBe(current[0]); // written in the current format from then on
  });

  it('restore refuses inconsistent snapshots with STORAGE_CORRUPT and keeps the state', () => {
    const a = sample();
    a.apply(truncateEntry(9, { fromOffset: 0, logStartOffset: 4, bytes: sizeOf(a.log[1]!) }));
    const good = a.state.snapshot();
    const target = sample().state;
    const before = target.snapshot();
    const corrupt = (bytes: Uint8Array) => {
      expectCode('STORAGE_CORRUPT', () => target.restore(bytes));
      expect(target.snapshot()).toEqual(before);
    };
    corrupt(new Uint8Array(0));
    corrupt(new Uint8Array([1, ...good.subarray(1)])); // format 1 had no retained bytes
    corrupt(good.subarray(0, good.length - 1));
    // Forged, well-formed snapshots that contradict themselves (offsets 3-4 at index 4, 5 at 6, 6-9 at 8).
    corrupt(forge([0, 8, 4, 100, 3, new Uint8Array([2, 1, 4]), [0, 4, 1, 6, 2, 8], []])); // maxProducers 0
    corrupt(forge([4, 7, 4, 100, 3, new Uint8Array([2, 1, 4]), [0, 4, 1, 6, 2, 8], []])); // entries beyond applied
    corrupt(forge([4, 8, 2, 100, 3, new Uint8Array([2, 1, 4]), [0, 4, 1, 6, 2, 8], []])); // log start below the first entry
    corrupt(forge([4, 8, 5, 100, 3, new Uint8Array([2, 1, 4]), [0, 4, 1, 6, 2, 8], []])); // log start past the first entry
    corrupt(forge([4, 8, 8, 0, 9, new Uint8Array(0), [], []])); // empty, but the log start is not the end
    corrupt(forge([4, 8, 4, 100, 3, new Uint8Array([2, 1, 4]), [0, 4, 1, 6, 2, 8], [['a', 0, 0, 0, 10]]])); // offset ≥ end
    corrupt(forge([4, 8, 4, 0, 3, new Uint8Array([2, 1, 4]), [0, 4, 1, 6, 2, 8], []])); // entries, but no bytes
    corrupt(forge([4, 8, 10, 5, 10, new Uint8Array(0), [], []])); // bytes, but no entries
    // The current format: the spread of the retained bytes must fit the entries (indexes 4-8: one span).
    const fields = [4, 8, 4, 100, 3, new Uint8Array([2, 1, 4]), [0, 4, 1, 6, 2, 8], []];
    corrupt(forge(fields, [60, 40])); // two spans
    corrupt(forge(fields, [])); // none
    corrupt(forge(fields, [-100]));
    corrupt(forge([4, 8, 8, 0, 9, new Uint8Array(0), [], []], [5])); // a spread, but no entries
    expect(() => target.restore(forge(fields, [100]))).not.toThrow();
    expect(target.retainedBytesUpTo(8)).toBe(100);
    expect(() => target.restore(forge(fields))).not.toThrow();
  });

  it('restoring mutated or random bytes only ever throws STORAGE_CORRUPT', () => {
    const good = sample().state.snapshot();
    const mutated = fc
      .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })
      .map((edits) => {
        const bytes = good.slice();
        for (const [at, b] of edits) bytes[at % bytes.length] = b;
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 80 })), (bytes) => {
        const s = new PartitionState();
        try {
          s.restore(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(RaftlogError);
          expect((err as RaftlogError).code).toBe('STORAGE_CORRUPT');
          return;
        }
        // Accepted: then it is a consistent state that keeps working.
        const copy = new PartitionState();
        copy.restore(s.snapshot());
        expect(copy.snapshot()).toEqual(s.snapshot());
        expect(s.apply(dataEntry(s.appliedIndex + 1, 1)).outcome).toBe('appended');
      }),
      { numRuns: 1000 },
    );
  });
});
