import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isErrorCode } from '../../src/errors.js';
import type { Entry } from '../../src/raft/types.js';
import { entryKey, FORMAT_KEY, Kind, recordKey } from '../../src/storage/level-keys.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { encodeNumber } from '../../src/storage/record-codec.js';
import { entries, entriesEventually } from './log-store-conformance.js';

let dir: string;
const open: LevelLogStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-faults-'));
});

afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function openStore(options?: Parameters<typeof LevelLogStore.open>[1]): Promise<LevelLogStore> {
  const store = await LevelLogStore.open(dir, options);
  open.push(store);
  return store;
}

/** Edits the database directly, as a failing disk or an older/newer program would. */
async function editDb(edit: (db: Level<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

async function flipByte(key: Buffer, at = -1): Promise<void> {
  await editDb(async (db) => {
    const value = Buffer.from((await db.get(key))!);
    const i = at < 0 ? value.length + at : at;
    value[i] = value[i]! ^ 0x40;
    await db.put(key, value);
  });
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<ErrorCode | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (isErrorCode(err, 'STORAGE_CORRUPT') || err instanceof Error)
      return (err as { code?: ErrorCode }).code;
  }
  return undefined;
}

async function writeTwoGroups(): Promise<void> {
  const store = await LevelLogStore.open(dir);
  store.append(1, entries(1, 10, 1, 50));
  store.append(2, entries(1, 10, 1, 50));
  store.setHardState(2, { term: 1, vote: 1, commit: 10 });
  await store.commit();
  await store.close();
}

describe('LevelLogStore: corrupt data is reported, never returned', () => {
  it('a flipped bit in an entry fails its checksum: STORAGE_CORRUPT, group damaged, others served', async () => {
    await writeTwoGroups();
    await flipByte(entryKey(1, 5));
    const store = await openStore();
    expect(store.damagedGroups()).toEqual([]);
    expect(await codeOf(store.readEntries(1, 1, 11, 1 << 20))).toBe('STORAGE_CORRUPT');
    expect(store.damagedGroups()).toEqual([1]);
    expect(await codeOf(() => store.group(1))).toBe('STORAGE_CORRUPT');
    expect(await codeOf(() => store.append(1, entries(11, 11, 1)))).toBe('STORAGE_CORRUPT');
    expect(await codeOf(store.readEntries(1, 1, 3, 1 << 20))).toBe('STORAGE_CORRUPT');
    expect(await codeOf(() => store.getMeta(1, 'm'))).toBe('STORAGE_CORRUPT');
    expect(await store.readEntries(2, 1, 11, 1 << 20)).toEqual(entries(1, 10, 1, 50));
    // Repair: drop the group and rebuild it (from a peer, in a cluster).
    store.dropGroup(1);
    expect(store.damagedGroups()).toEqual([]);
    store.append(1, entries(1, 3, 2));
    await store.commit();
    await store.close();
    const reopened = await openStore();
    expect(reopened.damagedGroups()).toEqual([]);
    expect(await reopened.readEntries(1, 1, 4, 1 << 20)).toEqual(entries(1, 3, 2));
  });

  it('a corrupt entry met by a background load of entries() damages the group', async () => {
    await writeTwoGroups();
    await flipByte(entryKey(2, 3), 6);
    const store = await openStore();
    const log = store.group(2);
    expect(log.entries(1, 11, 1 << 20)).toBeUndefined();
    const deadline = Date.now() + 5_000;
    while (store.damagedGroups().length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(store.damagedGroups()).toEqual([2]);
    expect(await codeOf(() => log.entries(1, 11, 1 << 20))).toBe('STORAGE_CORRUPT');
    expect(await codeOf(() => log.term(4))).toBe('STORAGE_CORRUPT');
  });

  it('a missing entry in the middle of the log is reported as corruption', async () => {
    await writeTwoGroups();
    await editDb((db) => db.del(entryKey(1, 4)));
    const store = await openStore();
    expect(await codeOf(store.readEntries(1, 2, 8, 1 << 20))).toBe('STORAGE_CORRUPT');
    expect(store.damagedGroups()).toEqual([1]);
  });

  it('a corrupt hard state marks the group damaged when the store opens', async () => {
    await writeTwoGroups();
    await flipByte(recordKey(2, Kind.HardState));
    const store = await openStore();
    expect(store.damagedGroups()).toEqual([2]);
    expect(store.groups()).toEqual([1, 2]);
    expect(await codeOf(() => store.group(2))).toBe('STORAGE_CORRUPT');
    expect(store.group(1).lastIndex()).toBe(10);
  });

  it('with refuseDamaged, a damaged group fails the open with STORAGE_CORRUPT naming the directory', async () => {
    await writeTwoGroups();
    await flipByte(recordKey(2, Kind.HardState));
    const err = await LevelLogStore.open(dir, { refuseDamaged: true }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('STORAGE_CORRUPT');
    expect((err as Error).message).toContain(`data directory ${dir} is damaged (group 2 is damaged`);
    // Refusing closed the database: it opens again.
    expect((await openStore()).damagedGroups()).toEqual([2]);
  });

  it('a log that does not start right after the snapshot is damaged', async () => {
    await writeTwoGroups();
    await editDb((db) => db.del(entryKey(1, 1)));
    const store = await openStore();
    expect(store.damagedGroups()).toEqual([1]);
  });
});

describe('LevelLogStore: format version', () => {
  it('refuses a store written by a newer format with STORAGE_VERSION, naming the directory', async () => {
    await writeTwoGroups();
    await editDb((db) => db.put(FORMAT_KEY, encodeNumber(FORMAT_KEY, 99)));
    const err = await LevelLogStore.open(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isErrorCode(err, 'STORAGE_VERSION')).toBe(true);
    expect((err as Error).message).toContain(path.resolve(dir));
    // The refused store released the directory.
    await editDb(async () => {});
  });
});

describe('LevelLogStore: write failures (disk full, I/O error) stop the store', () => {
  it('rejects the failed commit and every later one with STORAGE_FAILED; acknowledged data survives', async () => {
    let batches = 0;
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const store = await openStore({
      beforeWrite: () => {
        batches++;
        if (batches === 3) throw enospc;
      },
    });
    store.append(1, entries(1, 5, 1));
    await store.commit();
    store.append(1, entries(6, 10, 1));
    await store.commit();

    store.append(1, entries(11, 15, 1));
    const failed = store.commit();
    store.append(2, entries(1, 1, 1));
    const queued = store.commit();
    const failure = await failed.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isErrorCode(failure, 'STORAGE_FAILED')).toBe(true);
    expect((failure as Error).cause).toBe(enospc);
    expect(await codeOf(queued)).toBe('STORAGE_FAILED');
    expect(await codeOf(() => store.append(1, entries(16, 16, 1)))).toBe('STORAGE_FAILED');
    expect(await codeOf(() => store.setHardState(1, { term: 1, vote: 0, commit: 0 }))).toBe('STORAGE_FAILED');
    expect(await codeOf(store.commit())).toBe('STORAGE_FAILED');
    expect(batches).toBe(3);
    await store.close();

    const reopened = await openStore();
    expect(reopened.group(1).lastIndex()).toBe(10);
    expect(await reopened.readEntries(1, 1, 11, 1 << 20)).toEqual(entries(1, 10, 1));
    expect(reopened.groups()).toEqual([1]);
  });
});

describe('LevelLogStore: caches', () => {
  it('never evicts entries that are not yet durable from the tail cache', async () => {
    // 40-byte entries cost 136 bytes each in memory: two fit in a group's budget.
    const store = await openStore({ tailCacheBytesPerGroup: 300, tailCacheBytes: 3000 });
    store.append(1, entries(1, 50, 1, 40));
    store.append(2, entries(1, 50, 1, 40));
    // 50 entries per group staged against budgets of two per group and 22 in all: still served
    // from memory, synchronously.
    expect(store.group(1).entries(1, 51, 1 << 20)).toEqual(entries(1, 50, 1, 40));
    expect(store.group(2).entries(1, 51, 1 << 20)).toEqual(entries(1, 50, 1, 40));
    await store.commit();
    // Durable now: the old entries leave memory and come back through a background load.
    expect(store.group(1).entries(1, 51, 1 << 20)).toBeUndefined();
    expect(store.group(1).entries(49, 51, 1 << 20)).toEqual(entries(49, 50, 1, 40));
  });

  it('keeps the entries staged while a batch is in flight until their own batch is written', async () => {
    let release!: () => void;
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    let writes = 0;
    const store = await openStore({
      tailCacheBytesPerGroup: 300,
      tailCacheBytes: 3000,
      // Holds the first batch in flight until released.
      beforeWrite: () => {
        if (++writes > 1) return;
        started();
        return new Promise<void>((resolve) => {
          release = resolve;
        });
      },
    });
    store.append(1, entries(1, 50, 1, 40));
    const first = store.commit();
    await inFlight;
    store.append(1, entries(51, 100, 1, 40));
    store.append(2, entries(1, 50, 1, 40));
    release();
    await first;
    // The first batch is written; the second is only staged: its entries are found in memory only.
    expect(store.group(1).entries(51, 101, 1 << 20)).toEqual(entries(51, 100, 1, 40));
    expect(store.group(2).entries(1, 51, 1 << 20)).toEqual(entries(1, 50, 1, 40));
    await store.commit();
    // Both written: the tails are back within their budgets.
    expect(store.group(1).entries(51, 101, 1 << 20)).toBeUndefined();
    expect(store.group(2).entries(1, 51, 1 << 20)).toBeUndefined();
    expect(store.group(1).entries(99, 101, 1 << 20)).toEqual(entries(99, 100, 1, 40));
    expect(await store.readEntries(1, 1, 101, 1 << 20)).toEqual(entries(1, 100, 1, 40));
  });

  it('over the budget of all tails, empties the tails of the groups that appended least recently', async () => {
    // 40-byte entries cost 136 bytes each in memory: ten fit in all.
    const store = await openStore({ tailCacheBytes: 10 * 136 });
    for (const group of [1, 2, 3]) {
      store.append(group, entries(1, 3, 1, 40));
      await store.commit();
    }
    store.append(1, entries(4, 4, 1, 40));
    await store.commit();
    // Eleven entries: over budget. Group 2 appended least recently; emptying it is enough.
    store.append(4, entries(1, 1, 1, 40));
    expect(store.group(2).entries(1, 4, 1 << 20)).toBeUndefined();
    expect(store.group(3).entries(1, 4, 1 << 20)).toEqual(entries(1, 3, 1, 40));
    expect(store.group(1).entries(1, 5, 1 << 20)).toEqual(entries(1, 4, 1, 40));
    expect(store.group(4).entries(1, 2, 1 << 20)).toEqual(entries(1, 1, 1, 40));
  });

  it('loads an old range in the background, reports it, and serves it from then on', async () => {
    await writeTwoGroups();
    const loaded: number[] = [];
    const store = await openStore();
    store.onEntriesLoaded((g) => loaded.push(g));
    const log = store.group(1);
    expect(log.entries(2, 6, 1 << 20)).toBeUndefined();
    expect(await entriesEventually(log, 2, 6)).toEqual(entries(2, 5, 1, 50));
    expect(loaded).toEqual([1]);
    // Later ranges within what was loaded need no new load.
    expect(log.entries(4, 11, 120)).toEqual(entries(4, 5, 1, 50));
    // Appending continues the log; the tail and the loaded range join up.
    store.append(1, entries(11, 12, 1, 50));
    expect(log.entries(9, 13, 1 << 20)).toEqual(entries(9, 12, 1, 50));
  });

  it('discards a load overtaken by a truncation, never serving overwritten entries', async () => {
    await writeTwoGroups();
    const store = await openStore();
    const loaded: number[] = [];
    store.onEntriesLoaded((g) => loaded.push(g));
    const log = store.group(1);
    expect(log.entries(1, 11, 1 << 20)).toBeUndefined();
    store.append(1, entries(4, 6, 2, 50));
    const got = await entriesEventually(log, 1, 7);
    expect(got).toEqual([...entries(1, 3, 1, 50), ...entries(4, 6, 2, 50)]);
    // The dropped load was reported too (so that the reader asks again), then the one that served.
    expect(loaded).toEqual([1, 1]);
  });
});

describe('LevelLogStore: staging', () => {
  it('writes every entry staged through the reused key and value buffer (LevelDB copies at put)', async () => {
    const store = await openStore();
    const written = new Map<number, Entry[]>();
    for (let i = 1; i <= 40; i++) {
      const group = 1 + (i % 4);
      const log = written.get(group) ?? [];
      // Sizes around the encoder's reused buffer (64 KiB) and a term needing msgpackr's encoder.
      const size = i % 10 === 0 ? 70_000 : (i * 37) % 300;
      const term = i === 40 ? 2 ** 40 : 1;
      const e = {
        ...entries(log.length + 1, log.length + 1, term, size)[0]!,
        data: new Uint8Array(size).fill(i),
      };
      store.append(group, [e]);
      log.push(e);
      written.set(group, log);
    }
    await store.commit();
    await store.close();
    const reopened = await openStore();
    for (const [group, log] of written) {
      expect(await reopened.readEntries(group, 1, log.length + 1, 1 << 30)).toEqual(log);
    }
  });
});

describe('LevelLogStore: group commit', () => {
  it('starts a synced commit at once; the commits made while it is written share the next batch', async () => {
    const batchSizes: number[] = [];
    const store = await openStore({ beforeWrite: (ops) => void batchSizes.push(ops) });
    const commits: Promise<void>[] = [];
    for (let group = 1; group <= 10; group++) {
      store.append(group, entries(1, 1, 1));
      commits.push(store.commit());
    }
    await Promise.all(commits);
    // Each entry and the term run it starts: the first group's, then the nine others'.
    expect(batchSizes).toEqual([2, 18]);
    // A commit with nothing staged and nothing in flight writes nothing.
    await store.commit();
    expect(batchSizes).toEqual([2, 18]);
  });

  it('coalesces the commits made while a batch is in flight, resolving each after its batch', async () => {
    const batchSizes: number[] = [];
    const durable: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const store = await openStore({
      beforeWrite: async (ops) => {
        batchSizes.push(ops);
        if (batchSizes.length === 1) {
          started();
          await gate;
        }
      },
    });
    store.append(1, entries(1, 1, 1));
    const first = store.commit().then(() => durable.push('first'));
    await firstStarted;
    const later: Promise<number>[] = [];
    for (let i = 2; i <= 6; i++) {
      store.append(1, entries(i, i, 1));
      later.push(store.commit().then(() => durable.push(`later ${i}`)));
      // Each in its own turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(durable).toEqual([]);
    release();
    await Promise.all([first, ...later]);
    expect(durable[0]).toBe('first');
    expect(batchSizes).toEqual([2, 5]);
  });

  it('writes the commits already asked for when it closes', async () => {
    const store = await openStore();
    store.append(1, entries(1, 3, 1));
    const committed = store.commit();
    await store.close();
    await committed;
    const reopened = await openStore();
    expect(reopened.group(1).lastIndex()).toBe(3);
  });
});
