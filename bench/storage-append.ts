/**
 * The append path alone, for profiling: `turns` host-loop turns of one entry of `size` bytes to
 * each of `groups` groups, then one synced commit, on the store or on raw `level` (chained
 * batches of the same puts); or (`writers`) the store under one writer per group, each appending
 * one entry and awaiting its own commit, `turns` times. Prints staging time (host loop and raw),
 * wall time and process CPU per entry.
 *
 *   node dist/bench/storage-append.js <store|writers|raw> <turns> <groups> <size>
 *
 * Timings swing on a shared machine; instruction counts do not. Marginal instructions per entry,
 * repeatable to a few instructions (`--single-threaded` keeps V8's compiler and GC on one thread):
 *
 *   count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     node --single-threaded dist/bench/storage-append.js "$@" 2>&1 | sed -n 's/.*Collected : //p'; }
 *   echo $(( ($(count store 500 1000 100) - $(count store 100 1000 100)) / 400000 ))
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { entryKey } from '../src/storage/level-keys.js';
import { LevelLogStore } from '../src/storage/level-log-store.js';

const [mode, turnsArg, groupsArg, sizeArg] = process.argv.slice(2);
const turns = Number(turnsArg);
const groups = Number(groupsArg);
const size = Number(sizeArg);
if (!['store', 'writers', 'raw'].includes(mode ?? '') || !(turns > 0 && groups > 0 && size >= 0)) {
  console.error('usage: storage-append.js <store|writers|raw> <turns> <groups> <size>');
  process.exit(2);
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-append-'));
let stageMs = 0;
const cpu = process.cpuUsage();
const start = performance.now();
try {
  if (mode === 'store') {
    const store = await LevelLogStore.open(dir, { writeBufferSize: 16 * 1024 * 1024 });
    const data = Buffer.alloc(size, 3);
    const next = new Array<number>(groups + 1).fill(1);
    for (let t = 0; t < turns; t++) {
      const staged = performance.now();
      for (let g = 1; g <= groups; g++) store.append(g, [{ index: next[g]!++, term: 1, type: 0, data }]);
      stageMs += performance.now() - staged;
      await store.commit();
    }
    await store.close();
  } else if (mode === 'writers') {
    const store = await LevelLogStore.open(dir, { writeBufferSize: 16 * 1024 * 1024 });
    const data = Buffer.alloc(size, 3);
    const writer = async (g: number): Promise<void> => {
      for (let i = 1; i <= turns; i++) {
        store.append(g, [{ index: i, term: 1, type: 0, data }]);
        await store.commit();
      }
    };
    await Promise.all(Array.from({ length: groups }, (_, g) => writer(g + 1)));
    await store.close();
  } else {
    const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await db.open({ writeBufferSize: 16 * 1024 * 1024 });
    const value = Buffer.alloc(size + 12, 3);
    for (let t = 1; t <= turns; t++) {
      const staged = performance.now();
      const batch = db.batch();
      for (let g = 1; g <= groups; g++) batch.put(entryKey(g, t), value);
      stageMs += performance.now() - staged;
      await batch.write({ sync: true });
    }
    await db.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const wallMs = performance.now() - start;
const used = process.cpuUsage(cpu);
const n = turns * groups;
const us = (x: number): string => x.toFixed(2);
console.log(
  `${mode}: ${n} entries; per entry: staging ${us((stageMs * 1000) / n)} µs, wall ${us((wallMs * 1000) / n)} µs, CPU ${us((used.user + used.system) / n)} µs`,
);
