/**
 * Storage benchmark (`npm run bench:storage`): the LevelDB log store against the raw disk and raw
 * `level` batches of the same shape. Prints Markdown tables (pasted into BENCHMARKS.md).
 *
 * Environment: RAFTLOG_BENCH_DIR (default: the OS temp dir), RAFTLOG_BENCH_SECONDS per
 * workload of each comparison (default 2, run as 8 slices alternating between the workloads),
 * RAFTLOG_BENCH_RECOVERY_ENTRIES (default 1,000,000).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import type { Entry } from '../src/raft/types.js';
import { entryKey } from '../src/storage/level-keys.js';
import { LevelLogStore } from '../src/storage/level-log-store.js';
import { benchArgs } from './bench-common.js';

benchArgs(
  `usage: npm run bench:storage

Takes no options. Environment: RAFTLOG_BENCH_DIR (default: the OS temp dir),
RAFTLOG_BENCH_SECONDS per workload of each comparison (default 2), RAFTLOG_BENCH_RECOVERY_ENTRIES
(default 1000000).
`,
  { options: {}, strict: true },
);

const ROOT = process.env.RAFTLOG_BENCH_DIR ?? os.tmpdir();
const SECONDS = Number(process.env.RAFTLOG_BENCH_SECONDS ?? 2);
const RECOVERY_ENTRIES = Number(process.env.RAFTLOG_BENCH_RECOVERY_ENTRIES ?? 1_000_000);
const SLICES = 8;
const SIZES = [100, 1024, 100 * 1024];
const GROUPS = [1, 10, 100, 1000];
const WRITE_BUFFER = 16 * 1024 * 1024;

interface Rate {
  readonly entriesPerSec: number;
  readonly mbPerSec: number;
  readonly entriesPerBatch: number;
  /** CPU time of the whole process (all threads) per entry, in microseconds. */
  readonly cpuUsPerEntry: number;
}

async function withDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(ROOT, 'raftlog-bench-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function rate(t: Tally, size: number): Rate {
  return {
    entriesPerSec: (t.entries * 1000) / t.ms,
    mbPerSec: (t.entries * size * 1000) / t.ms / 1e6,
    entriesPerBatch: t.entries / Math.max(t.batches, 1),
    cpuUsPerEntry: t.cpuUs / Math.max(t.entries, 1),
  };
}

/** Runs `slice` and adds what it did, its wall time and the process's CPU time to `into`. */
async function measure(
  into: Tally,
  slice: () => Promise<{ entries: number; batches: number }>,
): Promise<void> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const done = await slice();
  into.ms += performance.now() - start;
  const used = process.cpuUsage(cpu);
  into.cpuUs += used.user + used.system;
  into.entries += done.entries;
  into.batches += done.batches;
}

/** Small appends, each followed by fdatasync: the disk's rate of durable writes. */
function rawFdatasync(dir: string): number {
  const fd = openSync(path.join(dir, 'fdatasync'), 'w');
  const chunk = Buffer.alloc(100, 1);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    writeSync(fd, chunk);
    fdatasyncSync(fd);
    n++;
  }
  const ms = performance.now() - start;
  closeSync(fd);
  return (n * 1000) / ms;
}

/** Sequential 1 MiB writes, each followed by fdatasync: the disk's durable bandwidth. */
function rawSequential(dir: string): number {
  const fd = openSync(path.join(dir, 'sequential'), 'w');
  const chunk = Buffer.alloc(1024 * 1024, 7);
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    writeSync(fd, chunk);
    fdatasyncSync(fd);
    bytes += chunk.length;
  }
  const ms = performance.now() - start;
  closeSync(fd);
  return (bytes * 1000) / ms / 1e6;
}

interface Tally {
  entries: number;
  batches: number;
  ms: number;
  cpuUs: number;
}

/** A workload that can run for a slice of time, again and again, on its own database. */
interface Workload {
  run(ms: number): Promise<{ entries: number; batches: number }>;
  close(): Promise<void>;
}

/**
 * The store under one of two shapes of writers:
 * - `host`: as the Raft host drives it: each turn appends one entry to every group, then one
 *   `commit()` for all of them, awaited before the next turn;
 * - `writers`: one independent writer per group, appending one entry and awaiting its own
 *   `commit()`, over and over; group commit coalesces them.
 */
