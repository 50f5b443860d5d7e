import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import {
  decodeRecordBatch,
  encodeRecordBatch,
  type LogRecord,
  MAX_PRODUCER_ID_LENGTH,
  MAX_RECORDS_PER_BATCH,
  PartitionEntryKind,
  type RecordBatch,
} from '../../src/statemachine/record-batch.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const packr = new Packr({ useRecords: false });
/** A record-batch entry whose body is any msgpack value. */
const withBody = (body: unknown) => new Uint8Array([PartitionEntryKind.RecordBatch, ...packr.pack(body)]);

const arbRecord: fc.Arbitrary<LogRecord> = fc.record(
  {
    key: fc.uint8Array({ maxLength: 16 }),
    value: fc.uint8Array({ maxLength: 32 }),
    headers: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 })), {
      maxLength: 3,
    }),
  },
  { requiredKeys: ['value'], noNullPrototype: true },
);
const arbBatch: fc.Arbitrary<RecordBatch> = fc.record(
  {
    records: fc.array(arbRecord, { minLength: 1, maxLength: 8 }),
    timestamp: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    producer: fc.record(
      {
        id: fc
          .string({ minLength: 1, maxLength: MAX_PRODUCER_ID_LENGTH, unit: 'grapheme' })
          .filter((s) => [...s].length <= MAX_PRODUCER_ID_LENGTH),
        epoch: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        sequence: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      },
      { noNullPrototype: true },
    ),
  },
  { requiredKeys: ['records', 'timestamp'], noNullPrototype: true },
);

function expectInvalid(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(RaftlogError);
  expect((thrown as RaftlogError).code).toBe('INVALID_REQUEST');
}

