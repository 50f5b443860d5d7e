import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { RaftlogError } from '../errors.js';
import type { ConfState, Entry, EntryType, HardState, Snapshot } from '../raft/types.js';
import { crc32Of } from './crc32.js';
import { ENTRY_KEY_BYTES, entryKey, writeEntryKey } from './level-keys.js';

/**
 * Values of the LevelDB store (format 2): the msgpackr-encoded body followed by a CRC32
 * (big-endian) over the key and the body. The key is covered too, so a value found under the
 * wrong key is caught like a flipped bit. A value that fails its check raises `STORAGE_CORRUPT`;
 * it is never decoded.
 */

const packr = new Packr({ useRecords: false });

function seal(key: Uint8Array, body: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(body.length + 4);
  value.set(body, 0);
  writeU32(value, body.length, crc32(body, crc32(key)));
  return value;
}

function writeU32(to: Uint8Array, at: number, n: number): void {
  to[at] = n >>> 24;
  to[at + 1] = n >>> 16;
  to[at + 2] = n >>> 8;
  to[at + 3] = n;
}

function corrupt(key: Uint8Array, why: string, cause?: unknown): RaftlogError {
  return new RaftlogError('STORAGE_CORRUPT', `corrupt record ${Buffer.from(key).toString('hex')}: ${why}`, {
    cause,
    details: { key: Buffer.from(key).toString('hex') },
  });
}

function open(key: Uint8Array, value: Buffer): unknown {
  if (value.length < 4) throw corrupt(key, 'value too short');
  const body = value.subarray(0, value.length - 4);
  if (value.readUInt32BE(body.length) !== crc32(body, crc32(key))) throw corrupt(key, 'checksum mismatch');
  try {
    return packr.unpack(body);
  } catch (err) {
    throw corrupt(key, 'undecodable value', err);
  }
}

const isNat = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isNatList = (l: unknown): l is number[] => Array.isArray(l) && l.every(isNat);

function asBytes(b: unknown): Uint8Array | undefined {
  return b instanceof Uint8Array ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : undefined;
}

/** Largest entry value an {@link EntryEncoder} writes into its reused buffer. */
const SCRATCH_BYTES = 64 * 1024;

/**
 * Most bytes (key and body) whose checksum is computed in JavaScript ({@link crc32Of}); above it
 * `zlib.crc32` is faster (measured alone: 77 against 113 ns at 122 bytes, even at 250 bytes,
 * 274 against 206 ns at 500).
 */
const SMALL_SUM = 256;

/**
 * Writes the keys and values of entries. A value is the msgpack array `[term, type, data]`
 * written directly (the entry's data is copied once: the hot path of every append), decoded by
 * msgpackr like every other value; terms of 2^32 and above take msgpackr's own encoder.
 *
 * Key and value are written side by side, so one checksum covers both (computed in JavaScript
 * for small entries, see `crc32.ts`); values up to 64 KiB go into one reused buffer. A LevelDB
 * batch copies each key and value when it is staged (`batch.put`), so they are needed only until
 * then, and the hot path allocates nothing.
 */
export class EntryEncoder {
  /** The key, then the value of the last entry encoded. */
  readonly #scratch = Buffer.allocUnsafeSlow(ENTRY_KEY_BYTES + SCRATCH_BYTES);
  readonly #scratchKey = this.#scratch.subarray(0, ENTRY_KEY_BYTES);
  readonly #scratchView = new DataView(this.#scratch.buffer, this.#scratch.byteOffset, this.#scratch.length);
  /** Views of the value and of what `zlib.crc32` sums (larger values), kept while values keep their length. */
  #value = this.#scratch.subarray(ENTRY_KEY_BYTES, ENTRY_KEY_BYTES);
  #summed = this.#scratch.subarray(0, 0);
  #key: Buffer = this.#scratchKey;

  /** Key of the entry last encoded, valid until the next call. */
  get key(): Buffer {
    return this.#key;
  }

