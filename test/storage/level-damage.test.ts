import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rm, stat, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { DAMAGE_MARKER } from '../../src/storage/level-damage.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';

/**
 * Damage done to LevelDB's own files while the store is closed, as a failing disk would: the
 * store must refuse the directory (naming it) or report the damaged group, never serve it.
 */

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-damage-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Entries 1..n of group 1, one synced batch each; `compressible` data lets LevelDB compress blocks. */
async function write(n: number, compressible: boolean): Promise<void> {
  const store = await LevelLogStore.open(dir);
  for (let i = 1; i <= n; i++) {
    const data = compressible ? Buffer.from(`entry ${i} `.repeat(40)) : randomBytes(400);
    store.append(1, [{ term: 1, index: i, type: 0, data }]);
    store.setHardState(1, { term: 1, vote: 1, commit: i });
    await store.commit();
  }
  await store.close();
}

/** Open and close again: LevelDB rewrites the write-ahead log into a table while opening. */
async function reopen(): Promise<void> {
  await (await LevelLogStore.open(dir)).close();
}

async function fileOf(pattern: RegExp): Promise<string> {
  const name = (await readdir(dir)).find((f) => pattern.test(f));
  if (name === undefined) throw new Error(`no file matching ${pattern} in ${dir}`);
  return path.join(dir, name);
}

/** Invert `count` bytes from `fraction` of the file's size on. */
async function flipBytesAt(file: string, fraction: number, count = 1): Promise<void> {
  const { size } = await stat(file);
  const handle = await open(file, 'r+');
  try {
    const bytes = Buffer.alloc(count);
    const at = Math.floor(size * fraction);
    await handle.read(bytes, 0, count, at);
    for (let i = 0; i < count; i++) bytes[i] = bytes[i]! ^ 0xff;
    await handle.write(bytes, 0, count, at);
  } finally {
    await handle.close();
  }
}

async function openError(options?: Parameters<typeof LevelLogStore.open>[1]): Promise<RaftlogError> {
  const store = await LevelLogStore.open(dir, options).catch((err: unknown) => err);
  if (store instanceof LevelLogStore) {
    await store.close();
    throw new Error('the store opened');
  }
  expect(store).toBeInstanceOf(RaftlogError);
  return store as RaftlogError;
}

describe('LevelLogStore: damaged LevelDB files', () => {
  it('a write-ahead log record dropped by LevelDB: refused with STORAGE_CORRUPT, and again on the next open', async () => {
    await write(200, false);
    await flipBytesAt(await fileOf(/^\d+\.log$/), 0.5);
    const first = await openError();
    expect(first.code).toBe('STORAGE_CORRUPT');
    expect(first.message).toContain(dir);
    expect(first.message).toMatch(/dropped \d+ bytes of its write-ahead log/);
    // LevelDB has rewritten the log by now: only the marker remembers the damage.
    const again = await openError();
    expect(again.code).toBe('STORAGE_CORRUPT');
    expect(again.message).toContain(DAMAGE_MARKER);
  });

  it('a truncated table fails the open with STORAGE_CORRUPT naming the directory', async () => {
    await write(100, false);
    await reopen();
    const table = await fileOf(/^\d+\.ldb$/);
    await truncate(table, Math.floor((await stat(table)).size / 2));
    const err = await openError();
    expect(err.code).toBe('STORAGE_CORRUPT');
    expect(err.message).toContain(`data directory ${dir} is damaged`);
  });

  it('a damaged MANIFEST fails the open with STORAGE_CORRUPT naming the directory', async () => {
    await write(10, false);
    await reopen();
    await flipBytesAt(await fileOf(/^MANIFEST-\d+$/), 0.5);
    const err = await openError();
    expect(err.code).toBe('STORAGE_CORRUPT');
    expect(err.message).toContain(`data directory ${dir} is damaged`);
  });

  it('a table block that no longer reads back damages its group when a scan meets it', async () => {
    await write(400, true);
    await reopen();
    // A run of bytes, not one: a single byte may fall on a block trailer, which LevelDB does not
    // check (verify_checksums is off), or on an old version of a record no read returns.
    await flipBytesAt(await fileOf(/^\d+\.ldb$/), 0.5, 16);
    // Opening reads only the first and last entries: the damage in the middle shows on a scan.
    const store = await LevelLogStore.open(dir);
    try {
      expect(store.damagedGroups()).toEqual([]);
      const err = await store.readEntries(1, 1, 401, Number.MAX_SAFE_INTEGER).catch((e: unknown) => e);
      expect((err as RaftlogError).code).toBe('STORAGE_CORRUPT');
      expect(store.damagedGroups()).toEqual([1]);
    } finally {
      await store.close();
    }
  });
});
