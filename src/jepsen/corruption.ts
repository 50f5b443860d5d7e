import { cp, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Rng } from './rng.js';

/**
 * Disk damage for the file-corruption faults, done to the data directory of a stopped broker:
 * flip bits in, or truncate, one of LevelDB's files (a table `.ldb`, the write-ahead `.log`, or a
 * `MANIFEST`), or put back a copy of the whole directory taken earlier (a rollback). The file,
 * the positions and the length come from the seeded source, so a seed replays the same damage
 * to the same files.
 */

/** What was done to a data directory. */
export interface Damage {
  /** The file damaged, relative to the data directory. */
  readonly file: string;
  /** Its size before the damage, in bytes. */
  readonly size: number;
  /** What was done, e.g. `flipped bits 9, 300` or `truncated to 812 of 4096 bytes`. */
  readonly detail: string;
}

/** LevelDB's data files: tables, write-ahead logs and manifests (not LOCK, CURRENT or its info LOG). */
const DATA_FILE = /^(\d+\.(ldb|sst|log)|MANIFEST-\d+)$/;

/** The non-empty LevelDB data files of `dir`, sorted by name. */
export async function levelDbFiles(dir: string): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (!DATA_FILE.test(name)) continue;
    const { size } = await stat(join(dir, name));
    if (size > 0) out.push({ name, size });
  }
  return out;
}

async function pickFile(dir: string, rng: Rng): Promise<{ name: string; size: number }> {
  const files = await levelDbFiles(dir);
  if (files.length === 0) throw new Error(`no LevelDB data file in ${dir}`);
  return rng.pick(files);
}

/** Flip `1..maxBits` distinct random bits of one random LevelDB file of `dir`. */
export async function flipBits(dir: string, rng: Rng, maxBits = 4): Promise<Damage> {
  const { name, size } = await pickFile(dir, rng);
  const count = Math.min(rng.between(1, maxBits), size * 8);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(rng.int(size * 8));
  const bits = [...chosen].sort((a, b) => a - b);
  const file = await open(join(dir, name), 'r+');
  try {
    for (const bit of bits) {
      const byte = Buffer.alloc(1);
      const position = Math.floor(bit / 8);
      await file.read(byte, 0, 1, position);
      byte[0] = byte[0]! ^ (1 << (bit % 8));
      await file.write(byte, 0, 1, position);
    }
  } finally {
    await file.close();
  }
  return { file: name, size, detail: `flipped bit${bits.length > 1 ? 's' : ''} ${bits.join(', ')}` };
}

/** Cut one random LevelDB file of `dir` to a random shorter length (possibly empty). */
export async function truncateFile(dir: string, rng: Rng): Promise<Damage> {
  const { name, size } = await pickFile(dir, rng);
  const length = rng.int(size);
  const file = await open(join(dir, name), 'r+');
  try {
    await file.truncate(length);
  } finally {
    await file.close();
  }
  return { file: name, size, detail: `truncated to ${length} of ${size} bytes` };
}

/** Copy the whole data directory `dir` to `copy` (replacing any earlier copy). */
export async function copyDataDir(dir: string, copy: string): Promise<void> {
  await rm(copy, { recursive: true, force: true });
  await cp(dir, copy, { recursive: true });
}

/** Replace the data directory `dir` by the copy made earlier with {@link copyDataDir}. */
export async function restoreDataDir(copy: string, dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await cp(copy, dir, { recursive: true });
}
