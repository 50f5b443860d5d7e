import { RaftlogError } from '../errors.js';

/** A record to write. Strings are sent as their UTF-8 bytes. */
export interface ClientRecord {
  readonly key?: string | Uint8Array;
  readonly value: string | Uint8Array;
  /** Ordered (name, value) pairs; names may repeat. */
  readonly headers?: ReadonlyArray<readonly [string, string | Uint8Array]>;
}

/** A record as the produce routes take it in msgpack (raw bytes, headers as `{name, value}`). */
export interface WireRecord {
  readonly key?: Uint8Array;
  readonly value: Uint8Array;
  readonly headers?: ReadonlyArray<{ readonly name: string; readonly value: Uint8Array }>;
}

const encoder = new TextEncoder();

/** The bytes of a key, value or header value. */
export function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? encoder.encode(v) : v;
}

function isByteString(v: unknown): v is string | Uint8Array {
  return typeof v === 'string' || v instanceof Uint8Array;
}

/**
 * Check a caller's record (INVALID_REQUEST naming `where` when malformed); returns its size in
 * bytes: key, value, header names and values, as batch limits count them.
 */
export function checkRecord(r: ClientRecord, where: string): number {
  if (typeof r !== 'object' || r === null || !isByteString(r.value)) {
    throw new RaftlogError('INVALID_REQUEST', `${where}: value must be a string or a Uint8Array`);
  }
  if (r.key !== undefined && !isByteString(r.key)) {
    throw new RaftlogError('INVALID_REQUEST', `${where}: key must be a string or a Uint8Array`);
  }
  if (r.headers !== undefined && !Array.isArray(r.headers)) {
    throw new RaftlogError('INVALID_REQUEST', `${where}: headers must be an array of [name, value]`);
  }
  let size = byteLength(r.value) + (r.key === undefined ? 0 : byteLength(r.key));
  r.headers?.forEach((h, i) => {
    if (!Array.isArray(h) || typeof h[0] !== 'string' || !isByteString(h[1])) {
      throw new RaftlogError('INVALID_REQUEST', `${where}: headers[${i}] must be [name, value]`);
    }
    size += byteLength(h[0]) + byteLength(h[1]);
  });
  return size;
}

/** A checked record (see {@link checkRecord}) as the produce routes take it. */
export function toWireRecord(r: ClientRecord): WireRecord {
  return {
    value: toBytes(r.value),
    ...(r.key === undefined ? {} : { key: toBytes(r.key) }),
    ...(r.headers === undefined
      ? {}
      : { headers: r.headers.map(([name, value]) => ({ name, value: toBytes(value) })) }),
  };
}

function byteLength(v: string | Uint8Array): number {
  return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.byteLength;
}
