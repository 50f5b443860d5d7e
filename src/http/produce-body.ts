import type { ProduceRecord, ProducerTag } from '../broker/api.js';
import { RaftlogError } from '../errors.js';
import { bytesFromField, checkEncoding } from './byte-strings.js';
import { checkCount, checkObject, checkText, invalid } from './validate.js';

/**
 * The body of both produce routes:
 * `{"records":[{"key"?,"value","headers"?,"partition"?}],"encoding"?,"producer"?}` where headers
 * are `[{"name","value"}]` and `producer` is `{"id","epoch","sequence"}` (partition route only).
 */

/** One record of a produce request, with the partition it asked for, if any. */
export interface ProduceEntry {
  readonly record: ProduceRecord;
  readonly partition?: number;
}

/** A checked produce request. */
export interface ProduceBody {
  readonly entries: readonly ProduceEntry[];
  readonly producer?: ProducerTag;
}

/** Limits for {@link parseProduceBody}. */
export interface ProduceBodyLimits {
  /** Largest record: key, value, header names and values together, in bytes. */
  readonly maxRecordBytes: number;
  /** Whether `producer` is allowed (only the single-partition route takes it). */
  readonly allowProducer: boolean;
}

/** Longest producer id, in Unicode code points (issue 5's contract). */
export const MAX_PRODUCER_ID_CHARS = 64;

const textEncoder = new TextEncoder();

/** Check a decoded produce body; INVALID_REQUEST or RECORD_TOO_LARGE when it breaks a rule. */
export function parseProduceBody(body: unknown, limits: ProduceBodyLimits): ProduceBody {
  const fields = limits.allowProducer ? ['records', 'encoding', 'producer'] : ['records', 'encoding'];
  const top = checkObject('body', body, fields);
  const encoding = checkEncoding('encoding', top.encoding);
  if (!Array.isArray(top.records) || top.records.length === 0) {
    throw invalid('records must be a non-empty array');
  }
  const entries = top.records.map((raw: unknown, i): ProduceEntry => {
    const where = `records[${i}]`;
    const r = checkObject(where, raw, ['key', 'value', 'headers', 'partition']);
    if (r.value === undefined || r.value === null) throw invalid(`${where}.value is required`);
    const value = bytesFromField(`${where}.value`, r.value, encoding);
    const key =
      r.key === undefined || r.key === null ? undefined : bytesFromField(`${where}.key`, r.key, encoding);
    const headers = r.headers === undefined ? undefined : parseHeaders(where, r.headers, encoding);
    const size =
      value.byteLength +
      (key?.byteLength ?? 0) +
      (headers ?? []).reduce((n, [name, v]) => n + textEncoder.encode(name).byteLength + v.byteLength, 0);
    if (size > limits.maxRecordBytes) {
      throw new RaftlogError(
        'RECORD_TOO_LARGE',
        `${where} is ${size} bytes, more than the ${limits.maxRecordBytes} allowed`,
      );
    }
    const record: ProduceRecord = {
      value,
      ...(key === undefined ? {} : { key }),
      ...(headers === undefined ? {} : { headers }),
    };
    return r.partition === undefined
      ? { record }
      : { record, partition: checkCount(`${where}.partition`, r.partition) };
  });
  return top.producer === undefined ? { entries } : { entries, producer: parseProducer(top.producer) };
}

function parseHeaders(
  where: string,
  raw: unknown,
  encoding: 'utf8' | 'base64',
): Array<readonly [string, Uint8Array]> {
  if (!Array.isArray(raw)) throw invalid(`${where}.headers must be an array of {"name","value"}`);
  return raw.map((h: unknown, j) => {
    const field = `${where}.headers[${j}]`;
    const header = checkObject(field, h, ['name', 'value']);
    return [
      checkText(`${field}.name`, header.name),
      bytesFromField(`${field}.value`, header.value, encoding),
    ];
  });
}

function parseProducer(raw: unknown): ProducerTag {
  const p = checkObject('producer', raw, ['id', 'epoch', 'sequence']);
  const id = checkText('producer.id', p.id);
  if (id.length === 0 || [...id].length > MAX_PRODUCER_ID_CHARS) {
    throw invalid(`producer.id must be 1 to ${MAX_PRODUCER_ID_CHARS} characters`);
  }
  return {
    id,
    epoch: checkCount('producer.epoch', p.epoch),
    sequence: checkCount('producer.sequence', p.sequence),
  };
}