async function storeWorkload(
  dir: string,
  size: number,
  groups: number,
  shape: 'host' | 'writers',
): Promise<Workload> {
  let batches = 0;
  const store = await LevelLogStore.open(dir, {
    writeBufferSize: WRITE_BUFFER,
    beforeWrite: () => {
      batches++;
    },
  });
  const data = Buffer.alloc(size, 3);
  const next = new Array<number>(groups + 1).fill(1);
  const append = (group: number): void =>
    store.append(group, [{ index: next[group]!++, term: 1, type: 0, data }]);
  const run = async (ms: number): Promise<{ entries: number; batches: number }> => {
    const before = batches;
    let entries = 0;
    if (shape === 'host') {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        for (let g = 1; g <= groups; g++) append(g);
        await store.commit();
        entries += groups;
      }
    } else {
      // The writers stop on a flag the clock sets: reading the clock in every writer's turn cost
      // ~400 instructions per entry, a sixth of the store's own main-thread work, where the host
      // loop and raw `level` read it once per batch.
      let running = true;
      const timer = setTimeout(() => {
        running = false;
      }, ms);
      const writer = async (group: number): Promise<void> => {
        while (running) {
          append(group);
          await store.commit();
          entries++;
        }
      };
      await Promise.all(Array.from({ length: groups }, (_, g) => writer(g + 1)));
      clearTimeout(timer);
    }
    return { entries, batches: batches - before };
  };
  return { run, close: () => store.close() };
}

/**
 * Raw `level`: synced batches of `groups` puts of `size` bytes, one after another, as an array
 * batch (`db.batch(ops)`) or a chained one (`db.batch().put(…).write()`, what the store uses).
 */
async function rawWorkload(
  dir: string,
  size: number,
  groups: number,
  form: 'array' | 'chained',
): Promise<Workload> {
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open({ writeBufferSize: WRITE_BUFFER });
  const value = Buffer.alloc(size + 12, 3);
  let index = 1;
  const run = async (ms: number): Promise<{ entries: number; batches: number }> => {
    let entries = 0;
    let batches = 0;
    const start = performance.now();
    while (performance.now() - start < ms) {
      if (form === 'array') {
        const ops = [];
        for (let g = 1; g <= groups; g++) ops.push({ type: 'put' as const, key: entryKey(g, index), value });
        await db.batch(ops, { sync: true });
      } else {
        const batch = db.batch();
        for (let g = 1; g <= groups; g++) batch.put(entryKey(g, index), value);
        await batch.write({ sync: true });
      }
      index++;
      entries += groups;
      batches++;
    }
    return { entries, batches };
  };
  return { run, close: () => db.close() };
}

interface Comparison {
  readonly host: Rate;
  readonly writers: Rate;
  /** Raw `level`, chained batches (the store's own form, and the faster one). */
  readonly raw: Rate;
  /** Raw `level`, array batches. */
  readonly rawArray: Rate;
}

/**
 * The store (both shapes) and raw `level` on the same shape, in alternating slices so that all
 * three see the same conditions of a shared disk and machine.
 */
