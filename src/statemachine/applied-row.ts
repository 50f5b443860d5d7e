import { RaftlogError } from '../errors.js';
import { MAX_RECORDS_PER_BATCH, type ProducerTag, producerProblem } from './record-batch.js';
import { isCount, packTagged, unpackTagged } from './tagged-msgpack.js';

/**
 * What applying one data entry changed in the partition state, small enough to persist in the
 * same group-commit batch as the apply (see `PartitionState.replayRow`). Entries that appended
 * nothing (no-ops, configuration changes, duplicates, rejections) change nothing and have no row.
 */
export interface AppliedRow {
  /** Raft index of the entry. */
  readonly index: number;
  readonly baseOffset: number;
  /** Number of records (offsets) the entry took. */
  readonly count: number;
  readonly producer?: ProducerTag;
}

/** Tag byte (format version) of an encoded row. */
const ROW_FORMAT = 1;

/** `[index, baseOffset, count]` or `[index, baseOffset, count, id, epoch, sequence]` after the tag. */
export function encodeAppliedRow(row: AppliedRow): Uint8Array {
  const { index, baseOffset, count, producer } = row;
  return packTagged(
    ROW_FORMAT,
    producer === undefined
      ? [index, baseOffset, count]
      : [index, baseOffset, count, producer.id, producer.epoch, producer.sequence],
  );
}

/** Decode a row; anything malformed throws `STORAGE_CORRUPT`. */
export function decodeAppliedRow(bytes: Uint8Array): AppliedRow {
  const corrupt = (why: string) => new RaftlogError('STORAGE_CORRUPT', `corrupt applied row: ${why}`);
  if (bytes.length === 0 || bytes[0] !== ROW_FORMAT) throw corrupt('unknown format');
  const wire = unpackTagged(bytes);
  if (!Array.isArray(wire) || (wire.length !== 3 && wire.length !== 6)) throw corrupt('malformed');
  const [index, baseOffset, count, id, epoch, sequence] = wire;
  if (!isCount(index) || index === 0 || !isCount(baseOffset)) throw corrupt('bad index or offset');
  if (!isCount(count) || count === 0 || count > MAX_RECORDS_PER_BATCH) throw corrupt('bad count');
  if (wire.length === 3) return { index, baseOffset, count };
  const problem = producerProblem(id, epoch, sequence);
  if (problem !== undefined) throw corrupt(problem);
  return { index, baseOffset, count, producer: { id, epoch, sequence } };
}
