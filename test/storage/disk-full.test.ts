import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { buildChild, type ChildBuild } from './child-build.js';
import { FILL_ENTRY_BYTES, fillEntry } from './crash-pattern.js';

/** Size of the filesystem the child fills. */
const TMPFS = '4m';

let build: ChildBuild;
let dir: string | undefined;
let child: ChildProcess | undefined;

beforeAll(async () => {
  build = await buildChild();
});

afterAll(async () => {
  await build?.remove();
});

afterEach(async () => {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGKILL');
  }
  child = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Run {
  readonly lines: string[];
  readonly stderr: string;
  readonly exitCode: number | null;
}

/**
 * Runs the disk-full child on a fresh 4 MiB tmpfs. The tmpfs is mounted in a mount namespace of
 * the child's own (`unshare --mount`, inside a user namespace so no privilege is needed where
 * unprivileged user namespaces are allowed): it exists only while the child lives, so nothing
 * is left mounted whatever happens to the test, and `afterEach` kills the child by PID.
 */
async function runChild(mountPoint: string, copyTo: string): Promise<Run> {
  const script = 'mount -t tmpfs -o "size=$1" tmpfs "$2" && exec "$3" "$4" "$2/data" "$5"';
  const proc = spawn(
    'unshare',
    [
      '--user',
      '--map-root-user',
      '--mount',
      'sh',
      '-c',
      script,
      'sh',
      TMPFS,
      mountPoint,
      process.execPath,
      build.script('test/storage/disk-full-child.ts'),
      copyTo,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child = proc;
  const lines: string[] = [];
  let stderr = '';
  createInterface({ input: proc.stdout! }).on('line', (line) => lines.push(line));
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exitCode = await new Promise<number | null>((resolve) => {
    // `unshare` itself missing: reported like a mount that is not permitted.
    proc.once('error', (err) => {
      stderr += err.message;
      resolve(null);
    });
    proc.once('close', (code) => resolve(code));
  });
  return { lines, stderr, exitCode };
}

describe('LevelLogStore on a filesystem that fills up', () => {
  it('fails the commit with STORAGE_FAILED (ENOSPC), acknowledges nothing more, loses nothing acknowledged', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-disk-full-'));
    const mountPoint = path.join(dir, 'mnt');
    const copy = path.join(dir, 'copy');
    await mkdir(mountPoint);
    const run = await runChild(mountPoint, copy);
    if (!run.lines.includes('open')) {
      expect.fail(
        `could not mount a ${TMPFS} tmpfs in a private mount namespace (unshare --user --map-root-user --mount, then mount -t tmpfs): this test needs user namespaces or root. Exit code ${run.exitCode}, stderr: ${run.stderr}`,
      );
    }
    expect(run.exitCode, `the child failed: ${run.stderr}`).toBe(0);

    const acked = new Map<number, number>();
    for (const line of run.lines) {
      const [word, group, index] = line.split(' ');
      if (word === 'ack') acked.set(Number(group), Number(index));
    }
    const report = (word: string): string => run.lines.find((l) => l.startsWith(`${word} `)) ?? '';
    // Megabytes were acknowledged before the disk filled; then the write failed, typed, with the
    // disk's own error as its cause, and the store refused every later write and commit.
    const ackedBytes = [...acked.values()].reduce((sum, n) => sum + n * FILL_ENTRY_BYTES, 0);
    console.log(`disk-full test: ${ackedBytes} bytes acknowledged, then: ${report('failed')}`);
    expect(ackedBytes).toBeGreaterThan(2 * 1024 * 1024);
    expect(report('failed')).toMatch(/^failed STORAGE_FAILED .*(No space left on device|ENOSPC)/i);
    expect(report('refused')).toBe('refused STORAGE_FAILED STORAGE_FAILED');
    const afterFailure = run.lines.slice(run.lines.indexOf(report('failed')) + 1);
    expect(afterFailure.filter((l) => l.startsWith('ack'))).toEqual([]);
    expect(run.lines).toContain('copied');

    // The files as the full disk left them: every acknowledged entry is there and intact, and
    // the failed commit (one entry per group) is there whole or not at all.
    const store = await LevelLogStore.open(copy);
    try {
      expect(store.damagedGroups()).toEqual([]);
      const extra = new Set<number>();
      for (const [group, index] of acked) {
        const last = store.group(group).lastIndex();
        extra.add(last - index);
        const entries = await store.readEntries(group, 1, last + 1, Number.MAX_SAFE_INTEGER);
        expect(entries.map((e) => e.index)).toEqual(Array.from({ length: last }, (_, k) => k + 1));
        for (const e of entries) {
          const expected = fillEntry(group, e.index);
          const intact = e.term === expected.term && Buffer.from(e.data).equals(expected.data);
          if (!intact) expect.fail(`group ${group} entry ${e.index} is not what was written`);
        }
      }
      expect([[0], [1]]).toContainEqual([...extra]);
    } finally {
      await store.close();
    }
    // Reopened in place once space was freed, it held them too and took new writes.
    expect(Number(report('reopened').split(' ')[1])).toBeGreaterThanOrEqual(acked.get(1)!);
  });
});
