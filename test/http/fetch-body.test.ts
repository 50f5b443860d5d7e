import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BatchSlice, FetchedBatches, FetchResult } from '../../src/broker/api.js';
import { recordsOfSlices } from '../../src/broker/slice-records.js';
import type { RaftlogError } from '../../src/errors.js';
import { BufferPool } from '../../src/http/buffer-pool.js';
import { type ByteStringEncoding, bytesToString } from '../../src/http/byte-strings.js';
import { fetchBody } from '../../src/http/fetch-body.js';
import { serialize, type WireFormat } from '../../src/http/media.js';
import { encodeRecordBatch, type RecordBatch } from '../../src/statemachine/record-batch.js';
import { arbBatch, arbBatchOf, arbLimit, arbText } from '../statemachine/record-batches.js';

const SEED = Number(process.env.RAFTLOG_FETCH_BODY_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`fetch body seed ${SEED} (replay: RAFTLOG_FETCH_BODY_SEED=${SEED})`);

/**
 * The answer as the HTTP layer built it before it wrote bodies from the stored batches: the
 * records as objects, serialized by msgpackr or JSON.stringify. `fetchBody` must give its bytes.
 */
function objectView(r: FetchResult, format: WireFormat, encoding: ByteStringEncoding) {
  const bytes =
    format === 'msgpack'
      ? (_field: string, b: Uint8Array) => b
      : (field: string, b: Uint8Array) => bytesToString(field, b, encoding);
  return {
    records: r.records.map((rec) => {
      const at = `record at offset ${rec.offset}:`;
      return {
        offset: rec.offset,
        key: rec.key === null ? null : bytes(`${at} key`, rec.key),
        value: bytes(`${at} value`, rec.value),
        headers: rec.headers.map(([name, v]) => ({ name, value: bytes(`${at} header ${name}`, v) })),
        timestamp: rec.timestamp,
      };
    }),
    next_offset: r.nextOffset,
    high_watermark: r.highWatermark,
    log_start_offset: r.logStartOffset,
  };
}

/** What the old encoder answered: its bytes, or the error it threw. */
function oldBody(result: FetchedBatches, format: WireFormat, encoding: ByteStringEncoding): Buffer | Error {
  const { slices, nextOffset, highWatermark, logStartOffset } = result;
  try {
    const records = recordsOfSlices(slices);
    return serialize(
      format,
      objectView({ records, nextOffset, highWatermark, logStartOffset }, format, encoding),
    );
  } catch (err) {
    return err as Error;
  }
}

/** Shared by every answer of this file, so that they are written into reused buffers. */
const buffers = new BufferPool(2, 1024 * 1024);

function newBody(result: FetchedBatches, format: WireFormat, encoding: ByteStringEncoding): Buffer | Error {
  try {
    const { body, release } = fetchBody(result, format, encoding, buffers);
    const copy = Buffer.from(body);
    release();
    return copy;
  } catch (err) {
    return err as Error;
  }
}

/**
 * Consecutive batches of `batch` at offsets from `base`, each sliced (the first and last may be
 * cut), and a high watermark and log start offset around them.
 */
const arbFetched = (batch: fc.Arbitrary<RecordBatch>): fc.Arbitrary<FetchedBatches> =>
  fc
    .record({
      base: fc.oneof(
        arbLimit,
        fc.nat(200),
        fc.nat({ max: 2 ** 32 + 100 }),
        fc.nat({ max: 2 ** 53 - 2 ** 20 }),
      ),
      batches: fc.array(batch, { maxLength: 4 }),
      cutFirst: fc.nat(),
      cutLast: fc.nat(),
      beyond: fc.oneof(arbLimit, fc.nat({ max: 2 ** 33 })),
      logStart: fc.nat(),
    })
    .map(({ base, batches, cutFirst, cutLast, beyond, logStart }) => {
      const slices: BatchSlice[] = [];
      let offset = base;
      batches.forEach((batch, i) => {
        const count = batch.records.length;
        const from = i === 0 ? cutFirst % count : 0;
        const to = i === batches.length - 1 ? count - (cutLast % (count - from)) : count;
        slices.push({ data: encodeRecordBatch(batch), baseOffset: offset - from, from, to });
        offset += to - from;
      });
      const recordCount = offset - base;
      return {
        slices,
        recordCount,
        nextOffset: offset,
        highWatermark: offset + beyond,
        logStartOffset: Math.min(base, logStart),
      };
    });

describe('fetchBody', () => {
  /** The same bytes as before, or the same error (JSON of bytes that are not UTF-8). */
  function expectSameAnswer(result: FetchedBatches, format: WireFormat, encoding: ByteStringEncoding) {
    const want = oldBody(result, format, encoding);
    const got = newBody(result, format, encoding);
    if (want instanceof Error) {
      expect(got).toBeInstanceOf(Error);
      expect([(got as RaftlogError).code, (got as Error).message]).toStrictEqual([
        (want as RaftlogError).code,
        want.message,
      ]);
    } else {
      expect(got).toBeInstanceOf(Buffer);
      expect((got as Buffer).toString('hex')).toBe(want.toString('hex'));
    }
    return want instanceof Error;
  }

  for (const [format, encoding, batches, what] of [
    ['msgpack', 'utf8', arbBatch, 'any bytes'],
    ['json', 'utf8', arbBatchOf(arbText), 'UTF-8 text'],
    ['json', 'utf8', arbBatch, 'any bytes'],
    ['json', 'base64', arbBatch, 'any bytes'],
  ] as const) {
    it(`writes the bytes the object encoder wrote, or throws its error: ${format}, ${encoding}, ${what} (property)`, () => {
      let errors = 0;
      fc.assert(
        fc.property(arbFetched(batches), (result) => {
          if (expectSameAnswer(result, format, encoding)) errors++;
        }),
        { seed: SEED, numRuns: 200 },
      );
      // Text always makes an answer; bytes that are not UTF-8 make the JSON one an error.
      if (what === 'UTF-8 text' || format === 'msgpack' || encoding === 'base64') expect(errors).toBe(0);
      else expect(errors).toBeGreaterThan(0);
    });
  }

  it('writes an answer of 65,536 records and more (array 32) as msgpackr did', () => {
    const records = Array.from({ length: 70_000 }, (_, i) => ({ value: new Uint8Array([i & 0xff]) }));
    const data = encodeRecordBatch({ timestamp: 1_763_780_000_123, records });
    const result = {
      slices: [{ data, baseOffset: 0, from: 0, to: 70_000 }],
      recordCount: 70_000,
      nextOffset: 70_000,
      highWatermark: 70_000,
      logStartOffset: 0,
    };
    for (const format of ['msgpack', 'json'] as const) expectSameAnswer(result, format, 'utf8');
  });

  it('answers no records as an empty list', () => {
    const result = { slices: [], recordCount: 0, nextOffset: 5, highWatermark: 5, logStartOffset: 2 };
    expect(fetchBody(result, 'json', 'utf8').body.toString()).toBe(
      '{"records":[],"next_offset":5,"high_watermark":5,"log_start_offset":2}',
    );
    expect(
      fetchBody(result, 'msgpack', 'utf8').body.equals(
        serialize(
          'msgpack',
          JSON.parse('{"records":[],"next_offset":5,"high_watermark":5,"log_start_offset":2}'),
        ),
      ),
    ).toBe(true);
  });
});
