import { Packr, Unpackr } from 'msgpackr';

/**
 * The byte format every persisted or replicated structure of the partition state machine uses:
 * one leading tag byte (what the bytes are, and which version of its layout), then one msgpack
 * value built only of arrays, numbers, strings, binaries and nil. Positional arrays instead of maps
 * keep field names out of every Raft entry and row.
 */

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** `tag` followed by the msgpack encoding of `value`, in a buffer of its own. */
export function packTagged(tag: number, value: unknown): Uint8Array {
  const body = packr.pack(value);
  // msgpackr hands out views of a shared, reused buffer: copy into one we own.
  const out = new Uint8Array(body.length + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/**
 * The msgpack value after the tag byte, or `undefined` when the bytes do not hold exactly one
 * well-formed value (truncated, trailing bytes, nested beyond the stack...). Never throws.
 * Callers check the tag themselves and validate the shape of what comes back.
 */
export function unpackTagged(bytes: Uint8Array): unknown {
  try {
    return unpackr.unpack(bytes.subarray(1));
  } catch {
    return undefined;
  }
}

/**
 * `bytes` as a plain `Uint8Array` view (msgpackr decodes binaries as `Buffer` views of its input),
 * so decoded values have one type whatever buffer they came from. No copy.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** True for a safe integer ≥ 0: offsets, indexes, epochs, sequences, timestamps. */
export function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}
