import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { buildChild, type ChildBuild } from './child-build.js';
import { CRASH_GROUPS, crashEntry, mulberry32 } from './crash-pattern.js';

const RUNS = Number(process.env.RAFTLOG_CRASH_RUNS ?? 24);
const SEED = Number(process.env.RAFTLOG_CRASH_SEED ?? Math.floor(Math.random() * 0x7fff_ffff));

let build: ChildBuild;
let dir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  build = await buildChild();
});

afterAll(async () => {
  await build?.remove();
});

afterEach(async () => {
  for (const child of children) killChild(child);
  children.clear();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    process.kill(child.pid, 'SIGKILL');
  }
}

interface Child {
  readonly process: ChildProcess;
  /** Resolves once the child exited and every line it printed was handed to the listeners. */
  readonly exited: Promise<void>;
  /** Calls `listener` with each line the child prints from now on. */
  onLine(listener: (line: string) => void): void;
  /** Resolves once the child printed `line`; rejects if it exits first. */
  printed(line: string): Promise<void>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, [build.script('test/storage/crash-child.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(proc);
  const listeners: Array<(line: string) => void> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    for (const listener of listeners) listener(line);
  });
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  return {
    process: proc,
    exited,
    onLine: (listener) => listeners.push(listener),
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        listeners.push((l) => l === line && resolve());
        exited.then(() => reject(new Error(`child exited before printing "${line}"`)));
      }),
  };
}

async function stopChild(child: Child): Promise<void> {
  killChild(child.process);
  await child.exited;
  children.delete(child.process);
}

/**
 * Lets the child write for a random while, then kills it mid-flight. In half of the runs the test
 * stops reading the child's output meanwhile, as a test process on a loaded machine falls behind:
 * the pipe fills, and a child that went on writing to disk past lines the pipe had not taken
 * would show the test writes it never heard of.
 */
async function letWriteThenKill(child: Child, random: () => number): Promise<void> {
  const slowReader = random() < 0.5;
  const stdout = child.process.stdout!;
  if (slowReader) stdout.pause();
  await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * (slowReader ? 1000 : 250))));
  killChild(child.process);
  stdout.resume();
  await child.exited;
  children.delete(child.process);
}

/** Checks that every acknowledged entry is present and intact, and nothing is half-written. */
async function verify(store: LevelLogStore, acked: Map<number, number>, context: string): Promise<void> {
  expect(store.damagedGroups(), context).toEqual([]);
  for (let group = 1; group <= CRASH_GROUPS; group++) {
    const log = store.group(group);
    const last = log.lastIndex();
    expect(last, `${context}: group ${group} lost acknowledged entries`).toBeGreaterThanOrEqual(
      acked.get(group) ?? 0,
    );
    expect(log.initialState().hardState.commit, context).toBeLessThanOrEqual(last);
    let term = log.term(log.firstIndex() - 1);
    for (let lo = log.firstIndex(); lo <= last; ) {
      const got = await store.readEntries(group, lo, last + 1, 1 << 20);
      for (const e of got) {
        const expected = crashEntry(group, e.index, e.term);
        const intact = e.type === expected.type && Buffer.from(e.data).equals(expected.data);
        if (!intact || e.term < term || log.term(e.index) !== e.term) {
          expect.fail(`${context}: group ${group} entry ${e.index} (term ${e.term}) is not what was written`);
        }
        term = e.term;
      }
      lo += got.length;
    }
  }
}

describe('LevelLogStore under SIGKILL', () => {
  it(`keeps every acknowledged entry intact across ${RUNS} kills (seed ${SEED})`, async () => {
    console.log(`crash test: seed=${SEED} runs=${RUNS} (replay: RAFTLOG_CRASH_SEED=${SEED})`);
    dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-crash-'));
    const random = mulberry32(SEED);
    const acked = new Map<number, number>();
    let totalAcks = 0;
    for (let run = 1; run <= RUNS; run++) {
      const context = `seed ${SEED}, run ${run}`;
      const child = startChild(['append', dir, String(Math.floor(random() * 0x7fff_ffff))]);
      child.onLine((line) => {
        const [word, group, index] = line.split(' ');
        if (word !== 'ack') return;
        totalAcks++;
        acked.set(Number(group), Math.max(acked.get(Number(group)) ?? 0, Number(index)));
      });
      await child.printed('open');
      await letWriteThenKill(child, random);

      const store = await LevelLogStore.open(dir);
      try {
        await verify(store, acked, context);
      } finally {
        await store.close();
      }
    }
    console.log(`crash test: ${totalAcks} acknowledged commits survived ${RUNS} kills`);
    expect(totalAcks).toBeGreaterThan(0);
  });
});

/** A group's log as the term of each entry from index 1 (the overwrite test never compacts). */
type Terms = number[];

/** One `write` the child announced: the log becomes its first `from - 1` entries and `count` of `term`. */
interface Write {
  readonly group: number;
  readonly from: number;
  readonly term: number;
  readonly count: number;
}

function applyWrites(logs: Map<number, Terms>, writes: readonly Write[]): Map<number, Terms> {
  const out = new Map(logs);
  for (const w of writes) {
    const log = (out.get(w.group) ?? []).slice(0, w.from - 1);
    for (let k = 0; k < w.count; k++) log.push(w.term);
    out.set(w.group, log);
  }
  return out;
}

