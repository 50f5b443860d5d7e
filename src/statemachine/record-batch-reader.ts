import { isUtf8 } from 'node:buffer';
import { RaftlogError } from '../errors.js';
import { PartitionEntryKind } from './record-batch.js';
import { isCount } from './tagged-msgpack.js';

/**
 * Reads a stored record batch in place (the layout `encodeRecordBatch` writes): where each
 * record's value, key and header names and values lie in the batch's bytes, with nothing decoded
 * into objects or copied. The fetch path copies those bytes straight into its answers.
 *
 * `decodeRecordBatch` stays the one judge of what a valid batch is: replicas apply with it and
 * must agree, so its rules never change with this reader. The reader serves batches that passed
 * it, as `encodeRecordBatch` wrote them, and throws `INVALID_REQUEST` on bytes it cannot follow.
 *
 *     const r = new RecordBatchReader(data);
 *     while (r.next()) { r.valueStart ... r.valueEnd; for (let h = 0; h < r.headerCount; h++) r.nextHeader(); }
 */
export class RecordBatchReader {
  /** Milliseconds since the epoch, every record's timestamp. */
  readonly timestamp: number;
  /** Number of records in the batch. */
  readonly count: number;
  /** Position of the current record in the batch: -1 before the first {@link next}. */
  index = -1;
  /** The current record's value is `data[valueStart, valueEnd)`. */
  valueStart = 0;
  valueEnd = 0;
  /** The current record's key is `data[keyStart, keyEnd)`; both -1 when it has none. */
  keyStart = -1;
  keyEnd = -1;
  /** Number of headers of the current record (read them in order with {@link nextHeader}). */
  headerCount = 0;
  /** The current header's name (UTF-8) and value, after {@link nextHeader}. */
  nameStart = 0;
  nameEnd = 0;
  headerValueStart = 0;
  headerValueEnd = 0;
  /** Where the next item to read starts. */
  #at = 0;
  /** Where the next record starts. */
  #nextRecord: number;
  /** Where the current record's next header starts. */
  #nextHeader = 0;
  /** Length of the last string or binary skipped. */
  #length = 0;

  constructor(readonly data: Uint8Array) {
    if (data.length === 0 || data[0] !== PartitionEntryKind.RecordBatch)
      throw unreadable('not a record batch');
    this.#at = 1;
    const fields = this.#arrayHeader();
    if (fields !== 2 && fields !== 5) throw unreadable('malformed batch');
    this.timestamp = this.#count();
    this.count = this.#arrayHeader();
    this.#nextRecord = this.#at;
  }

  /** Moves to the next record; false after the last one. */
  next(): boolean {
    if (this.index + 1 >= this.count) return false;
    this.index++;
    this.#at = this.#nextRecord;
    const fields = this.#arrayHeader();
    if (fields < 1 || fields > 3) throw unreadable(`bad record ${this.index}`);
    this.valueEnd = this.#bin();
    this.valueStart = this.valueEnd - this.#length;
    this.keyStart = -1;
    this.keyEnd = -1;
    this.headerCount = 0;
    if (fields >= 2) {
      if (this.data[this.#at] === NIL && fields === 3) this.#at++;
      else {
        this.keyEnd = this.#bin();
        this.keyStart = this.keyEnd - this.#length;
      }
    }
    if (fields === 3) {
      const flat = this.#arrayHeader();
      if (flat % 2 !== 0) throw unreadable(`bad headers of record ${this.index}`);
      this.headerCount = flat / 2;
      this.#nextHeader = this.#at;
      for (let h = 0; h < this.headerCount; h++) {
        this.#str();
        this.#bin();
      }
    }
    this.#nextRecord = this.#at;
    return true;
  }

  /** Moves to just before record `position` (its next {@link next} reads it), from before it. */
  skipTo(position: number): void {
    while (this.index + 1 < position && this.next()) {
      // Only moving on.
    }
  }

  /** Moves to the current record's next header (call it {@link headerCount} times). */
  nextHeader(): void {
    this.#at = this.#nextHeader;
    this.nameEnd = this.#str();
    this.nameStart = this.nameEnd - this.#length;
    // Names were well-formed strings when encoded; their bytes are copied as text into answers.
    if (!isUtf8(this.data.subarray(this.nameStart, this.nameEnd))) throw unreadable('header name not UTF-8');
    this.headerValueEnd = this.#bin();
    this.headerValueStart = this.headerValueEnd - this.#length;
    this.#nextHeader = this.#at;
  }

  #byte(): number {
    if (this.#at >= this.data.length) throw unreadable('truncated');
    return this.data[this.#at++]!;
  }

  #uint(bytes: number): number {
    let n = 0;
    for (let i = 0; i < bytes; i++) n = n * 256 + this.#byte();
    return n;
  }

  #arrayHeader(): number {
    const tag = this.#byte();
    if (tag >= 0x90 && tag <= 0x9f) return tag & 0x0f;
    if (tag === 0xdc) return this.#uint(2);
    if (tag === 0xdd) return this.#uint(4);
    throw unreadable('array expected');
  }

  /** A non-negative safe integer (msgpackr writes those of 2^32 and above as float 64). */
  #count(): number {
    const tag = this.#byte();
    let n: number;
    if (tag <= 0x7f) n = tag;
    else if (tag === 0xcc) n = this.#uint(1);
    else if (tag === 0xcd) n = this.#uint(2);
    else if (tag === 0xce) n = this.#uint(4);
    else if (tag === 0xcb) {
      if (this.#at + 8 > this.data.length) throw unreadable('truncated');
      n = new DataView(this.data.buffer, this.data.byteOffset + this.#at, 8).getFloat64(0);
      this.#at += 8;
    } else throw unreadable('number expected');
    if (!isCount(n)) throw unreadable('bad timestamp');
    return n;
  }

  /** Skips a binary; returns where it ends (its length in {@link #length}). */
  #bin(): number {
    const tag = this.#byte();
    if (tag === 0xc4) return this.#skip(this.#uint(1));
    if (tag === 0xc5) return this.#skip(this.#uint(2));
    if (tag === 0xc6) return this.#skip(this.#uint(4));
    throw unreadable('binary expected');
  }

  /** Skips a string; returns where it ends (its length in {@link #length}). */
  #str(): number {
    const tag = this.#byte();
    if (tag >= 0xa0 && tag <= 0xbf) return this.#skip(tag & 0x1f);
    if (tag === 0xd9) return this.#skip(this.#uint(1));
    if (tag === 0xda) return this.#skip(this.#uint(2));
    if (tag === 0xdb) return this.#skip(this.#uint(4));
    throw unreadable('string expected');
  }

  #skip(length: number): number {
    this.#length = length;
    this.#at += length;
    if (this.#at > this.data.length) throw unreadable('truncated');
    return this.#at;
  }
}

const NIL = 0xc0;

function unreadable(why: string): RaftlogError {
  return new RaftlogError('INVALID_REQUEST', `unreadable record batch: ${why}`);
}