  /** The value of entry `e` of `groupId` (its key is then {@link key}), valid until the next call. */
  encode(groupId: number, e: Entry): Buffer {
    const { term, data } = e;
    if (term > 0xffff_ffff) {
      this.#key = entryKey(groupId, e.index);
      return seal(this.#key, packr.pack([term, e.type, data]));
    }
    const bytes = ENTRY_KEY_BYTES + valueBytes(term, data.length);
    if (bytes > this.#scratch.length) {
      const apart = Buffer.allocUnsafe(bytes);
      this.#key = apart.subarray(0, ENTRY_KEY_BYTES);
      writeEntry(apart, groupId, e);
      writeU32(apart, bytes - 4, crc32(apart.subarray(0, bytes - 4)));
      return apart.subarray(ENTRY_KEY_BYTES);
    }
    if (this.#summed.length !== bytes - 4) {
      this.#summed = this.#scratch.subarray(0, bytes - 4);
      this.#value = this.#scratch.subarray(ENTRY_KEY_BYTES, bytes);
    }
    this.#key = this.#scratchKey;
    writeEntry(this.#scratch, groupId, e);
    const sum = bytes - 4 <= SMALL_SUM ? crc32Of(this.#scratchView, bytes - 4) : crc32(this.#summed);
    writeU32(this.#scratch, bytes - 4, sum);
    return this.#value;
  }
}

/** Bytes of the value of an entry with `term` (below 2^32) and `size` bytes of data. */
function valueBytes(term: number, size: number): number {
  const termBytes = term < 0x80 ? 1 : term < 0x100 ? 2 : term < 0x1_0000 ? 3 : 5;
  const sizeBytes = size < 0x100 ? 2 : size < 0x1_0000 ? 3 : 5;
  return 1 + termBytes + 1 + sizeBytes + size + 4;
}

/** Writes key and body of `e` at the start of `to` (its checksum follows them). */
function writeEntry(to: Buffer, groupId: number, e: Entry): void {
  const { term, data } = e;
  writeEntryKey(to, groupId, e.index);
  // msgpack: fixarray of 3, a positive fixint or uint 8/16/32, the type, bin 8/16/32.
  let at = ENTRY_KEY_BYTES;
  to[at++] = 0x93;
  if (term < 0x80) to[at++] = term;
  else {
    const n = term < 0x100 ? 1 : term < 0x1_0000 ? 2 : 4;
    to[at++] = n === 1 ? 0xcc : n === 2 ? 0xcd : 0xce;
    at = writeBE(to, at, term, n);
  }
  to[at++] = e.type;
  const size = data.length;
  const n = size < 0x100 ? 1 : size < 0x1_0000 ? 2 : 4;
  to[at++] = n === 1 ? 0xc4 : n === 2 ? 0xc5 : 0xc6;
  at = writeBE(to, at, size, n);
  to.set(data, at);
}

/** Writes `n` (below 2^32) as `bytes` big-endian bytes at `at`; returns the end. */
function writeBE(to: Uint8Array, at: number, n: number, bytes: number): number {
  for (let k = bytes - 1; k >= 0; k--) {
    to[at + k] = n;
    n >>>= 8;
  }
  return at + bytes;
}

export function decodeEntry(key: Uint8Array, index: number, value: Buffer): Entry {
  const v = open(key, value);
  if (!Array.isArray(v) || !isNat(v[0]) || (v[1] !== 0 && v[1] !== 1)) throw corrupt(key, 'not an entry');
  const data = asBytes(v[2]);
  if (data === undefined) throw corrupt(key, 'not an entry');
  return { index, term: v[0], type: v[1] as EntryType, data };
}

export function encodeHardState(key: Uint8Array, hs: HardState): Buffer {
  return seal(key, packr.pack([hs.term, hs.vote, hs.commit]));
}

export function decodeHardState(key: Uint8Array, value: Buffer): HardState {
  const v = open(key, value);
  if (!isNatList(v) || v.length !== 3) throw corrupt(key, 'not a hard state');
  return { term: v[0]!, vote: v[1]!, commit: v[2]! };
}

function confToArray(cs: ConfState): unknown[] {
  return [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext, cs.autoLeave];
}

function confFromArray(key: Uint8Array, v: unknown): ConfState {
  if (!Array.isArray(v) || v.length !== 5 || !v.slice(0, 4).every(isNatList) || typeof v[4] !== 'boolean') {
    throw corrupt(key, 'not a configuration state');
  }
  return { voters: v[0], learners: v[1], votersOutgoing: v[2], learnersNext: v[3], autoLeave: v[4] };
}

export function encodeConfState(key: Uint8Array, cs: ConfState): Buffer {
  return seal(key, packr.pack(confToArray(cs)));
}

export function decodeConfState(key: Uint8Array, value: Buffer): ConfState {
  return confFromArray(key, open(key, value));
}

export function encodeSnapshot(key: Uint8Array, s: Snapshot): Buffer {
  return seal(key, packr.pack([s.meta.index, s.meta.term, confToArray(s.meta.confState), s.data]));
}

export function decodeSnapshot(key: Uint8Array, value: Buffer): Snapshot {
  const v = open(key, value);
  if (!Array.isArray(v) || v.length !== 4 || !isNat(v[0]) || !isNat(v[1]))
    throw corrupt(key, 'not a snapshot');
  const data = asBytes(v[3]);
  if (data === undefined) throw corrupt(key, 'not a snapshot');
  return { meta: { index: v[0], term: v[1], confState: confFromArray(key, v[2]) }, data };
}

export function encodeBytes(key: Uint8Array, bytes: Uint8Array): Buffer {
  return seal(key, packr.pack(bytes));
}

export function decodeBytes(key: Uint8Array, value: Buffer): Uint8Array {
  const bytes = asBytes(open(key, value));
  if (bytes === undefined) throw corrupt(key, 'not a byte string');
  return bytes;
}

/** Named byte values, as the msgpack array `[[name, bytes], ...]`. */
export function encodeNamedBytes(key: Uint8Array, values: ReadonlyMap<string, Uint8Array>): Buffer {
  return seal(key, packr.pack([...values]));
}

export function decodeNamedBytes(key: Uint8Array, value: Buffer): Map<string, Uint8Array> {
  const v = open(key, value);
  if (!Array.isArray(v)) throw corrupt(key, 'not a list of named values');
  const out = new Map<string, Uint8Array>();
  for (const pair of v) {
    const bytes = Array.isArray(pair) && pair.length === 2 ? asBytes(pair[1]) : undefined;
    if (bytes === undefined || typeof pair[0] !== 'string') throw corrupt(key, 'not a list of named values');
    out.set(pair[0], bytes);
  }
  return out;
}

export function encodeNumber(key: Uint8Array, n: number): Buffer {
  return seal(key, packr.pack(n));
}

export function decodeNumber(key: Uint8Array, value: Buffer): number {
  const n = open(key, value);
  if (!isNat(n)) throw corrupt(key, 'not a number');
  return n;
}
