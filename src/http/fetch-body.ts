import { isUtf8 } from 'node:buffer';
import type { FetchedBatches } from '../broker/api.js';
import { RecordBatchReader } from '../statemachine/record-batch-reader.js';
import type { BufferPool } from './buffer-pool.js';
import { type ByteStringEncoding, bytesToString } from './byte-strings.js';
import type { WireFormat } from './media.js';

/**
 * The body of a fetch's answer (`GET /v1/topics/{topic}/partitions/{p}/records`), written from
 * the stored batches its records lie in: keys, values and header values are copied from the
 * batches' bytes, never decoded into objects to be encoded again (catch-up reads move hundreds
 * of MB/s through here).
 *
 * The bytes are exactly those the contract's object
 * `{records: [{offset, key, value, headers: [{name, value}], timestamp}], next_offset,
 * high_watermark, log_start_offset}` gets from `serialize` (`media.ts`): msgpackr's (16-bit map
 * headers, the shortest string and binary headers, integers from 2^32 up as float 64), keys,
 * values and header values as binaries; or `JSON.stringify`'s, with them as strings by `encoding`.
 */
export function fetchBody(
  result: FetchedBatches,
  format: WireFormat,
  encoding: ByteStringEncoding,
  buffers?: BufferPool,
): FetchBody {
  const w = new ByteWriter(estimate(result, format === 'json' && encoding === 'base64' ? 4 / 3 : 1), buffers);
  if (format === 'msgpack') msgpackBody(result, w);
  else jsonBody(result, encoding, w);
  return { body: w.out.subarray(0, w.at), release: () => w.release() };
}

/** An answer's bytes, in a buffer to hand back (`release`) once they were sent, or never. */
export interface FetchBody {
  readonly body: Buffer;
  readonly release: () => void;
}

/** Answers below this size take no buffer of the pool (Node's own small-buffer pool serves them). */
const POOLED_BYTES = 64 * 1024;

/**
 * A buffer written front to back, grown (doubled) when a write needs more room; large ones come
 * from `buffers` and go back there on `release`.
 */
class ByteWriter {
  out: Buffer;
  at = 0;
  readonly #buffers: BufferPool | undefined;
  /** `out` as 32-bit words, from its first byte at a multiple of 4 (made when first asked for). */
  #words: Uint32Array | undefined;

  constructor(capacity: number, buffers: BufferPool | undefined) {
    this.#buffers = buffers;
    this.out = this.#allocate(capacity);
  }

  #allocate(bytes: number): Buffer {
    return bytes >= POOLED_BYTES && this.#buffers ? this.#buffers.take(bytes) : Buffer.allocUnsafe(bytes);
  }

  /** Hands the buffer back to the pool it came from: nothing may use it afterwards. */
  release(): void {
    if (this.out.length >= POOLED_BYTES) this.#buffers?.give(this.out);
  }

  /** Room for `n` more bytes. */
  reserve(n: number): void {
    if (this.at + n <= this.out.length) return;
    const grown = this.#allocate(Math.max(2 * this.out.length, this.at + n));
    this.out.copy(grown, 0, 0, this.at);
    this.release();
    this.out = grown;
    this.#words = undefined;
  }

  /**
   * Where the first byte of `out[from, at)` that a JSON string must escape is, or -1. Four bytes
   * at a time: a catch-up answer in JSON passes every byte of its values through here.
   */
  firstToEscape(from: number): number {
    const out = this.out;
    const skew = (4 - (out.byteOffset & 3)) & 3;
    this.#words ??= new Uint32Array(out.buffer, out.byteOffset + skew, (out.length - skew) >>> 2);
    const words = this.#words;
    const end = this.at;
    let i = from;
    for (; i < end && (i - skew) % 4 !== 0; i++) if (needsEscape(out[i]!)) return i;
    for (let k = (i - skew) >>> 2; i + 4 <= end; k++, i += 4) {
      const x = words[k]!;
      // Per byte: below 0x20, or equal to '"' or '\\' (the zero-byte test on x xor the byte).
      const quote = x ^ 0x2222_2222;
      const backslash = x ^ 0x5c5c_5c5c;
      const found =
        ((x - 0x2020_2020) & ~x) |
        ((quote - 0x0101_0101) & ~quote) |
        ((backslash - 0x0101_0101) & ~backslash);
      if ((found & 0x8080_8080) !== 0) break;
    }
    for (; i < end; i++) if (needsEscape(out[i]!)) return i;
    return -1;
  }

  byte(b: number): void {
    this.reserve(1);
    this.out[this.at++] = b;
  }

  /** `bytes[start, end)`. */
  copy(bytes: Uint8Array, start: number, end: number): void {
    this.reserve(end - start);
    this.out.set(bytes.subarray(start, end), this.at);
    this.at += end - start;
  }

  /** A constant of a few bytes. */
  constant(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    for (let i = 0; i < bytes.length; i++) this.out[this.at++] = bytes[i]!;
  }

  /** A tag byte, then `n` in `bytes` (1, 2 or 4) big-endian bytes. */
  tagged(tag: number, n: number, bytes: number): void {
    this.reserve(1 + bytes);
    const out = this.out;
    out[this.at++] = tag;
    if (bytes === 4) out[this.at++] = n >>> 24;
    if (bytes === 4) out[this.at++] = (n >>> 16) & 0xff;
    if (bytes >= 2) out[this.at++] = (n >>> 8) & 0xff;
    out[this.at++] = n & 0xff;
  }

  /** A tag byte, then `n` as a big-endian float 64. */
  float64(tag: number, n: number): void {
    this.reserve(9);
    this.out[this.at++] = tag;
    this.at = this.out.writeDoubleBE(n, this.at);
  }

  /** Latin-1 (here: ASCII) text. */
  latin1(s: string): void {
    this.reserve(s.length);
    this.at += this.out.write(s, this.at, 'latin1');
  }
}

