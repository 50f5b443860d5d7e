import { type Entry, EntryType } from '../../src/raft/types.js';
import { encodeRecordBatch, type ProducerTag } from '../../src/statemachine/record-batch.js';
import { encodeTruncatePrefix, type TruncatePrefix } from '../../src/statemachine/truncate-prefix.js';

/** Test helpers: committed entries of a partition group. */

/** A data entry of `count` small records, optionally tagged by an idempotent producer. */
export function dataEntry(
  index: number,
  count: number,
  producer?: ProducerTag,
  timestamp = 1_000 + index,
): Entry {
  const records = Array.from({ length: count }, (_, i) => ({
    value: new Uint8Array([index & 255, i & 255]),
  }));
  const data = encodeRecordBatch(
    producer === undefined ? { records, timestamp } : { records, timestamp, producer },
  );
  return { term: 1, index, type: EntryType.Normal, data };
}

/** The empty entry a new leader appends. */
export function noopEntry(index: number): Entry {
  return { term: 1, index, type: EntryType.Normal, data: new Uint8Array(0) };
}

/** A configuration change (its data is opaque to the partition state). */
export function confEntry(index: number): Entry {
  return { term: 1, index, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) };
}

/** A normal entry whose data is no record batch. */
export function garbageEntry(index: number, data: Uint8Array = new Uint8Array([1, 0xc1])): Entry {
  return { term: 1, index, type: EntryType.Normal, data };
}

/** A truncate-prefix entry (what the leader's retention proposes). */
export function truncateEntry(index: number, cmd: TruncatePrefix): Entry {
  return { term: 1, index, type: EntryType.Normal, data: encodeTruncatePrefix(cmd) };
}
