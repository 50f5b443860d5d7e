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
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
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
      // Let it write for a random while, then kill it mid-flight.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 250)));
      await stopChild(child);

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
