import { isErrorCode, RaftlogError } from '../errors.js';
import { type Entry, EntryType } from '../raft/types.js';
import { type DataEntryLocation, OffsetIndex } from './offset-index.js';
import { ProducerTable } from './producer-table.js';
import { decodeRecordBatch, PartitionEntryKind, type RecordBatch } from './record-batch.js';
import { RetainedBytes } from './retained-bytes.js';
import { isCount, packTagged, unpackTagged } from './tagged-msgpack.js';
import { decodeTruncatePrefix } from './truncate-prefix.js';

/** Default of {@link PartitionStateOptions.maxProducers}. */
export const DEFAULT_MAX_PRODUCERS = 1000;

export interface PartitionStateOptions {
  /**
   * Most producer ids remembered for deduplication; the least recently appended is forgotten first
   * (see `producer-table.ts`). Part of the replicated state: snapshots carry it and `restore`
   * adopts it, so replicas agree. Default {@link DEFAULT_MAX_PRODUCERS}.
   */
  readonly maxProducers?: number;
}

/**
 * A no-op, a configuration change, a truncate-prefix entry computed against an older log start,
 * or an entry the state already reflects: takes no offsets, changes nothing.
 */
export interface EmptyResult {
  readonly outcome: 'empty';
  readonly index: number;
}

/** The entry's records were appended at `baseOffset..lastOffset`. */
export interface AppendedResult {
  readonly outcome: 'appended';
  readonly index: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** The decoded entry (its timestamp is every record's timestamp), e.g. for a cache of recent entries. */
  readonly batch: RecordBatch;
}

/** A truncate-prefix entry moved the log start offset (see `truncate-prefix.ts`). */
export interface TruncatedResult {
  readonly outcome: 'truncated';
  readonly index: number;
  readonly logStartOffset: number;
}

/** A retry of a batch appended before: nothing appended, these are the first attempt's offsets. */
export interface DuplicateResult {
  readonly outcome: 'duplicate';
  readonly index: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

/** Refused, on every replica alike; takes no offsets. */
export interface RejectedResult {
  readonly outcome: 'rejected';
  readonly index: number;
  /** `INVALID_REQUEST` for entry data that is no valid record batch or truncate-prefix command. */
  readonly code: 'INVALID_REQUEST' | 'PRODUCER_FENCED' | 'OUT_OF_ORDER_SEQUENCE';
  readonly message: string;
  readonly details: Readonly<Record<string, number>>;
}

/** What applying one committed entry did. Identical on every replica that applies the same entries. */
export type ApplyResult = EmptyResult | AppendedResult | DuplicateResult | TruncatedResult | RejectedResult;

/** The error to give the client whose entry was rejected. */
export function rejectionError(result: RejectedResult): RaftlogError {
  return new RaftlogError(result.code, result.message, { details: result.details });
}

/**
 * Tag byte (format version) of a snapshot. Version 2 added the retained bytes, version 3 their
 * spread over the log ({@link RetainedBytes}); version 2 is still read.
 */
const SNAPSHOT_FORMAT = 3;
const SNAPSHOT_FORMAT_WITHOUT_SPREAD = 2;

/**
 * The state machine of one partition: applies committed Raft entries in order and derives the
 * log's offsets, deterministically (no clock, no randomness, no I/O), so every replica computes
 * the same results and the same snapshot bytes.
 *
 * - Offsets are dense from 0, assigned at apply, never reused. An entry takes offsets only when it
 *   appends records: no-ops, configuration changes, duplicates and rejections take none.
 * - High watermark = the offset after the last applied (committed) record.
 * - The log start offset moves only by truncate-prefix entries (retention), so every replica moves
 *   it at the same applied index; retained bytes (the data sizes of the retained entries) follow.
 * - Idempotent producers: see `producer-table.ts`.
 *
 * The records themselves stay in the Raft log: the state knows which entry holds which offsets.
 * Persistence: a {@link snapshot} (checkpoint) now and then; after a restart, {@link restore} it
 * and apply again the entries that follow its {@link appliedIndex}.
 */
export class PartitionState {
  #maxProducers: number;
  #applied = 0;
  #logStart = 0;
  #retainedBytes = 0;
  #offsets = new OffsetIndex();
  #bytes = new RetainedBytes();
  #producers: ProducerTable;

  constructor(options: PartitionStateOptions = {}) {
    const max = options.maxProducers ?? DEFAULT_MAX_PRODUCERS;
    if (!Number.isSafeInteger(max) || max < 1)
      throw new RaftlogError('INVALID_REQUEST', 'maxProducers must be ≥ 1');
    this.#maxProducers = max;
    this.#producers = new ProducerTable(max);
  }

  /** Raft index of the last entry applied (or covered by a restored snapshot). */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** The first offset a read may return. */
  get logStartOffset(): number {
    return this.#logStart;
  }