/** Bytes guessed per record for everything but its keys and values. */
const RECORD_OVERHEAD = 96;

/**
 * A first guess of an answer's size: what its slices' records take in their batches (times
 * `scale`, for base64), and a little more per record.
 */
function estimate(result: FetchedBatches, scale: number): number {
  let bytes = 128 + result.recordCount * RECORD_OVERHEAD;
  for (const s of result.slices) {
    const batch = new RecordBatchReader(s.data);
    bytes += Math.ceil(((s.data.length * (s.to - s.from)) / batch.count) * scale);
  }
  return bytes;
}

// ---- msgpack ------------------------------------------------------------------------------------

const ascii = (s: string) => [...Buffer.from(s, 'latin1')];
/** A map header as msgpackr writes every object's: map 16. */
const map16 = (entries: number) => [0xde, 0, entries];
const fixstr = (s: string) => [0xa0 | s.length, ...ascii(s)];
const bytesOf = (...parts: number[][]) => Uint8Array.from(parts.flat());

const MP_TOP = bytesOf(map16(4), fixstr('records'));
const MP_RECORD = bytesOf(map16(5), fixstr('offset'));
const MP_KEY = bytesOf(fixstr('key'));
const MP_VALUE = bytesOf(fixstr('value'));
const MP_HEADERS = bytesOf(fixstr('headers'));
const MP_HEADER = bytesOf(map16(2), fixstr('name'));
const MP_TIMESTAMP = bytesOf(fixstr('timestamp'));
const MP_NEXT_OFFSET = bytesOf(fixstr('next_offset'));
const MP_HIGH_WATERMARK = bytesOf(fixstr('high_watermark'));
const MP_LOG_START_OFFSET = bytesOf(fixstr('log_start_offset'));
const NIL = 0xc0;

function msgpackBody(result: FetchedBatches, w: ByteWriter): void {
  w.constant(MP_TOP);
  mpArray(w, result.recordCount);
  for (const { data, baseOffset, from, to } of result.slices) {
    const batch = new RecordBatchReader(data);
    batch.skipTo(from);
    while (batch.index + 1 < to && batch.next()) {
      w.constant(MP_RECORD);
      mpNumber(w, baseOffset + batch.index);
      w.constant(MP_KEY);
      if (batch.keyStart < 0) w.byte(NIL);
      else mpBinary(w, data, batch.keyStart, batch.keyEnd);
      w.constant(MP_VALUE);
      mpBinary(w, data, batch.valueStart, batch.valueEnd);
      w.constant(MP_HEADERS);
      mpArray(w, batch.headerCount);
      for (let h = 0; h < batch.headerCount; h++) {
        batch.nextHeader();
        w.constant(MP_HEADER);
        mpString(w, data, batch.nameStart, batch.nameEnd);
        w.constant(MP_VALUE);
        mpBinary(w, data, batch.headerValueStart, batch.headerValueEnd);
      }
      w.constant(MP_TIMESTAMP);
      mpNumber(w, batch.timestamp);
    }
  }
  w.constant(MP_NEXT_OFFSET);
  mpNumber(w, result.nextOffset);
  w.constant(MP_HIGH_WATERMARK);
  mpNumber(w, result.highWatermark);
  w.constant(MP_LOG_START_OFFSET);
  mpNumber(w, result.logStartOffset);
}

