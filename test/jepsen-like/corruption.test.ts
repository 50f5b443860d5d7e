import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  copyDataDir,
  flipBits,
  levelDbFiles,
  restoreDataDir,
  truncateFile,
} from '../../src/jepsen/corruption.js';
import { summarizeCorruption } from '../../src/jepsen/corruption-summary.js';
import type { CorruptionNote, NemesisOp } from '../../src/jepsen/history.js';
import { Rng } from '../../src/jepsen/rng.js';

/** The corruption faults' damage, on a fake data directory: seeded, exact, and undone by a copy. */

const seed = Number(process.env.RAFTLOG_CORRUPTION_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`corruption test seed ${seed} (replay: RAFTLOG_CORRUPTION_SEED=${seed})`);

let base: string;
let dir: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'raftlog-corruption-'));
  dir = path.join(base, 'n1');
  await fakeDataDir(dir);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** LevelDB's file names with made-up contents, plus files that are not data. */
async function fakeDataDir(at: string): Promise<void> {
  await mkdir(at, { recursive: true });
  const rng = new Rng(1);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rng.int(256)));
  await writeFile(path.join(at, '000005.ldb'), bytes(3000));
  await writeFile(path.join(at, '000007.log'), bytes(5000));
  await writeFile(path.join(at, 'MANIFEST-000006'), bytes(200));
  await writeFile(path.join(at, '000008.log'), Buffer.alloc(0));
  await writeFile(path.join(at, 'CURRENT'), 'MANIFEST-000006\n');
  await writeFile(path.join(at, 'LOCK'), '');
  await writeFile(path.join(at, 'LOG'), 'info\n');
}

async function contents(at: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of ['000005.ldb', '000007.log', 'MANIFEST-000006', '000008.log', 'CURRENT', 'LOG'])
    out.set(name, await readFile(path.join(at, name)));
  return out;
}

function bitsDiffering(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++)
    for (let bit = 0; bit < 8; bit++) if (((a[i]! ^ b[i]!) >> bit) & 1) out.push(i * 8 + bit);
  return out;
}

describe('file-corruption damage', () => {
  it("lists only LevelDB's non-empty data files: tables, logs, manifests", async () => {
    expect((await levelDbFiles(dir)).map((f) => f.name)).toEqual([
      '000005.ldb',
      '000007.log',
      'MANIFEST-000006',
    ]);
  });

  it('flips exactly the bits it reports, in one data file, and the same seed flips the same bits', async () => {
    const before = await contents(dir);
    const damage = await flipBits(dir, new Rng(seed));
    const after = await contents(dir);
    for (const [name, bytes] of before) {
      if (name !== damage.file) expect(after.get(name)!.equals(bytes)).toBe(true);
    }
    const flipped = bitsDiffering(before.get(damage.file)!, after.get(damage.file)!);
    expect(flipped.length).toBeGreaterThanOrEqual(1);
    expect(flipped.length).toBeLessThanOrEqual(4);
    expect(damage.detail).toBe(`flipped bit${flipped.length > 1 ? 's' : ''} ${flipped.join(', ')}`);

    const again = path.join(base, 'again');
    await fakeDataDir(again);
    expect(await flipBits(again, new Rng(seed))).toEqual(damage);
    expect((await contents(again)).get(damage.file)!.equals(after.get(damage.file)!)).toBe(true);
  });

  it('truncates one data file to a shorter prefix, the same for the same seed', async () => {
    const before = await contents(dir);
    const damage = await truncateFile(dir, new Rng(seed));
    const after = (await contents(dir)).get(damage.file)!;
    expect(after.length).toBeLessThan(damage.size);
    expect(before.get(damage.file)!.subarray(0, after.length).equals(after)).toBe(true);
    expect(damage.detail).toBe(`truncated to ${after.length} of ${damage.size} bytes`);

    const again = path.join(base, 'again');
    await fakeDataDir(again);
    expect(await truncateFile(again, new Rng(seed))).toEqual(damage);
  });

  it('a copy taken earlier puts the whole directory back as it was, dropping later files', async () => {
    const before = await contents(dir);
    const copy = path.join(base, 'n1.earlier');
    await copyDataDir(dir, copy);
    await flipBits(dir, new Rng(seed));
    await writeFile(path.join(dir, '000009.ldb'), 'written later');
    await restoreDataDir(copy, dir);
    expect(await contents(dir)).toEqual(before);
    expect((await levelDbFiles(dir)).map((f) => f.name)).not.toContain('000009.ldb');
  });
});

describe('corruption summary', () => {
  const note = (index: number, fault: number, n: Partial<CorruptionNote>): NemesisOp => ({
    index,
    time: index,
    type: 'info',
    process: -1,
    f: 'fault',
    value: 'note',
    fault,
    corruption: { broker: 1, kind: 'bitflip', damage: 'x', outcome: 'started', ...n },
  });

  it('counts each fault by its last note', () => {
    const summary = summarizeCorruption([
      note(0, 1, { outcome: 'refused', repair: 'restored' }),
      note(1, 2, { outcome: 'started' }),
      note(2, 2, { outcome: 'storage-failed' }),
      note(3, 3, { kind: 'rollback', outcome: 'started' }),
      { index: 4, time: 4, type: 'info', process: -1, f: 'fault', value: 'kill -9 2', fault: 4 },
    ]);
    expect(summary.faults.map((f) => [f.fault, f.outcome, f.op])).toEqual([
      [1, 'refused', 0],
      [2, 'storage-failed', 2],
      [3, 'started', 3],
    ]);
    expect(summary).toMatchObject({ refused: 1, storageFailed: 1, undetected: 1, notReady: 0 });
  });
});
