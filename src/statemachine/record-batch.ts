import { RaftlogError } from '../errors.js';
import { isCount, packTagged, plainBytes, unpackTagged } from './tagged-msgpack.js';

/**
 * The payload of one Raft entry of a partition group. The first byte says what kind of entry it
 * is, so other kinds can share the group later; an entry with empty data is Raft's own no-op and
 * has no kind. Every replica must understand a kind before any leader proposes it.
 */
export const PartitionEntryKind = {
  /** The records of one produce request (all or nothing), see {@link RecordBatch}. */
  RecordBatch: 1,
  /** Moves the log start offset (retention), see `truncate-prefix.ts`. */
  TruncatePrefix: 2,
} as const;
export type PartitionEntryKind = (typeof PartitionEntryKind)[keyof typeof PartitionEntryKind];

/**
 * Most records in one batch. A documented limit (a request body limit binds long before it) that
 * lets the offset index keep per-entry offsets in 32-bit deltas (see `offset-index.ts`).
 */
export const MAX_RECORDS_PER_BATCH = 2 ** 24;

/** Longest producer id, in characters (Unicode code points). */
export const MAX_PRODUCER_ID_LENGTH = 64;

/** One record. Binary fields of a decoded batch are views into the entry's data: do not mutate. */
export interface LogRecord {
  readonly key?: Uint8Array;
  readonly value: Uint8Array;
  readonly headers?: ReadonlyArray<readonly [string, Uint8Array]>;
}

/**
 * An idempotent producer's tag on a batch: sequences count batches per (producer id, partition)
 * from 0 within one epoch; a new epoch starts again at 0 and fences the older ones.
 */
export interface ProducerTag {
  /** Chosen by the client: 1 to {@link MAX_PRODUCER_ID_LENGTH} characters, well-formed Unicode. */
  readonly id: string;
  readonly epoch: number;
  readonly sequence: number;
}

/** The records of one produce request: one Raft entry, appended all or nothing. */
export interface RecordBatch {
  readonly records: readonly LogRecord[];
  /**
   * Milliseconds since the epoch, set by the leader when it proposes the entry, so every replica
   * (and every later read) sees the same time. Every record of the batch carries it.
   */
  readonly timestamp: number;
  readonly producer?: ProducerTag;
}

/** What is wrong with a producer tag's fields, or `undefined` when they are valid. */
export function producerProblem(id: unknown, epoch: unknown, sequence: unknown): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'producer id must be a non-empty string';
  if (!isWellFormed(id)) return 'producer id must be well-formed Unicode';
  if (id.length > MAX_PRODUCER_ID_LENGTH && codePoints(id) > MAX_PRODUCER_ID_LENGTH) {
    return `producer id must be at most ${MAX_PRODUCER_ID_LENGTH} characters`;
  }
  if (!isCount(epoch)) return 'producer epoch must be a non-negative integer';
  if (!isCount(sequence)) return 'producer sequence must be a non-negative integer';
  return undefined;
}

/**
 * Encode a batch as the data of one Raft entry. Throws `INVALID_REQUEST` when the batch breaks a
 * rule: 1 to {@link MAX_RECORDS_PER_BATCH} records, binary keys, values and header values, string
 * header names, a non-negative integer timestamp, a valid {@link ProducerTag}.
 *
 * Layout after the kind byte: `[timestamp, records]` or `[timestamp, records, id, epoch,
 * sequence]`; a record is `[value]`, `[value, key]` or `[value, key | nil, [name, value, ...]]`.
 */
