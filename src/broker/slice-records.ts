import { RecordBatchReader } from '../statemachine/record-batch-reader.js';
import type { BatchSlice, FetchedRecord } from './api.js';

/** Header names as their stored UTF-8 decodes to (a leading BOM is part of the name). */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** The records of fetched slices as objects; keys, values and header values are views of the batches. */
export function recordsOfSlices(slices: readonly BatchSlice[]): FetchedRecord[] {
  const out: FetchedRecord[] = [];
  for (const { data, baseOffset, from, to } of slices) {
    const batch = new RecordBatchReader(data);
    const view = (start: number, end: number) =>
      new Uint8Array(data.buffer, data.byteOffset + start, end - start);
    batch.skipTo(from);
    while (batch.index + 1 < to && batch.next()) {
      const headers: Array<readonly [string, Uint8Array]> = new Array(batch.headerCount);
      for (let h = 0; h < headers.length; h++) {
        batch.nextHeader();
        headers[h] = [
          utf8.decode(view(batch.nameStart, batch.nameEnd)),
          view(batch.headerValueStart, batch.headerValueEnd),
        ];
      }
      out.push({
        offset: baseOffset + batch.index,
        key: batch.keyStart < 0 ? null : view(batch.keyStart, batch.keyEnd),
        value: view(batch.valueStart, batch.valueEnd),
        headers,
        timestamp: batch.timestamp,
      });
    }
  }
  return out;
}
