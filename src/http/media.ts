import { Packr, Unpackr } from 'msgpackr';
import { invalid } from './validate.js';

/**
 * The two body formats of the API: JSON (the default) and msgpack (`application/vnd.msgpack`),
 * which carries keys and values as raw bytes. A request's body format is its Content-Type; the
 * answer's is chosen by the Accept header, else the request's own format, else JSON.
 */

export const JSON_TYPE = 'application/json';
export const MSGPACK_TYPE = 'application/vnd.msgpack';

/** A body format. */
export type WireFormat = 'json' | 'msgpack';

/** The Content-Type header value of each format's answers. */
export const CONTENT_TYPES: Readonly<Record<WireFormat, string>> = {
  json: `${JSON_TYPE}; charset=utf-8`,
  msgpack: MSGPACK_TYPE,
};

/** A parsed request body, with the bytes it came from (kept to forward the request unchanged). */
export interface ParsedBody {
  readonly format: WireFormat;
  readonly raw: Buffer;
  readonly value: unknown;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** Parse a request body; anything but exactly one well-formed value is INVALID_REQUEST. */
export function parseBody(format: WireFormat, raw: Buffer): ParsedBody {
  if (format === 'json') {
    try {
      return { format, raw, value: JSON.parse(raw.toString('utf8')) };
    } catch (err) {
      throw invalid(`malformed JSON body: ${(err as Error).message}`);
    }
  }
  try {
    return { format, raw, value: unpackr.unpack(raw) };
  } catch {
    throw invalid('malformed msgpack body');
  }
}

/** `value` serialized in `format`, in a buffer of its own. */
export function serialize(format: WireFormat, value: unknown): Buffer {
  if (format === 'json') return Buffer.from(JSON.stringify(value), 'utf8');
  // A view of msgpackr's output slab, which it never writes again once handed out (the next pack
  // moves past it or to a fresh slab): no copy needed, which matters for megabytes of records.
  return packr.pack(value);
}

/** The format named by a Content-Type header, or undefined for any other media type. */
export function formatOfContentType(contentType: string | undefined): WireFormat | undefined {
  // What clients send nearly always, without parsing.
  if (contentType === JSON_TYPE) return 'json';
  if (contentType === MSGPACK_TYPE) return 'msgpack';
  const media = contentType === undefined ? undefined : contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (media === JSON_TYPE) return 'json';
  if (media === MSGPACK_TYPE) return 'msgpack';
  return undefined;
}

/**
 * The format to answer in: the one of JSON and msgpack that the Accept header ranks higher
 * (q-values, then order; wildcards do not choose), else the request body's format, else JSON.
 */
export function responseFormat(accept: string | undefined, contentType: string | undefined): WireFormat {
  // No Accept, or one that ranks nothing (the usual case): no ranges to parse.
  if (accept === undefined || accept === '' || accept === '*/*')
    return formatOfContentType(contentType) ?? 'json';
  let best: { format: WireFormat; q: number } | undefined;
  for (const range of (accept ?? '').split(',')) {
    const [media, ...params] = range.split(';');
    const format = formatOfContentType(media);
    if (format === undefined) continue;
    const q = qValue(params);
    if (q > 0 && (best === undefined || q > best.q)) best = { format, q };
  }
  return best?.format ?? formatOfContentType(contentType) ?? 'json';
}

function qValue(params: readonly string[]): number {
  for (const param of params) {
    const [name, value] = param.split('=');
    if (name?.trim().toLowerCase() === 'q') {
      const q = Number(value?.trim());
      return Number.isFinite(q) ? q : 0;
    }
  }
  return 1;
}