function mpArray(w: ByteWriter, n: number): void {
  if (n < 0x10) w.byte(0x90 | n);
  else if (n < 0x1_0000) w.tagged(0xdc, n, 2);
  else w.tagged(0xdd, n, 4);
}

/** A string (str 8/16/32) of the UTF-8 `bytes[start, end)`. */
function mpString(w: ByteWriter, bytes: Uint8Array, start: number, end: number): void {
  const n = end - start;
  if (n < 0x20) w.byte(0xa0 | n);
  else if (n < 0x100) w.tagged(0xd9, n, 1);
  else if (n < 0x1_0000) w.tagged(0xda, n, 2);
  else w.tagged(0xdb, n, 4);
  w.copy(bytes, start, end);
}

/** A binary (bin 8/16/32) of `bytes[start, end)`. */
function mpBinary(w: ByteWriter, bytes: Uint8Array, start: number, end: number): void {
  const n = end - start;
  if (n < 0x100) w.tagged(0xc4, n, 1);
  else if (n < 0x1_0000) w.tagged(0xc5, n, 2);
  else w.tagged(0xc6, n, 4);
  w.copy(bytes, start, end);
}

/** A non-negative safe integer as msgpackr writes it (`useRecords: false`). */
function mpNumber(w: ByteWriter, n: number): void {
  if (n < 0x80) w.byte(n);
  else if (n < 0x100) w.tagged(0xcc, n, 1);
  else if (n < 0x1_0000) w.tagged(0xcd, n, 2);
  else if (n <= 0xffff_ffff) w.tagged(0xce, n, 4);
  else w.float64(0xcb, n);
}

// ---- JSON ---------------------------------------------------------------------------------------

const text = (s: string) => Uint8Array.from(ascii(s));
const JS_TOP = text('{"records":[');
const JS_RECORD = text('{"offset":');
const JS_KEY = text(',"key":');
const JS_NULL = text('null');
const JS_VALUE = text(',"value":');
const JS_HEADERS = text(',"headers":[');
const JS_HEADER_NAME = text('{"name":');
const JS_TIMESTAMP = text('],"timestamp":');
const JS_NEXT_OFFSET = text('],"next_offset":');
const JS_HIGH_WATERMARK = text(',"high_watermark":');
const JS_LOG_START_OFFSET = text(',"log_start_offset":');
const COMMA = 0x2c;
const CLOSE = 0x7d; // }
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A key, value or header value of the current record of `batch`. */
type Field = 'key' | 'value' | 'header';

function jsonBody(result: FetchedBatches, encoding: ByteStringEncoding, w: ByteWriter): void {
  const bytes = encoding === 'base64' ? jsBase64 : jsUtf8;
  w.constant(JS_TOP);
  let first = true;
  for (const { data, baseOffset, from, to } of result.slices) {
    const batch = new RecordBatchReader(data);
    batch.skipTo(from);
    while (batch.index + 1 < to && batch.next()) {
      const offset = baseOffset + batch.index;
      if (!first) w.byte(COMMA);
      first = false;
      w.constant(JS_RECORD);
      jsNumber(w, offset);
      w.constant(JS_KEY);
      if (batch.keyStart < 0) w.constant(JS_NULL);
      else bytes(w, batch, batch.keyStart, batch.keyEnd, offset, 'key');
      w.constant(JS_VALUE);
      bytes(w, batch, batch.valueStart, batch.valueEnd, offset, 'value');
      w.constant(JS_HEADERS);
      for (let h = 0; h < batch.headerCount; h++) {
        batch.nextHeader();
        if (h > 0) w.byte(COMMA);
        w.constant(JS_HEADER_NAME);
        jsString(w, data, batch.nameStart, batch.nameEnd);
        w.constant(JS_VALUE);
        bytes(w, batch, batch.headerValueStart, batch.headerValueEnd, offset, 'header');
        w.byte(CLOSE);
      }
      w.constant(JS_TIMESTAMP);
      jsNumber(w, batch.timestamp);
      w.byte(CLOSE);
    }
  }
  w.constant(JS_NEXT_OFFSET);
  jsNumber(w, result.nextOffset);
  w.constant(JS_HIGH_WATERMARK);
  jsNumber(w, result.highWatermark);
  w.constant(JS_LOG_START_OFFSET);
  jsNumber(w, result.logStartOffset);
  w.byte(CLOSE);
}

