import { RaftlogError } from '../errors.js';
import { checkText, invalid } from './validate.js';

/**
 * How keys, values and header values travel as strings in JSON: UTF-8 text by default, base64 for
 * binary data (`"encoding":"base64"` in a produce body, `?encoding=base64` on a fetch). msgpack
 * carries them as raw bytes and needs neither.
 */
export type ByteStringEncoding = 'utf8' | 'base64';

/** The encoding named by a request (absent means UTF-8). */
export function checkEncoding(field: string, value: unknown): ByteStringEncoding {
  if (value === undefined || value === 'utf8') return 'utf8';
  if (value === 'base64') return 'base64';
  throw invalid(`${field} must be "utf8" or "base64"`);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes from a request field: a binary (msgpack) as is, a string by `encoding`. Base64 must be
 * canonical padded base64 (Node's decoder would silently skip stray characters).
 */
export function bytesFromField(field: string, value: unknown, encoding: ByteStringEncoding): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  const text = checkText(field, value);
  if (encoding === 'base64' && !BASE64.test(text)) throw invalid(`${field} must be base64`);
  // Buffer.from rather than TextEncoder for UTF-8: about twice as fast, small strings taking a
  // slice of Node's shared pool. The bytes are copied into the Raft entry right after.
  const bytes = Buffer.from(text, encoding);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Bytes as a JSON string by `encoding`. Bytes that are not UTF-8 cannot be shown as UTF-8 text
 * without corrupting them: that is an INVALID_REQUEST asking for base64 instead.
 */
export function bytesToString(field: string, bytes: Uint8Array, encoding: ByteStringEncoding): string {
  if (encoding === 'base64')
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  try {
    return strictDecoder.decode(bytes);
  } catch (err) {
    throw new RaftlogError('INVALID_REQUEST', `${field} is not valid UTF-8: fetch with ?encoding=base64`, {
      cause: err,
    });
  }
}