/** Reads every group's log from the store, failing on any entry that is not intact. */
async function readLogs(store: LevelLogStore, context: string): Promise<Map<number, Terms>> {
  expect(store.damagedGroups(), context).toEqual([]);
  const logs = new Map<number, Terms>();
  for (let group = 1; group <= CRASH_GROUPS; group++) {
    const log = store.group(group);
    expect(log.firstIndex(), context).toBe(1);
    const terms: Terms = [];
    for (let lo = 1; lo <= log.lastIndex(); ) {
      const got = await store.readEntries(group, lo, log.lastIndex() + 1, 1 << 20);
      for (const e of got) {
        const expected = crashEntry(group, e.index, e.term);
        const intact = e.type === expected.type && Buffer.from(e.data).equals(expected.data);
        if (!intact || log.term(e.index) !== e.term) {
          expect.fail(`${context}: group ${group} entry ${e.index} (term ${e.term}) is not what was written`);
        }
        terms.push(e.term);
      }
      lo += got.length;
    }
    logs.set(group, terms);
  }
  return logs;
}

/** Per group that differs: where `found` departs from the acknowledged and the in-flight logs. */
function logDifferences(
  found: Map<number, Terms>,
  acked: Map<number, Terms>,
  inFlight: Map<number, Terms>,
): string {
  const firstDiff = (a: Terms, b: Terms): number => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i + 1;
    return 0;
  };
  const out: string[] = [];
  for (let g = 1; g <= CRASH_GROUPS; g++) {
    const f = found.get(g) ?? [];
    const a = acked.get(g) ?? [];
    const p = inFlight.get(g) ?? [];
    const da = firstDiff(f, a);
    const dp = firstDiff(f, p);
    if (da === 0 && dp === 0) continue;
    const around = (t: Terms, i: number) => JSON.stringify(t.slice(Math.max(0, i - 3), i + 5));
    out.push(
      `group ${g}: found ${f.length} entries, acknowledged ${a.length}, in flight ${p.length}; ` +
        `differs from acknowledged at index ${da} (found ${around(f, da - 1)} vs ${around(a, da - 1)}), ` +
        `from in flight at index ${dp} (vs ${around(p, dp - 1)})`,
    );
  }
  return out.join('; ');
}

const sameLogs = (a: Map<number, Terms>, b: Map<number, Terms>): boolean =>
  Array.from({ length: CRASH_GROUPS }, (_, k) => k + 1).every(
    (g) => JSON.stringify(a.get(g) ?? []) === JSON.stringify(b.get(g) ?? []),
  );

describe('LevelLogStore under SIGKILL, overwriting conflicting suffixes', () => {
  it(`shows exactly the last acknowledged logs, or those of the one commit in flight, across ${RUNS} kills (seed ${SEED})`, async () => {
    console.log(`overwrite crash test: seed=${SEED} runs=${RUNS} (replay: RAFTLOG_CRASH_SEED=${SEED})`);
    dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-overwrite-'));
    const random = mulberry32(SEED);
    let acked = new Map<number, Terms>();
    let acks = 0;
    let overwrites = 0;
    let inFlightFound = 0;
    for (let run = 1; run <= RUNS; run++) {
      const context = `seed ${SEED}, run ${run}`;
      // Writes announced since the last acknowledgement: the commit in flight when killed.
      let pending: Write[] = [];
      const child = startChild(['overwrite', dir, String(Math.floor(random() * 0x7fff_ffff))]);
      child.onLine((line) => {
        const [word, ...args] = line.split(' ');
        if (word === 'write') {
          const [group, from, term, count] = args.map(Number) as [number, number, number, number];
          if (from <= (applyWrites(acked, pending).get(group)?.length ?? 0)) overwrites++;
          pending.push({ group, from, term, count });
        } else if (word === 'ack') {
          acked = applyWrites(acked, pending);
          pending = [];
          acks++;
        }
      });
      await child.printed('open');
      await letWriteThenKill(child, random);

      const store = await LevelLogStore.open(dir);
      try {
        const found = await readLogs(store, context);
        const inFlight = applyWrites(acked, pending);
        // A commit is one LevelDB batch: all of its writes are there, or none.
        if (sameLogs(found, acked)) {
          acked = found;
        } else if (sameLogs(found, inFlight)) {
          acked = found;
          inFlightFound++;
        } else {
          expect.fail(
            `${context}: the logs are neither the acknowledged ones nor those of the commit in flight ` +
              `(pending writes ${JSON.stringify(pending)}): ${logDifferences(found, acked, inFlight)}`,
          );
        }
      } finally {
        await store.close();
      }
    }
    console.log(
      `overwrite crash test: ${acks} acknowledged commits, ${overwrites} suffix overwrites, ${inFlightFound} kills caught a commit written but not yet acknowledged`,
    );
    expect(acks).toBeGreaterThan(0);
    expect(overwrites).toBeGreaterThan(0);
  });
});

describe('data directory lock', () => {
  it('refuses a data directory that another process has open, naming it', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-lock-'));
    const holder = startChild(['hold', dir]);
    await holder.printed('ready');
    const err = await LevelLogStore.open(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isErrorCode(err, 'DATA_DIR_LOCKED')).toBe(true);
    expect((err as Error).message).toContain(path.resolve(dir));
    await stopChild(holder);
    // Once the holder is gone, the directory opens.
    const store = await LevelLogStore.open(dir);
    await store.close();
  });
});