  /** Sum of the data sizes of the retained entries (what `retention.bytes` limits). */
  get retainedBytes(): number {
    return this.#retainedBytes;
  }

  /**
   * Data bytes of the retained entries at or below Raft `index`: how much of the retained log a
   * replica holding the log through `index` has (catch-up progress). Exact at the end of each span
   * of indexes and from the last retained entry on ({@link retainedBytes}), estimated within a
   * span (see `retained-bytes.ts`); never decreases as `index` grows.
   */
  retainedBytesUpTo(index: number): number {
    return Math.min(this.#retainedBytes, this.#bytes.upTo(index));
  }

  /** The offset after the last committed record: the next offset to assign. */
  get highWatermark(): number {
    return this.#offsets.endOffset;
  }

  get maxProducers(): number {
    return this.#maxProducers;
  }

  /** Number of producer ids remembered. */
  get producerCount(): number {
    return this.#producers.size;
  }

  /**
   * Raft index of the first retained data entry (entries and rows below it hold no retained
   * records), or `undefined` when no record is retained.
   */
  get firstRetainedIndex(): number | undefined {
    return this.#offsets.first?.index;
  }

  /**
   * Apply the committed entry that follows {@link appliedIndex}. Throws `INVALID_REQUEST` only
   * when `entry.index` is not `appliedIndex + 1` (a driver bug); whatever the entry's data, the
   * outcome is otherwise a result.
   */
  apply(entry: Entry): ApplyResult {
    const { index } = entry;
    if (index !== this.#applied + 1) {
      throw new RaftlogError(
        'INVALID_REQUEST',
        `entry ${index} does not follow applied index ${this.#applied}`,
      );
    }
    if (entry.type !== EntryType.Normal || entry.data.length === 0) {
      this.#applied = index;
      return { outcome: 'empty', index };
    }
    if (entry.data[0] === PartitionEntryKind.TruncatePrefix) return this.#applyTruncate(index, entry.data);
    let batch: RecordBatch;
    try {
      batch = decodeRecordBatch(entry.data);
    } catch (err) {
      if (!isErrorCode(err, 'INVALID_REQUEST')) throw err;
      this.#applied = index;
      return { outcome: 'rejected', index, code: 'INVALID_REQUEST', message: err.message, details: {} };
    }
    const { producer } = batch;
    if (producer !== undefined) {
      const verdict = this.#producers.check(producer);
      if (verdict.outcome !== 'append') {
        this.#applied = index;
        if (verdict.outcome === 'rejected') {
          const { code, message, details } = verdict;
          return { outcome: 'rejected', index, code, message, details };
        }
        const { baseOffset, lastOffset } = verdict.batch;
        return { outcome: 'duplicate', index, baseOffset, lastOffset };
      }
    }
    const baseOffset = this.#offsets.endOffset;
    const count = batch.records.length;
    this.#offsets.append(index, count);
    if (producer !== undefined) this.#producers.record(producer, baseOffset, baseOffset + count - 1);
    this.#retainedBytes += entry.data.byteLength;
    this.#bytes.add(index, entry.data.byteLength);
    this.#applied = index;
    return { outcome: 'appended', index, baseOffset, lastOffset: baseOffset + count - 1, batch };
  }

  /**
   * A truncate-prefix entry: moves the log start if the proposer's view of it still holds. A
   * command that cannot be right whatever the view (beyond the high watermark, more bytes than
   * retained, bytes that do not account for what is dropped) is rejected.
   */
  #applyTruncate(index: number, data: Uint8Array): ApplyResult {
    this.#applied = index;
    const reject = (message: string): RejectedResult => ({
      outcome: 'rejected',
      index,
      code: 'INVALID_REQUEST',
      message,
      details: {},
    });
    let cmd: ReturnType<typeof decodeTruncatePrefix>;
    try {
      cmd = decodeTruncatePrefix(data);
    } catch (err) {
      if (!isErrorCode(err, 'INVALID_REQUEST')) throw err;
      return reject(err.message);
    }
    if (cmd.fromOffset !== this.#logStart) return { outcome: 'empty', index };
    const { logStartOffset, bytes } = cmd;
    if (
      logStartOffset <= this.#logStart ||
      logStartOffset > this.highWatermark ||
      bytes > this.#retainedBytes
    ) {
      return reject(
        `cannot move the log start from ${this.#logStart} to ${logStartOffset} dropping ${bytes} bytes`,
      );
    }
    const offsets = this.#offsets;
    const keepsAnEntry = logStartOffset < offsets.endOffset;
    if (keepsAnEntry === (bytes === this.#retainedBytes)) {
      return reject(`${bytes} bytes do not account for the entries below offset ${logStartOffset}`);
    }
    this.#logStart = logStartOffset;
    offsets.truncateBefore(logStartOffset);
    this.#retainedBytes -= bytes;
    this.#bytes.dropBefore(offsets.first?.index, bytes);
    return { outcome: 'truncated', index, logStartOffset };
  }

  /**
   * The retained data entry holding `offset` (its records start at `baseOffset`, which may lie
   * below the log start offset), or `undefined` when `offset` is below the log start offset or at
   * or above the high watermark. Throws `INVALID_REQUEST` unless `offset` is a safe integer ≥ 0.
   */
  locate(offset: number): DataEntryLocation | undefined {
    if (!isCount(offset))
      throw new RaftlogError('INVALID_REQUEST', `offset must be a non-negative integer: ${offset}`);
    return offset < this.#logStart ? undefined : this.#offsets.locate(offset);
  }

  /**
   * The retained data entry at Raft `index`, or `undefined` when that entry took no offsets or is
   * no longer retained. Throws `INVALID_REQUEST` unless `index` is a safe integer ≥ 0.
   */
  entryAt(index: number): DataEntryLocation | undefined {
    if (!isCount(index))
      throw new RaftlogError('INVALID_REQUEST', `index must be a non-negative integer: ${index}`);
    return this.#offsets.entryAt(index);
  }

  /** The whole state as bytes, the same on every replica with the same history. */
  snapshot(): Uint8Array {
    const { firstBaseOffset, counts, runs } = this.#offsets.toSnapshot();
    return packTagged(SNAPSHOT_FORMAT, [
      this.#maxProducers,
      this.#applied,
      this.#logStart,
      this.#retainedBytes,
      firstBaseOffset,
      counts,
      runs,
      this.#producers.toSnapshot(),
      this.#bytes.toSnapshot(),
    ]);
  }

  /** Forget everything: the empty state of a partition whose history begins after `appliedIndex`. */
  reset(appliedIndex: number): void {
    this.#applied = appliedIndex;
    this.#logStart = 0;
    this.#retainedBytes = 0;
    this.#offsets = new OffsetIndex();
    this.#bytes = new RetainedBytes();
    this.#producers = new ProducerTable(this.#maxProducers);
  }

  /**
   * Replace the whole state by a {@link snapshot} (of this or another replica). Throws
   * `STORAGE_CORRUPT`, leaving the state unchanged, when the bytes are no valid snapshot.
   */
  restore(bytes: Uint8Array): void {
    const corrupt = (why: string) =>
      new RaftlogError('STORAGE_CORRUPT', `corrupt partition snapshot: ${why}`);
    const format = bytes[0];
    if (format !== SNAPSHOT_FORMAT && format !== SNAPSHOT_FORMAT_WITHOUT_SPREAD)
      throw corrupt('unknown format');
    const wire = unpackTagged(bytes);
    if (!Array.isArray(wire) || wire.length !== (format === SNAPSHOT_FORMAT ? 9 : 8))
      throw corrupt('malformed');
    const [maxProducers, applied, logStart, retainedBytes, firstBaseOffset, counts, runs, producers, spread] =
      wire;
    if (!Number.isSafeInteger(maxProducers) || maxProducers < 1) throw corrupt('bad maxProducers');
    if (!isCount(applied) || !isCount(logStart)) throw corrupt('bad applied index or log start');
    if (!isCount(retainedBytes)) throw corrupt('bad retained bytes');
    if (!(counts instanceof Uint8Array) || !Array.isArray(runs)) throw corrupt('bad offset index');
    const offsets = OffsetIndex.fromSnapshot({ firstBaseOffset, counts, runs });
    const { first, last } = offsets;
    if (last !== undefined && last.index > applied) throw corrupt('entries beyond the applied index');
    const logStartOk =
      first === undefined
        ? logStart === offsets.endOffset
        : logStart >= first.baseOffset && logStart < first.baseOffset + first.count;
    if (!logStartOk) throw corrupt('log start offset outside the first retained entry');
    if ((first === undefined) !== (retainedBytes === 0))
      throw corrupt('retained bytes disagree with the entries');
    const table = ProducerTable.fromSnapshot(maxProducers, producers, offsets.endOffset);
    let spans = new RetainedBytes();
    if (first !== undefined && last !== undefined) {
      const restored =
        format === SNAPSHOT_FORMAT_WITHOUT_SPREAD
          ? RetainedBytes.estimate(retainedBytes, first.index, last.index)
          : Array.isArray(spread)
            ? RetainedBytes.fromSnapshot(spread, first.index, last.index)
            : undefined;
      if (!restored) throw corrupt('retained bytes spread does not fit the entries');
      spans = restored;
    } else if (format === SNAPSHOT_FORMAT && !(Array.isArray(spread) && spread.length === 0)) {
      throw corrupt('retained bytes spread without entries');
    }
    this.#maxProducers = maxProducers;
    this.#applied = applied;
    this.#logStart = logStart;
    this.#retainedBytes = retainedBytes;
    this.#offsets = offsets;
    this.#bytes = spans;
    this.#producers = table;
  }
}