async function compare(size: number, groups: number): Promise<Comparison> {
  const dirs: string[] = [];
  try {
    for (let k = 0; k < 4; k++) dirs.push(await mkdtemp(path.join(ROOT, 'raftlog-bench-')));
    const workloads = [
      await storeWorkload(dirs[0]!, size, groups, 'host'),
      await storeWorkload(dirs[1]!, size, groups, 'writers'),
      await rawWorkload(dirs[2]!, size, groups, 'chained'),
      await rawWorkload(dirs[3]!, size, groups, 'array'),
    ];
    const totals = workloads.map((): Tally => ({ entries: 0, batches: 0, ms: 0, cpuUs: 0 }));
    for (let slice = 0; slice < SLICES; slice++) {
      for (const [k, w] of workloads.entries())
        await measure(totals[k]!, () => w.run((SECONDS * 1000) / SLICES));
    }
    for (const w of workloads) await w.close();
    const [host, writers, raw, rawArray] = totals.map((t) => rate(t, size));
    return { host: host!, writers: writers!, raw: raw!, rawArray: rawArray! };
  } finally {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

/** Time to open a store holding `total` entries of 100 B in 1,000 groups (and to write it). */
async function recovery(total: number): Promise<{ writeMs: number; openMs: number; groups: number }> {
  return withDir(async (dir) => {
    const groups = 1000;
    const perGroup = Math.ceil(total / groups);
    const data = Buffer.alloc(100, 5);
    const startWrite = performance.now();
    const store = await LevelLogStore.open(dir, { writeBufferSize: WRITE_BUFFER });
    for (let from = 1; from <= perGroup; from += 100) {
      for (let g = 1; g <= groups; g++) {
        const entries: Entry[] = [];
        for (let i = from; i < Math.min(from + 100, perGroup + 1); i++) {
          entries.push({ index: i, term: 1 + Math.floor(i / 1000), type: 0, data });
        }
        store.append(g, entries);
        store.setHardState(g, { term: 1, vote: 1, commit: from });
      }
      await store.commit();
    }
    await store.close();
    const writeMs = performance.now() - startWrite;
    const startOpen = performance.now();
    const reopened = await LevelLogStore.open(dir);
    const openMs = performance.now() - startOpen;
    const found = reopened.groups().reduce((n, g) => n + reopened.group(g).lastIndex(), 0);
    if (found !== perGroup * groups)
      throw new Error(`recovered ${found} entries, wrote ${perGroup * groups}`);
    await reopened.close();
    return { writeMs, openMs, groups };
  });
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function sizeName(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

function describeMachine(): string {
  let fs = '?';
  try {
    fs = execFileSync('df', ['-T', ROOT], { encoding: 'utf8' }).trim().split('\n').at(-1)!.split(/\s+/)[1]!;
  } catch {
    // `df` is only for the report.
  }
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, Node ${process.version}, ${ROOT} on ${fs}, load average ${load}`;
}

async function main(): Promise<void> {
  console.log(`Machine: ${describeMachine()}; ${SECONDS} s per measurement.\n`);
  const disk = await withDir(async (dir) => ({
    fdatasync: rawFdatasync(dir),
    sequential: rawSequential(dir),
  }));
  console.log(
    `Raw disk: ${fmt(disk.fdatasync)} fdatasync/s (100 B appends); ${fmt(disk.sequential)} MB/s sequential (1 MiB writes, fdatasync each).\n`,
  );

  console.log(
    '| entry | groups | store, host loop: entries/s | MB/s | store, writers: entries/s | MB/s | entries/batch | raw level, chained: entries/s | MB/s | raw level, array: entries/s | host / raw | writers / raw | CPU µs/entry: host, writers, raw chained, raw array |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const results = new Map<string, Comparison>();
  const pct = (a: Rate, b: Rate): string => `${fmt((100 * a.entriesPerSec) / b.entriesPerSec)}%`;
  for (const size of SIZES) {
    for (const groups of GROUPS) {
      const r = await compare(size, groups);
      results.set(`${size}/${groups}`, r);
      const cpu = [r.host, r.writers, r.raw, r.rawArray].map((x) => fmt(x.cpuUsPerEntry, 1)).join(', ');
      console.log(
        `| ${sizeName(size)} | ${fmt(groups)} | ${fmt(r.host.entriesPerSec)} | ${fmt(r.host.mbPerSec, 1)} | ${fmt(r.writers.entriesPerSec)} | ${fmt(r.writers.mbPerSec, 1)} | ${fmt(r.writers.entriesPerBatch, 1)} | ${fmt(r.raw.entriesPerSec)} | ${fmt(r.raw.mbPerSec, 1)} | ${fmt(r.rawArray.entriesPerSec)} | ${pct(r.host, r.raw)} | ${pct(r.writers, r.raw)} | ${cpu} |`,
      );
    }
  }

  const all = [...results.values()];
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const hostRatios = all.map((r) => r.host.entriesPerSec / r.raw.entriesPerSec);
  const writerRatios = all.map((r) => r.writers.entriesPerSec / r.raw.entriesPerSec);
  const one = results.get('100/1')!;
  const many = results.get('100/1000')!;
  const large = GROUPS.map((g) => results.get(`${100 * 1024}/${g}`)!);
  const bestLarge = Math.max(...large.map((r) => Math.max(r.host.mbPerSec, r.writers.mbPerSec)));
  console.log('\nTargets:');
  console.log(
    `- group commit, 100 B entries, 1,000 groups against one fsync per entry (1 group): host loop ${fmt(many.host.entriesPerSec / one.host.entriesPerSec, 1)}×, writers ${fmt(many.writers.entriesPerSec / one.writers.entriesPerSec, 1)}× (target ≥ 20×); writers against the raw fdatasync rate: ${fmt(many.writers.entriesPerSec / disk.fdatasync, 1)}×`,
  );
  console.log(
    `- store / raw level (chained batches), same shape: host loop worst ${fmt(100 * Math.min(...hostRatios))}%, median ${fmt(100 * median(hostRatios))}%; writers worst ${fmt(100 * Math.min(...writerRatios))}%, median ${fmt(100 * median(writerRatios))}% (target ≥ 80%)`,
  );
  console.log(
    `- 100 KiB entries, best of the group counts: ${fmt(bestLarge)} MB/s = ${fmt((100 * bestLarge) / disk.sequential)}% of raw sequential fsync'd bandwidth (target ≥ 50%)`,
  );

  const rec = await recovery(RECOVERY_ENTRIES);
  console.log(
    `\nRecovery: opening a store of ${fmt(RECOVERY_ENTRIES)} entries of 100 B in ${fmt(rec.groups)} groups took ${fmt(rec.openMs)} ms (writing them took ${fmt(rec.writeMs / 1000, 1)} s).`,
  );
}

await main();
