import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordsOfSlices } from '../../src/broker/slice-records.js';
import {
  decodeRecordBatch,
  encodeRecordBatch,
  type RecordBatch,
} from '../../src/statemachine/record-batch.js';
import { RecordBatchReader } from '../../src/statemachine/record-batch-reader.js';
import { arbBatch } from './record-batches.js';

const SEED = Number(process.env.RAFTLOG_READER_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`record batch reader seed ${SEED} (replay: RAFTLOG_READER_SEED=${SEED})`);

/** What decodeRecordBatch makes of a batch, as the records a fetch answers with. */
function decoded(data: Uint8Array, baseOffset: number) {
  const batch = decodeRecordBatch(data);
  return batch.records.map((r, i) => ({
    offset: baseOffset + i,
    key: r.key ?? null,
    value: r.value,
    headers: r.headers ?? [],
    timestamp: batch.timestamp,
  }));
}

describe('RecordBatchReader', () => {
  it('finds every record where decodeRecordBatch does (property)', () => {
    fc.assert(
      fc.property(arbBatch, fc.nat(), (batch: RecordBatch, baseOffset) => {
        const data = encodeRecordBatch(batch);
        const reader = new RecordBatchReader(data);
        expect(reader.count).toBe(batch.records.length);
        expect(reader.timestamp).toBe(batch.timestamp);
        const all = recordsOfSlices([{ data, baseOffset, from: 0, to: batch.records.length }]);
        expect(all).toStrictEqual(decoded(data, baseOffset));
      }),
      { seed: SEED },
    );
  });

  it('reads a slice of a batch, and a batch held in a Buffer', () => {
    fc.assert(
      fc.property(
        arbBatch.chain((b) =>
          fc
            .tuple(fc.nat(b.records.length), fc.nat(b.records.length))
            .map(([x, y]) => [b, Math.min(x, y), Math.max(x, y)] as const),
        ),
        ([batch, from, to]) => {
          const data = Buffer.from(encodeRecordBatch(batch));
          const slice = recordsOfSlices([{ data, baseOffset: 7, from, to }]);
          expect(slice).toStrictEqual(decoded(data, 7).slice(from, to));
        },
      ),
      { seed: SEED },
    );
  });

  it('refuses bytes that are no record batch, or are cut short', () => {
    expect(() => new RecordBatchReader(new Uint8Array())).toThrow(/not a record batch/);
    expect(() => new RecordBatchReader(new Uint8Array([2, 0x92, 0, 0x90]))).toThrow(/not a record batch/);
    const data = encodeRecordBatch({ timestamp: 1, records: [{ value: new Uint8Array(300) }] });
    const reader = new RecordBatchReader(data.subarray(0, data.length - 1));
    expect(() => reader.next()).toThrow(/truncated/);
  });
});
