import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { RaftlogError } from '../errors.js';
import type { ConfState, Entry, EntryType, HardState, Snapshot } from '../raft/types.js';

/**
 * Values of the LevelDB store: a CRC32 (big-endian, over the key and the body) followed by the
 * msgpackr-encoded body. The key is covered too, so a value found under the wrong key is caught
 * like a flipped bit. A value that fails its check raises `STORAGE_CORRUPT`; it is never decoded.
 */

const packr = new Packr({ useRecords: false });

function seal(key: Uint8Array, body: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(4 + body.length);
  value.writeUInt32BE(crc32(body, crc32(key)), 0);
  value.set(body, 4);
  return value;
}

function corrupt(key: Uint8Array, why: string, cause?: unknown): RaftlogError {
  return new RaftlogError('STORAGE_CORRUPT', `corrupt record ${Buffer.from(key).toString('hex')}: ${why}`, {
    cause,
    details: { key: Buffer.from(key).toString('hex') },
  });
}

function open(key: Uint8Array, value: Buffer): unknown {
  if (value.length < 4) throw corrupt(key, 'value too short');
  const body = value.subarray(4);
  if (value.readUInt32BE(0) !== crc32(body, crc32(key))) throw corrupt(key, 'checksum mismatch');
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

/**
 * An entry's value: the msgpack array `[term, type, data]` written directly after the checksum,
 * so the entry's data is copied once (the hot path of every append). Decoded by msgpackr like
 * every other value; terms of 2^32 and above take msgpackr's own encoder.
 */
export function encodeEntry(key: Uint8Array, e: Entry): Buffer {
  const { term, data } = e;
  if (term > 0xffff_ffff) return seal(key, packr.pack([term, e.type, data]));
  const termBytes = term < 0x80 ? 1 : term < 0x100 ? 2 : term < 0x1_0000 ? 3 : 5;
  const binHeader = data.length < 0x100 ? 2 : data.length < 0x1_0000 ? 3 : 5;
  const value = Buffer.allocUnsafe(4 + 1 + termBytes + 1 + binHeader + data.length);
  let at = 4;
  value[at++] = 0x93;
  if (termBytes === 1) value[at++] = term;
  else if (termBytes === 2) at = value.writeUInt8(term, value.writeUInt8(0xcc, at));
  else if (termBytes === 3) at = value.writeUInt16BE(term, value.writeUInt8(0xcd, at));
  else at = value.writeUInt32BE(term, value.writeUInt8(0xce, at));
  value[at++] = e.type;
  if (binHeader === 2) at = value.writeUInt8(data.length, value.writeUInt8(0xc4, at));
  else if (binHeader === 3) at = value.writeUInt16BE(data.length, value.writeUInt8(0xc5, at));
  else at = value.writeUInt32BE(data.length, value.writeUInt8(0xc6, at));
  value.set(data, at);
  value.writeUInt32BE(crc32(value.subarray(4), crc32(key)), 0);
  return value;
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
