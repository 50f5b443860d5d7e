import { RaftlogError } from '../errors.js';
import { PartitionEntryKind } from './record-batch.js';
import { isCount, packTagged, unpackTagged } from './tagged-msgpack.js';

/**
 * A partition entry that moves the log start offset (proposed by the leader's retention, see
 * `broker/retention.ts`), so that every replica drops the same records at the same applied index.
 * It carries what the proposer computed from its state, and takes effect only if that state still
 * holds when it is applied: a command computed against an older log start changes nothing.
 */
export interface TruncatePrefix {
  /** The log start offset the proposer saw. */
  readonly fromOffset: number;
  /** The new log start offset: above `fromOffset`, at most the high watermark. */
  readonly logStartOffset: number;
  /** Sum of the data sizes of the entries dropped, so that every replica's retained bytes agree. */
  readonly bytes: number;
}

/** Layout after the kind byte: `[fromOffset, logStartOffset, bytes]`. */
export function encodeTruncatePrefix(cmd: TruncatePrefix): Uint8Array {
  return packTagged(PartitionEntryKind.TruncatePrefix, [cmd.fromOffset, cmd.logStartOffset, cmd.bytes]);
}

/** Decode the data of a truncate-prefix entry; anything malformed throws `INVALID_REQUEST`. */
export function decodeTruncatePrefix(data: Uint8Array): TruncatePrefix {
  const wire = data[0] === PartitionEntryKind.TruncatePrefix ? unpackTagged(data) : undefined;
  if (!Array.isArray(wire) || wire.length !== 3 || !wire.every(isCount)) {
    throw new RaftlogError('INVALID_REQUEST', 'undecodable truncate-prefix entry');
  }
  const [fromOffset, logStartOffset, bytes] = wire as [number, number, number];
  return { fromOffset, logStartOffset, bytes };
}
