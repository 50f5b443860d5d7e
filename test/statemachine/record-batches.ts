import fc from 'fast-check';
import {
  type LogRecord,
  MAX_PRODUCER_ID_LENGTH,
  type RecordBatch,
} from '../../src/statemachine/record-batch.js';

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));

/** Sizes around the msgpack header limits: 256 and 65,536 bytes. */
const arbLarge = fc
  .oneof(fc.integer({ min: 250, max: 300 }), fc.integer({ min: 65_530, max: 65_540 }))
  .map((n) => new Uint8Array(n).fill(0x61));

/**
 * UTF-8 text: with the characters JSON escapes and others around them, any well-formed text,
 * now and then a long one.
 */
export const arbText: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .string({
        unit: fc.constantFrom(
          'a',
          ' ',
          '\f',
          '"',
          '\\',
          '\n',
          '\b',
          '\u0001',
          '\u001f',
          '\u007f',
          'é',
          '€',
          '😀',
          '\ufeff',
          '\u2028',
        ),
        maxLength: 20,
      })
      .map(utf8),
  },
  { weight: 10, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map(utf8) },
  { weight: 1, arbitrary: arbLarge },
);

/** Any bytes: text as above, or binary (mostly not UTF-8). */
export const arbBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: arbText },
);

/** Numbers at the limits of msgpack's integer forms. */
export const arbLimit = fc.constantFrom(0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 2 ** 32 - 1, 2 ** 32);

/** Header names: well-formed strings, some at the limits of msgpack's string headers (bytes). */
export const arbHeaderName: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(31, 32, 255, 256, 0xffff, 0x1_0000).map((n) => 'n'.repeat(n)),
  fc.string({
    unit: fc.constantFrom('n', '"', '\\', '\t', 'ü', '😀', '\ufeff'),
    minLength: 30,
    maxLength: 50,
  }),
);

/** Records whose key, value and header values are `bytes`. */
export const arbRecordOf = (bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<LogRecord> =>
  fc.record(
    { key: bytes, value: bytes, headers: fc.array(fc.tuple(arbHeaderName, bytes), { maxLength: 3 }) },
    { requiredKeys: ['value'], noNullPrototype: true },
  );

/**
 * Batches of 1 to 20 records of `bytes` (16 and more take an array 16 header), timestamps below
 * and above 2^32, with or without a producer.
 */
export const arbBatchOf = (bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<RecordBatch> =>
  fc.record(
    {
      records: fc.array(arbRecordOf(bytes), { minLength: 1, maxLength: 20 }),
      timestamp: fc.oneof(
        arbLimit,
        fc.nat({ max: 0x1_0000 }),
        fc.nat({ max: 2 ** 32 + 5 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      ),
      producer: fc.record(
        {
          id: fc.string({ minLength: 1, maxLength: MAX_PRODUCER_ID_LENGTH }),
          epoch: fc.nat(),
          sequence: fc.nat(),
        },
        { noNullPrototype: true },
      ),
    },
    { requiredKeys: ['records', 'timestamp'], noNullPrototype: true },
  );

export const arbBatch = arbBatchOf(arbBytes);