describe('record batch codec', () => {
  it('round-trips every valid batch exactly, as plain Uint8Arrays', () => {
    fc.assert(
      fc.property(arbBatch, (batch) => {
        const data = encodeRecordBatch(batch);
        expect(data[0]).toBe(PartitionEntryKind.RecordBatch);
        const back = decodeRecordBatch(data);
        expect(back).toStrictEqual(batch);
        // Decoding a copy held in a Buffer gives the same plain types.
        expect(decodeRecordBatch(Buffer.from(data))).toStrictEqual(batch);
      }),
    );
  });

  it('keeps "no key" apart from an empty key, and no headers apart from none given', () => {
    const batch: RecordBatch = {
      timestamp: 1,
      records: [
        { value: bytes(1) },
        { value: bytes(2), key: bytes() },
        { value: bytes(3), headers: [] },
        { value: bytes(4), headers: [['h', bytes()]] },
      ],
    };
    expect(decodeRecordBatch(encodeRecordBatch(batch))).toStrictEqual(batch);
  });

  it('is compact: a few bytes of framing per record', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ key: bytes(i), value: new Uint8Array(10) }));
    const data = encodeRecordBatch({
      timestamp: 1_700_000_000_000,
      records,
      producer: { id: 'p', epoch: 0, sequence: 7 },
    });
    const payload = 100 * (1 + 10);
    // Per record: array header + two bin headers = 5 bytes; the batch adds a handful.
    expect(data.length - payload).toBeLessThanOrEqual(100 * 5 + 20);
  });

  it('accepts producer ids of 64 characters counted as code points, not UTF-16 units', () => {
    const id = '😀'.repeat(MAX_PRODUCER_ID_LENGTH);
    const data = encodeRecordBatch({
      timestamp: 0,
      records: [{ value: bytes() }],
      producer: { id, epoch: 0, sequence: 0 },
    });
    expect(decodeRecordBatch(data).producer?.id).toBe(id);
  });

  describe('encode validates', () => {
    const ok: RecordBatch = { timestamp: 0, records: [{ value: bytes(1) }] };
    const cases: Array<[string, unknown]> = [
      ['no records', { ...ok, records: [] }],
      ['a null record', { ...ok, records: [null] }],
      ['a null producer', { ...ok, producer: null }],
      ['null', null],
      ['records not an array', { ...ok, records: 'x' }],
      ['negative timestamp', { ...ok, timestamp: -1 }],
      ['fractional timestamp', { ...ok, timestamp: 1.5 }],
      ['unsafe timestamp', { ...ok, timestamp: 2 ** 53 }],
      ['string value', { ...ok, records: [{ value: 'v' }] }],
      ['missing value', { ...ok, records: [{ key: bytes() }] }],
      ['string key', { ...ok, records: [{ value: bytes(), key: 'k' }] }],
      ['headers not an array', { ...ok, records: [{ value: bytes(), headers: {} }] }],
      ['header not a pair', { ...ok, records: [{ value: bytes(), headers: [['a']] }] }],
      ['header name not a string', { ...ok, records: [{ value: bytes(), headers: [[1, bytes()]] }] }],
      [
        'header name with a lone surrogate',
        { ...ok, records: [{ value: bytes(), headers: [['\ud800', bytes()]] }] },
      ],
      ['header value not bytes', { ...ok, records: [{ value: bytes(), headers: [['a', 'b']] }] }],
      ['empty producer id', { ...ok, producer: { id: '', epoch: 0, sequence: 0 } }],
      ['producer id of 65 characters', { ...ok, producer: { id: 'x'.repeat(65), epoch: 0, sequence: 0 } }],
      ['producer id with a lone surrogate', { ...ok, producer: { id: 'a\udc00', epoch: 0, sequence: 0 } }],
      ['producer id not a string', { ...ok, producer: { id: 7, epoch: 0, sequence: 0 } }],
      ['negative epoch', { ...ok, producer: { id: 'p', epoch: -1, sequence: 0 } }],
      ['fractional sequence', { ...ok, producer: { id: 'p', epoch: 0, sequence: 0.5 } }],
    ];
    it.each(cases)('%s', (_, batch) => {
      expectInvalid(() => encodeRecordBatch(batch as RecordBatch));
    });

    it('anything at all: a batch, or INVALID_REQUEST', () => {
      const arbShaped = fc.record({
        records: fc.oneof(
          fc.anything(),
          fc.array(fc.oneof(fc.anything(), fc.constantFrom(null, undefined), arbRecord), { maxLength: 3 }),
          fc.array(arbRecord, { minLength: 1, maxLength: 2 }),
        ),
        timestamp: fc.oneof(fc.anything(), fc.nat()),
        producer: fc.oneof(fc.anything(), fc.constantFrom(null, undefined)),
      });
      fc.assert(
        fc.property(fc.oneof(fc.anything(), arbShaped), (batch) => {
          try {
            encodeRecordBatch(batch as RecordBatch);
          } catch (err) {
            expect(err).toBeInstanceOf(RaftlogError);
            expect((err as RaftlogError).code).toBe('INVALID_REQUEST');
          }
        }),
      );
    });

    it(`more than ${MAX_RECORDS_PER_BATCH} records`, () => {
      // A holey array: the count is checked before any record is looked at.
      const records = new Array<LogRecord>(MAX_RECORDS_PER_BATCH + 1);
      let message = '';
      try {
        encodeRecordBatch({ timestamp: 0, records });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/more than 16777216 records/);
      expectInvalid(() => encodeRecordBatch({ timestamp: 0, records }));
    });
  });

  describe('decode rejects, with INVALID_REQUEST only', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['empty data', bytes()],
      ['another kind', bytes(2, 0x90)],
      ['the kind byte alone', bytes(PartitionEntryKind.RecordBatch)],
      [
        'trailing bytes',
        new Uint8Array([...encodeRecordBatch({ timestamp: 0, records: [{ value: bytes() }] }), 0]),
      ],
      ['a map instead of an array', withBody({ timestamp: 0, records: [] })],
      ['three fields', withBody([0, [[bytes()]], 'p'])],
      ['no records', withBody([0, []])],
      ['a bigint timestamp', withBody([2n ** 60n, [[bytes()]]])],
      ['a float timestamp', withBody([0.5, [[bytes()]]])],
      ['a string value', withBody([0, [['v']]])],
      ['a record of four fields', withBody([0, [[bytes(), bytes(), [], 1]]])],
      ['a nil key without headers', withBody([0, [[bytes(), null]]])],
      ['odd header list', withBody([0, [[bytes(), null, ['a']]]])],
      ['header name not a string', withBody([0, [[bytes(), null, [1, bytes()]]]])],
      ['bad producer', withBody([0, [[bytes()]], 'p', -1, 0])],
      [
        'nested deeper than the stack',
        new Uint8Array([PartitionEntryKind.RecordBatch, ...new Uint8Array(200_000).fill(0x91)]),
      ],
      ['an array claiming 2^32-1 items', bytes(PartitionEntryKind.RecordBatch, 0xdd, 0xff, 0xff, 0xff, 0xff)],
    ];
    it.each(cases)('%s', (_, data) => {
      expectInvalid(() => decodeRecordBatch(data));
    });

    it('random bytes, random msgpack values and mutated batches never throw anything else', () => {
      const mutated = fc
        .tuple(
          arbBatch,
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        )
        .map(([batch, edits]) => {
          const data = encodeRecordBatch(batch);
          for (const [at, b] of edits) data[at % data.length] = b;
          return data;
        });
      const truncated = fc
        .tuple(arbBatch, fc.nat())
        .map(([batch, cut]) => encodeRecordBatch(batch).subarray(0, cut % encodeRecordBatch(batch).length));
      const anyBody = fc
        .anything({ withTypedArray: true, withMap: true, withSet: true, withDate: true })
        .map(withBody);
      const raw = fc
        .uint8Array({ maxLength: 64 })
        .map((b) => new Uint8Array([PartitionEntryKind.RecordBatch, ...b]));
      fc.assert(
        fc.property(fc.oneof(mutated, truncated, anyBody, raw), (data) => {
          try {
            const batch = decodeRecordBatch(data);
            // Whatever decodes is a valid batch: it encodes again, to the same batch.
            expect(decodeRecordBatch(encodeRecordBatch(batch))).toStrictEqual(batch);
          } catch (err) {
            expect(err).toBeInstanceOf(RaftlogError);
            expect((err as RaftlogError).code).toBe('INVALID_REQUEST');
          }
        }),
        { numRuns: 2000 },
      );
      // The decoder is still sound after all that garbage.
      const batch: RecordBatch = { timestamp: 5, records: [{ value: bytes(9) }] };
      expect(decodeRecordBatch(encodeRecordBatch(batch))).toStrictEqual(batch);
    });
  });
});
