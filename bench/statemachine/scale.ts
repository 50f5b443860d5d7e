/**
 * Figures for the partition state machine at scale (not a test). Run from the repository root:
 *
 *   npx tsc --outDir dist/bench-statemachine --module nodenext --moduleResolution nodenext --target es2023 \
 *     --skipLibCheck --types node bench/statemachine/scale.ts && node --expose-gc dist/bench-statemachine/bench/statemachine/scale.js
 */
import { type Entry, EntryType } from '../../src/raft/types.js';
import { OffsetIndex } from '../../src/statemachine/offset-index.js';
import { PartitionState } from '../../src/statemachine/partition-state.js';
import { encodeRecordBatch } from '../../src/statemachine/record-batch.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const memory = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const time = <T>(fn: () => T): [T, number] => {
  const t0 = process.hrtime.bigint();
  const out = fn();
  return [out, Number(process.hrtime.bigint() - t0) / 1e6];
};
/** A deterministic pseudo-random sequence (xorshift32). */
let seed = 0x2545f491;
const rand = (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

const N = 10_000_000;
const before = memory();
const [idx, appendMs] = time(() => {
  const idx = new OffsetIndex();
  let index = 0;
  for (let i = 0; i < N; i++) {
    index += i % 1000 === 0 ? 2 : 1; // a no-op or retry every 1,000 entries
    idx.append(index, 1 + (i % 10));
  }
  return idx;
});
console.log(
  `offset index, ${N.toLocaleString()} entries: append ${((appendMs / N) * 1e6).toFixed(0)} ns/entry, memory ${mb(memory() - before)} (${((memory() - before) / N).toFixed(1)} B/entry)`,
);

const end = idx.endOffset;
const last = idx.last!.index;
const LOOKUPS = 1_000_000;
const offsets = Array.from({ length: LOOKUPS }, () => rand(end));
const indexes = Array.from({ length: LOOKUPS }, () => 1 + rand(last));
let sink = 0;
const [, locateMs] = time(() => {
  for (const o of offsets) sink += idx.locate(o)!.index;
});
const [, entryAtMs] = time(() => {
  for (const i of indexes) sink += idx.entryAt(i)?.count ?? 0;
});
console.log(
  `locate(offset): ${((locateMs / LOOKUPS) * 1e6).toFixed(0)} ns; entryAt(index): ${((entryAtMs / LOOKUPS) * 1e6).toFixed(0)} ns`,
);

const [snap, snapMs] = time(() => idx.toSnapshot());
const [, restoreMs] = time(() => OffsetIndex.fromSnapshot(snap));
console.log(
  `index snapshot: ${mb(snap.counts.length + 16 * snap.runs.length)} in ${snapMs.toFixed(0)} ms, restored in ${restoreMs.toFixed(0)} ms`,
);

const [, truncMs] = time(() => idx.truncateBefore(Math.floor(end * 0.9)));
console.log(`truncate 90%: ${truncMs.toFixed(0)} ms, memory now ${mb(memory() - before)}`);

// Applying real entries: 10 records of 100 bytes, idempotent producer tags.
const ENTRIES = 200_000;
const value = new Uint8Array(100);
const entries: Entry[] = Array.from({ length: ENTRIES }, (_, i) => ({
  term: 1,
  index: i + 1,
  type: EntryType.Normal,
  data: encodeRecordBatch({
    timestamp: 1_700_000_000_000 + i,
    records: Array.from({ length: 10 }, (_, r) => ({ key: new Uint8Array([r]), value })),
    producer: { id: `producer-${i % 50}`, epoch: 0, sequence: Math.floor(i / 50) },
  }),
}));
const state = new PartitionState();
const [, applyMs] = time(() => {
  for (const e of entries) state.apply(e);
});
console.log(
  `apply: ${((ENTRIES / applyMs) * 1000).toFixed(0)} entries/s (${(((ENTRIES * 10) / applyMs) * 1000).toFixed(0)} records/s)`,
);
const [stateSnap, stateSnapMs] = time(() => state.snapshot());
console.log(
  `partition snapshot (${ENTRIES.toLocaleString()} entries, 50 producers): ${stateSnap.length} bytes in ${stateSnapMs.toFixed(1)} ms`,
);
if (sink === -1) console.log(sink);