/** Bytes as a JSON string of base64. */
function jsBase64(w: ByteWriter, batch: RecordBatchReader, start: number, end: number): void {
  const { data } = batch;
  w.byte(QUOTE);
  w.latin1(Buffer.from(data.buffer, data.byteOffset + start, end - start).toString('base64'));
  w.byte(QUOTE);
}

/** Bytes as a JSON string of their UTF-8 text; bytes that are not UTF-8 are INVALID_REQUEST. */
function jsUtf8(
  w: ByteWriter,
  batch: RecordBatchReader,
  start: number,
  end: number,
  offset: number,
  field: Field,
): void {
  const bytes = batch.data.subarray(start, end);
  // bytesToString throws the contract's error for bytes that are not UTF-8.
  if (!isUtf8(bytes)) bytesToString(fieldName(batch, offset, field), bytes, 'utf8');
  jsString(w, batch.data, start, end);
}

/** How the error about bytes that are not UTF-8 names a field. */
function fieldName(batch: RecordBatchReader, offset: number, field: Field): string {
  const at = `record at offset ${offset}:`;
  if (field !== 'header') return `${at} ${field}`;
  const { data } = batch;
  const name = Buffer.from(data.buffer, data.byteOffset, data.length).toString(
    'utf8',
    batch.nameStart,
    batch.nameEnd,
  );
  return `${at} header ${name}`;
}

/**
 * The UTF-8 text `bytes[start, end)` as a JSON string, escaped as `JSON.stringify` escapes it:
 * quotation mark, backslash and control characters; every other byte as it is.
 */
function jsString(w: ByteWriter, bytes: Uint8Array, start: number, end: number): void {
  w.byte(QUOTE);
  const at = w.at;
  w.copy(bytes, start, end);
  const first = w.firstToEscape(at);
  if (first >= 0) {
    // Written again from the first byte to escape on, escaping.
    w.at = first;
    for (let i = start + first - at; i < end; i++) jsByte(w, bytes[i]!);
  }
  w.byte(QUOTE);
}

function needsEscape(b: number): boolean {
  return b < 0x20 || b === QUOTE || b === BACKSLASH;
}

/** The short escapes of JSON.stringify (the letter after the backslash); others are `\u00xx`. */
const SHORT_ESCAPES: ReadonlyMap<number, number> = new Map([
  [0x08, 0x62], // b
  [0x09, 0x74], // t
  [0x0a, 0x6e], // n
  [0x0c, 0x66], // f
  [0x0d, 0x72], // r
  [QUOTE, QUOTE],
  [BACKSLASH, BACKSLASH],
]);
const HEX = text('0123456789abcdef');

/** One byte of a string, escaped if it must be. */
function jsByte(w: ByteWriter, b: number): void {
  if (!needsEscape(b)) {
    w.byte(b);
    return;
  }
  w.reserve(6);
  const out = w.out;
  out[w.at++] = BACKSLASH;
  const short = SHORT_ESCAPES.get(b);
  if (short !== undefined) {
    out[w.at++] = short;
    return;
  }
  out[w.at++] = 0x75; // u
  out[w.at++] = 0x30;
  out[w.at++] = 0x30;
  out[w.at++] = HEX[b >>> 4]!;
  out[w.at++] = HEX[b & 0x0f]!;
}

/** A non-negative safe integer in decimal, as JSON.stringify writes it. */
function jsNumber(w: ByteWriter, n: number): void {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  w.reserve(digits);
  let at = w.at + digits;
  w.at = at;
  for (let rest = n; ; ) {
    w.out[--at] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
    if (rest === 0) break;
  }
}
