import { describe, expect, it } from 'vitest';
import { partitionCatchUpBytes } from '../../src/broker/catch-up-bytes.js';
import { type Entry, EntryType } from '../../src/raft/types.js';
import { PartitionState } from '../../src/statemachine/partition-state.js';
import { encodeRecordBatch } from '../../src/statemachine/record-batch.js';
import { noopEntry, truncateEntry } from '../statemachine/entries.js';

/** A data entry of one record of `bytes` bytes. */
const record = (index: number, bytes: number): Entry => ({
  term: 1,
  index,
  type: EntryType.Normal,
  data: encodeRecordBatch({ records: [{ value: new Uint8Array(bytes) }], timestamp: 1 }),
});

/** Index of the last big entry of {@link bigThenSmall}'s log. */
const LAST_BIG = 129;

/**
 * The log of the move bench in small: big entries (indexes 2 to 129), then many small ones (and
 * a no-op between, as a new leader appends), so counting entries and counting bytes disagree.
 */
function bigThenSmall(): { state: PartitionState; log: Entry[] } {
  const state = new PartitionState();
  const log: Entry[] = [noopEntry(1)];
  while (log.length < LAST_BIG) log.push(record(log.length + 1, 64 * 1024));
  log.push(noopEntry(log.length + 1));
  for (let i = 0; i < 2000; i++) log.push(record(log.length + 1, 100));
  for (const e of log) state.apply(e);
  return { state, log };
}

const dataBytes = (entries: readonly Entry[]) =>
  entries.filter((e) => e.data.byteLength > 0).reduce((n, e) => n + e.data.byteLength, 0);

describe('catch-up progress of a new partition replica, in bytes', () => {
  it('a few big entries then many small: monotone, exact total, and linear in the bytes copied', () => {
    const { state, log } = bigThenSmall();
    const total = dataBytes(log);
    const snapshot = { snapshotIndex: 1, snapshotBytes: 0 }; // never compacted
    let previous = -1;
    for (let match = 0; match <= log.length; match++) {
      const p = partitionCatchUpBytes(state, snapshot, match);
      expect(p.total).toBe(total);
      expect(p.bytes, `match ${match}`).toBeGreaterThanOrEqual(previous);
      // Exact every 64 indexes (estimated within those spans).
      if (match % 64 === 63) expect(p.bytes, `match ${match}`).toBe(dataBytes(log.slice(0, match)));
      previous = p.bytes;
    }
    expect(partitionCatchUpBytes(state, snapshot, log.length).bytes).toBe(total);
    // Past the big entries (6% of the entries) the replica holds most of the bytes.
    expect(LAST_BIG / log.length).toBeLessThan(0.07);
    const pastBig = partitionCatchUpBytes(state, snapshot, LAST_BIG);
    expect(pastBig.bytes / pastBig.total).toBeGreaterThan(0.9);
  });

  it('a compacted log: the snapshot counts once the replica reached its index', () => {
    const { state, log } = bigThenSmall();
    // Retention drops the first big entry; the log is compacted below the next one.
    const first = log[1]!.data.byteLength;
    state.apply(truncateEntry(log.length + 1, { fromOffset: 0, logStartOffset: 1, bytes: first }));
    const snapshot = { snapshotIndex: 2, snapshotBytes: 5000 };
    const total = 5000 + dataBytes(log) - first;
    expect(partitionCatchUpBytes(state, snapshot, 0)).toEqual({ bytes: 0, total });
    expect(partitionCatchUpBytes(state, snapshot, 2)).toEqual({ bytes: 5000, total });
    expect(partitionCatchUpBytes(state, snapshot, 63).bytes).toBe(5000 + dataBytes(log.slice(2, 63)));
    expect(partitionCatchUpBytes(state, snapshot, log.length + 1)).toEqual({ bytes: total, total });
  });
});