export function encodeRecordBatch(batch: RecordBatch): Uint8Array {
  if (typeof batch !== 'object' || batch === null) throw invalid('not an object');
  const { records, timestamp, producer } = batch;
  if (!isCount(timestamp)) throw invalid('timestamp must be a non-negative integer');
  if (!Array.isArray(records) || records.length === 0) throw invalid('records must be a non-empty array');
  if (records.length > MAX_RECORDS_PER_BATCH) throw invalid(`more than ${MAX_RECORDS_PER_BATCH} records`);
  const wire: unknown[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (typeof record !== 'object' || record === null) throw invalid(`record ${i}: not an object`);
    const { key, value, headers } = record;
    if (!(value instanceof Uint8Array)) throw invalid(`record ${i}: value must be bytes`);
    if (key !== undefined && !(key instanceof Uint8Array)) throw invalid(`record ${i}: key must be bytes`);
    if (headers === undefined) {
      wire[i] = key === undefined ? [value] : [value, key];
      continue;
    }
    if (!Array.isArray(headers)) throw invalid(`record ${i}: headers must be an array`);
    const flat: unknown[] = new Array(headers.length * 2);
    for (let h = 0; h < headers.length; h++) {
      const header = headers[h];
      if (!Array.isArray(header) || header.length !== 2)
        throw invalid(`record ${i}: header ${h} must be [name, value]`);
      const [name, hv] = header;
      if (typeof name !== 'string' || !isWellFormed(name))
        throw invalid(`record ${i}: header ${h} name must be a string`);
      if (!(hv instanceof Uint8Array)) throw invalid(`record ${i}: header ${h} value must be bytes`);
      flat[2 * h] = name;
      flat[2 * h + 1] = hv;
    }
    wire[i] = [value, key ?? null, flat];
  }
  if (producer === undefined) return packTagged(PartitionEntryKind.RecordBatch, [timestamp, wire]);
  if (typeof producer !== 'object' || producer === null) throw invalid('producer must be an object');
  const problem = producerProblem(producer.id, producer.epoch, producer.sequence);
  if (problem !== undefined) throw invalid(problem);
  return packTagged(PartitionEntryKind.RecordBatch, [
    timestamp,
    wire,
    producer.id,
    producer.epoch,
    producer.sequence,
  ]);
}

/**
 * Decode and validate the data of a record-batch entry. Any other bytes (another kind, garbage,
 * a batch breaking a rule of {@link encodeRecordBatch}) throw `INVALID_REQUEST`; nothing else is
 * thrown. Deterministic: every replica decides the same for the same bytes.
 */
export function decodeRecordBatch(data: Uint8Array): RecordBatch {
  if (data.length === 0 || data[0] !== PartitionEntryKind.RecordBatch)
    throw undecodable('not a record-batch entry');
  const top = unpackTagged(data);
  if (!Array.isArray(top) || (top.length !== 2 && top.length !== 5)) throw undecodable('malformed batch');
  const [timestamp, wire, id, epoch, sequence] = top as unknown[];
  if (!isCount(timestamp)) throw undecodable('bad timestamp');
  if (!Array.isArray(wire) || wire.length === 0 || wire.length > MAX_RECORDS_PER_BATCH)
    throw undecodable('bad record count');
  const records: LogRecord[] = new Array(wire.length);
  for (let i = 0; i < records.length; i++) {
    const record = decodeRecord(wire[i]);
    if (record === undefined) throw undecodable(`bad record ${i}`);
    records[i] = record;
  }
  if (top.length === 2) return { records, timestamp: timestamp as number };
  const problem = producerProblem(id, epoch, sequence);
  if (problem !== undefined) throw undecodable(problem);
  return {
    records,
    timestamp: timestamp as number,
    producer: { id: id as string, epoch: epoch as number, sequence: sequence as number },
  };
}

function decodeRecord(wire: unknown): LogRecord | undefined {
  if (!Array.isArray(wire) || wire.length === 0 || wire.length > 3) return undefined;
  const [value, key, flat] = wire as unknown[];
  if (!(value instanceof Uint8Array)) return undefined;
  if (wire.length === 1) return { value: plainBytes(value) };
  if (!(key instanceof Uint8Array) && !(key === null && wire.length === 3)) return undefined;
  const record: { key?: Uint8Array; value: Uint8Array; headers?: Array<readonly [string, Uint8Array]> } = {
    value: plainBytes(value),
  };
  if (key !== null) record.key = plainBytes(key as Uint8Array);
  if (wire.length === 2) return record;
  if (!Array.isArray(flat) || flat.length % 2 !== 0) return undefined;
  const headers: Array<readonly [string, Uint8Array]> = new Array(flat.length / 2);
  for (let h = 0; h < headers.length; h++) {
    const name: unknown = flat[2 * h];
    const hv: unknown = flat[2 * h + 1];
    if (typeof name !== 'string' || !(hv instanceof Uint8Array)) return undefined;
    headers[h] = [name, plainBytes(hv)];
  }
  record.headers = headers;
  return record;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function invalid(why: string): RaftlogError {
  return new RaftlogError('INVALID_REQUEST', `invalid record batch: ${why}`);
}

function undecodable(why: string): RaftlogError {
  return new RaftlogError('INVALID_REQUEST', `undecodable record batch: ${why}`);
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/** False for strings with a lone surrogate, which UTF-8 cannot carry. */
function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}
