import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { type ErrorCode, isErrorCode } from '../../src/errors.js';
import type { ConfState, Entry, HardState, Snapshot } from '../../src/raft/types.js';
import type { GroupLog, LogStore } from '../../src/storage/log-store.js';

/** How the conformance suite opens a store and simulates a process restart. */
export interface LogStoreHarness {
  /** A fresh, empty store (in its own directory, if it has one). */
  open(): Promise<LogStore>;
  /**
   * What a restarted process finds: `store` is abandoned (staged writes lost) and the store is
   * opened again on the same data.
   */
  restart(store: LogStore): Promise<LogStore>;
  /** Releases everything `open` created. */
  cleanup(): Promise<void>;
}

export function entry(index: number, term: number, size = 8): Entry {
  const data = new Uint8Array(size).fill((index * 31 + term * 7) & 0xff);
  if (size > 1) data[size - 1] = index & 0xff;
  return { index, term, type: 0, data };
}

export function entries(from: number, to: number, term: number, size = 8): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

const conf = (voters: number[]): ConfState => ({
  voters,
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

const snap = (index: number, term: number, voters = [1, 2, 3], data = [index & 0xff]): Snapshot => ({
  meta: { index, term, confState: conf(voters) },
  data: Uint8Array.from(data),
});

function expectCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isErrorCode(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

async function expectRejects(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isErrorCode(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
}

/**
 * `log.entries()` may answer `undefined` while it loads from disk: ask again on later turns of the
 * event loop until it answers (bounded by a deadline).
 */
export async function entriesEventually(
  log: GroupLog,
  lo: number,
  hi: number,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<readonly Entry[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const got = log.entries(lo, hi, maxBytes);
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`entries(${lo}, ${hi}) never loaded`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Every entry of the group, read through the Raft core's view. */
async function allEntries(log: GroupLog): Promise<readonly Entry[]> {
  if (log.lastIndex() < log.firstIndex()) return [];
  return entriesEventually(log, log.firstIndex(), log.lastIndex() + 1);
}

/** Everything observable about a store (the meta names are the ones the test used). */
async function observe(store: LogStore, metaNames: readonly string[]): Promise<unknown> {
  const out: Record<number, unknown> = {};
  for (const id of store.groups()) {
    const log = store.group(id);
    const snapshot = log.snapshot();
    out[id] = {
      initial: log.initialState(),
      first: log.firstIndex(),
      last: log.lastIndex(),
      termBeforeFirst: log.term(log.firstIndex() - 1),
      snapshot: { meta: snapshot.meta, data: [...snapshot.data] },
      entries: (await allEntries(log)).map((e) => ({ ...e, data: [...e.data] })),
      meta: metaNames.map((n) => {
        const v = store.getMeta(id, n);
        return v === undefined ? undefined : [...v];
      }),
    };
  }
  return out;
}

/**
 * The behaviour every {@link LogStore} must have. Run by each implementation's test file with a
 * harness that opens and restarts it.
 */
export function logStoreConformance(name: string, harness: LogStoreHarness): void {
  describe(`LogStore conformance: ${name}`, () => {
    let store: LogStore;
    const open = async (): Promise<LogStore> => {
      store = await harness.open();
      return store;
    };
    const restart = async (): Promise<LogStore> => {
      store = await harness.restart(store);
      return store;
    };

    afterEach(async () => {
      await store?.close();
      await harness.cleanup();
    });

    it('starts empty: first index 1, last index 0, term(0) = 0', async () => {
      const s = await open();
      const log = s.group(7);
      expect(log.firstIndex()).toBe(1);
      expect(log.lastIndex()).toBe(0);
      expect(log.term(0)).toBe(0);
      expect(log.snapshot().meta.index).toBe(0);
      expect(log.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
      expect(log.initialState().confState.voters).toEqual([]);
      expectCode(() => log.term(1), 'LOG_UNAVAILABLE');
      expect(s.groups()).toEqual([]);
      expect(s.damagedGroups()).toEqual([]);
    });

    it('appends entries and reads them back by range and term', async () => {
      const s = await open();
      s.append(1, entries(1, 5, 1));
      s.append(1, entries(6, 10, 2));
      const log = s.group(1);
      expect(log.lastIndex()).toBe(10);
      expect(log.term(5)).toBe(1);
      expect(log.term(6)).toBe(2);
      expect(await entriesEventually(log, 3, 8)).toEqual([...entries(3, 5, 1), ...entries(6, 7, 2)]);
      expect(await entriesEventually(log, 4, 4)).toEqual([]);
      await s.commit();
      expect(await s.readEntries(1, 1, 11, 1 << 20)).toEqual([...entries(1, 5, 1), ...entries(6, 10, 2)]);
    });

    it('an unsynced commit is readable at once and durable once a later synced commit completes', async () => {
      const s = await open();
      s.append(1, entries(1, 3, 1));
      s.putMeta(1, 'checkpoint', Uint8Array.from([1]));
      await s.commit({ sync: false });
      expect(s.group(1).lastIndex()).toBe(3);
      expect(await s.readEntries(1, 1, 4, 1 << 20)).toEqual(entries(1, 3, 1));
      s.append(1, entries(4, 4, 1));
      await s.commit();
      const r = await restart();
      expect(r.group(1).lastIndex()).toBe(4);
      expect(r.getMeta(1, 'checkpoint')).toEqual(Uint8Array.from([1]));
    });

    it('truncates a conflicting suffix when an append starts inside the log', async () => {
      const s = await open();
      s.append(1, entries(1, 10, 1));
      await s.commit();
      s.append(1, entries(6, 7, 3));
      const log = s.group(1);
      expect(log.lastIndex()).toBe(7);
      expect(log.term(6)).toBe(3);
      expectCode(() => log.term(8), 'LOG_UNAVAILABLE');
      expect(await entriesEventually(log, 1, 8)).toEqual([...entries(1, 5, 1), ...entries(6, 7, 3)]);
      await s.commit();
      const r = await restart();
      expect(r.group(1).lastIndex()).toBe(7);
      expect(await r.readEntries(1, 1, 8, 1 << 20)).toEqual([...entries(1, 5, 1), ...entries(6, 7, 3)]);
      expect(await allEntries(r.group(1))).toEqual([...entries(1, 5, 1), ...entries(6, 7, 3)]);
    });

    it('refuses appends that leave a gap, reach into the snapshot or lower the term', async () => {
      const s = await open();
      s.append(1, entries(1, 3, 2));
      expectCode(() => s.append(1, entries(5, 6, 2)), 'LOG_UNAVAILABLE');
      expectCode(() => s.append(1, [entry(4, 1)]), 'INVALID_REQUEST');
      expectCode(() => s.append(1, [entry(4, 2), entry(6, 2)]), 'INVALID_REQUEST');
      s.compact(1, snap(2, 2));
      expectCode(() => s.append(1, entries(2, 4, 3)), 'LOG_COMPACTED');
      expect(s.group(1).lastIndex()).toBe(3);
      expectCode(() => s.append(0x1_0000_0000, [entry(1, 1)]), 'INVALID_REQUEST');
    });

    it('limits a range to maxBytes but always returns at least one entry', async () => {
      const s = await open();
      s.append(1, entries(1, 10, 1, 100));
      await s.commit();
      const log = s.group(1);
      expect((await entriesEventually(log, 1, 11, 0)).map((e) => e.index)).toEqual([1]);
      expect((await entriesEventually(log, 1, 11, 99)).map((e) => e.index)).toEqual([1]);
      expect((await entriesEventually(log, 1, 11, 250)).map((e) => e.index)).toEqual([1, 2]);
      expect((await entriesEventually(log, 1, 11, 300)).map((e) => e.index)).toEqual([1, 2, 3]);
      expect((await s.readEntries(1, 2, 11, 0)).map((e) => e.index)).toEqual([2]);
      expect((await s.readEntries(1, 2, 11, 450)).map((e) => e.index)).toEqual([2, 3, 4, 5]);
      expect(await s.readEntries(1, 1, 11, 10_000)).toEqual(entries(1, 10, 1, 100));
    });

    it('raises LOG_COMPACTED below the first index and LOG_UNAVAILABLE past the last', async () => {
      const s = await open();
      s.append(1, entries(1, 10, 1));
      s.compact(1, snap(4, 1));
      await s.commit();
      const log = s.group(1);
      expectCode(() => log.entries(3, 6, 100), 'LOG_COMPACTED');
      expectCode(() => log.entries(5, 12, 100), 'LOG_UNAVAILABLE');
      expectCode(() => log.term(3), 'LOG_COMPACTED');
      expectCode(() => log.term(11), 'LOG_UNAVAILABLE');
      await expectRejects(s.readEntries(1, 2, 6, 100), 'LOG_COMPACTED');
      await expectRejects(s.readEntries(1, 5, 12, 100), 'LOG_UNAVAILABLE');
    });

    it('stores hard state and membership, and restores them after a restart', async () => {
      const s = await open();
      const hs: HardState = { term: 5, vote: 2, commit: 9 };
      s.setHardState(3, hs);
      s.setConfState(3, { ...conf([1, 2]), learners: [4], votersOutgoing: [1, 2, 3], autoLeave: true });
      expect(s.group(3).initialState().hardState).toEqual(hs);
      await s.commit();
      const r = await restart();
      expect(r.group(3).initialState()).toEqual({
        hardState: hs,
        confState: { ...conf([1, 2]), learners: [4], votersOutgoing: [1, 2, 3], autoLeave: true },
      });
      expect(r.groups()).toEqual([3]);
    });

    it('compacts a prefix: snapshot, first index and the term just before it', async () => {
      const s = await open();
      s.append(2, entries(1, 5, 1));
      s.append(2, entries(6, 10, 2));
      s.compact(2, snap(7, 2, [1, 2, 3], [1, 2, 3]));
      const log = s.group(2);
      expect(log.firstIndex()).toBe(8);
      expect(log.lastIndex()).toBe(10);
      expect(log.term(7)).toBe(2);
      expect(log.snapshot().meta).toEqual(snap(7, 2).meta);
      expect([...log.snapshot().data]).toEqual([1, 2, 3]);
      expectCode(() => s.compact(2, snap(7, 2)), 'SNAPSHOT_OUT_OF_DATE');
      expectCode(() => s.compact(2, snap(11, 2)), 'LOG_UNAVAILABLE');
      expectCode(() => s.compact(2, snap(9, 1)), 'INVALID_REQUEST');
      await s.commit();
      const r = await restart();
      const rl = r.group(2);
      expect([rl.firstIndex(), rl.lastIndex(), rl.term(7), rl.term(10)]).toEqual([8, 10, 2, 2]);
      expect([...rl.snapshot().data]).toEqual([1, 2, 3]);
      expect(await allEntries(rl)).toEqual(entries(8, 10, 2));
      // Compacting the whole log leaves it empty after the snapshot.
      r.compact(2, snap(10, 2));
      expect([rl.firstIndex(), rl.lastIndex(), rl.term(10)]).toEqual([11, 10, 2]);
      r.append(2, entries(11, 12, 3));
      expect(await allEntries(rl)).toEqual(entries(11, 12, 3));
    });

    it('applies a snapshot that matches the log: keeps the entries after it', async () => {
      const s = await open();
      s.append(1, entries(1, 10, 1));
      s.applySnapshot(1, snap(6, 1, [1, 2]));
      const log = s.group(1);
      expect([log.firstIndex(), log.lastIndex(), log.term(6)]).toEqual([7, 10, 1]);
      expect(log.initialState().confState.voters).toEqual([1, 2]);
      expect(await allEntries(log)).toEqual(entries(7, 10, 1));
      await s.commit();
      const r = await restart();
      expect(await allEntries(r.group(1))).toEqual(entries(7, 10, 1));
      expect(r.group(1).initialState().confState.voters).toEqual([1, 2]);
    });

    it('applies a snapshot that does not match the log: drops every entry', async () => {
      const s = await open();
      s.append(1, entries(1, 10, 1));
      s.applySnapshot(1, snap(6, 2));
      const log = s.group(1);
      expect([log.firstIndex(), log.lastIndex(), log.term(6)]).toEqual([7, 6, 2]);
      s.applySnapshot(1, snap(20, 3));
      expect([log.firstIndex(), log.lastIndex(), log.term(20)]).toEqual([21, 20, 3]);
      expectCode(() => s.applySnapshot(1, snap(15, 3)), 'SNAPSHOT_OUT_OF_DATE');
      s.append(1, entries(21, 22, 3));
      await s.commit();
      const r = await restart();
      const rl = r.group(1);
      expect([rl.firstIndex(), rl.lastIndex(), rl.term(20)]).toEqual([21, 22, 3]);
      expect(await allEntries(rl)).toEqual(entries(21, 22, 3));
      expect(await r.readEntries(1, 21, 23, 1000)).toEqual(entries(21, 22, 3));
    });

    it('keeps named meta values per group', async () => {
      const s = await open();
      s.putMeta(1, 'applied', Uint8Array.of(1));
      s.putMeta(1, 'applied', Uint8Array.of(2));
      s.putMeta(2, 'applied', Uint8Array.of(3));
      s.putMeta(1, 'producer/ä', Uint8Array.of(4, 5));
      expect(s.getMeta(1, 'applied')).toEqual(Uint8Array.of(2));
      expect(s.getMeta(3, 'applied')).toBeUndefined();
      await s.commit();
      const r = await restart();
      expect(r.getMeta(1, 'applied')).toEqual(Uint8Array.of(2));
      expect(r.getMeta(2, 'applied')).toEqual(Uint8Array.of(3));
      expect(r.getMeta(1, 'producer/ä')).toEqual(Uint8Array.of(4, 5));
    });

    it('keeps named meta values of the node, apart from every group', async () => {
      const s = await open();
      s.putNodeMeta('peers', Uint8Array.of(1));
      s.putNodeMeta('peers', Uint8Array.of(2, 3));
      s.putNodeMeta('other', Uint8Array.of(4));
      expect(s.getNodeMeta('peers')).toEqual(Uint8Array.of(2, 3));
      expect(s.getNodeMeta('missing')).toBeUndefined();
      await s.commit();
      s.putNodeMeta('other', Uint8Array.of(5));
      const r = await restart();
      expect(r.getNodeMeta('peers')).toEqual(Uint8Array.of(2, 3));
      // Staged, never committed: lost.
      expect(r.getNodeMeta('other')).toEqual(Uint8Array.of(4));
      expect(r.groups()).toEqual([]);
      expect(r.getMeta(0, 'peers')).toBeUndefined();
    });

    it('counts its synced batches, durably; unsynced batches and empty commits do not count', async () => {
      const s = await open();
      expect(s.syncCounter()).toBe(0);
      s.append(1, entries(1, 1, 1));
      await s.commit();
      expect(s.syncCounter()).toBe(1);
      await s.commit();
      expect(s.syncCounter()).toBe(1);
      s.putMeta(1, 'checkpoint', Uint8Array.of(1));
      await s.commit({ sync: false });
      expect(s.syncCounter()).toBe(1);
      s.append(1, entries(2, 2, 1));
      await s.commit();
      expect(s.syncCounter()).toBe(2);
      // Commits of one turn may share a batch (group commit): each batch counts once.
      const commits: Promise<void>[] = [];
      for (let i = 3; i <= 5; i++) {
        s.append(1, entries(i, i, 1));
        commits.push(s.commit());
      }
      await Promise.all(commits);
      const counted = s.syncCounter();
      expect(counted).toBeGreaterThanOrEqual(3);
      expect(counted).toBeLessThanOrEqual(5);
      s.append(1, entries(6, 6, 1));
      const r = await restart();
      expect(r.syncCounter()).toBe(counted);
      r.append(1, entries(6, 6, 1));
      await r.commit();
      expect(r.syncCounter()).toBe(counted + 1);
    });

    it('drops a group and all of its data', async () => {
      const s = await open();
      s.append(4, entries(1, 5, 1));
      s.setHardState(4, { term: 1, vote: 1, commit: 3 });
      s.putMeta(4, 'x', Uint8Array.of(1));
      s.compact(4, snap(2, 1));
      s.append(5, entries(1, 2, 1));
      await s.commit();
      s.dropGroup(4);
      expect(s.groups()).toEqual([5]);
      expect([s.group(4).firstIndex(), s.group(4).lastIndex()]).toEqual([1, 0]);
      expect(s.getMeta(4, 'x')).toBeUndefined();
      await s.commit();
      const r = await restart();
      expect(r.groups()).toEqual([5]);
      expect(r.group(4).lastIndex()).toBe(0);
      expect(r.group(4).initialState().hardState.term).toBe(0);
      // The id can be used again from scratch.
      r.append(4, entries(1, 1, 7));
      expect(await allEntries(r.group(4))).toEqual(entries(1, 1, 7));
      expect(await allEntries(r.group(5))).toEqual(entries(1, 2, 1));
    });

    it('keeps many groups isolated from each other', async () => {
      const s = await open();
      const ids = [0, 1, 2, 255, 256, 65_536, 0xffff_fffe, 0xffff_ffff];
      for (let round = 1; round <= 5; round++) {
        for (const [k, id] of ids.entries()) s.append(id, entries(round, round, k + 1, 4 + k));
      }
      s.compact(256, snap(3, 5));
      s.dropGroup(2);
      await s.commit();
      const check = async (r: LogStore): Promise<void> => {
        expect(r.groups()).toEqual(ids.filter((id) => id !== 2));
        for (const [k, id] of ids.entries()) {
          if (id === 2) continue;
          const first = id === 256 ? 4 : 1;
          expect(await allEntries(r.group(id))).toEqual(entries(first, 5, k + 1, 4 + k));
        }
      };
      await check(s);
      await check(await restart());
    });

    it('restores after a restart exactly what was committed, losing what was only staged', async () => {
      const s = await open();
      s.append(1, entries(1, 5, 1));
      s.setHardState(1, { term: 1, vote: 1, commit: 2 });
      s.putMeta(1, 'm', Uint8Array.of(1));
      await s.commit();
      s.append(1, entries(4, 8, 2));
      s.setHardState(1, { term: 2, vote: 3, commit: 4 });
      s.putMeta(1, 'm', Uint8Array.of(2));
      s.compact(1, snap(3, 1));
      s.append(9, entries(1, 1, 1));
      s.dropGroup(1);
      const r = await restart();
      expect(r.groups()).toEqual([1]);
      const log = r.group(1);
      expect([log.firstIndex(), log.lastIndex()]).toEqual([1, 5]);
      expect(log.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 2 });
      expect(r.getMeta(1, 'm')).toEqual(Uint8Array.of(1));
      expect(await allEntries(log)).toEqual(entries(1, 5, 1));
    });

    it('resolves concurrent commits, each after its own writes are durable', async () => {
      const s = await open();
      const commits: Promise<void>[] = [];
      for (let i = 1; i <= 20; i++) {
        s.append(i % 3, entries(Math.ceil(i / 3), Math.ceil(i / 3), 1));
        commits.push(s.commit());
      }
      await Promise.all(commits);
      const r = await restart();
      expect(r.groups()).toEqual([0, 1, 2]);
      expect(r.groups().map((g) => r.group(g).lastIndex())).toEqual([6, 7, 7]);
    });

    it('round-trips large entries', async () => {
      const s = await open();
      s.append(1, entries(1, 3, 1, 100 * 1024));
      await s.commit();
      const r = await restart();
      expect(await r.readEntries(1, 1, 4, 1 << 30)).toEqual(entries(1, 3, 1, 100 * 1024));
    });

    it('refuses use after close with STORAGE_CLOSED', async () => {
      const s = await open();
      await s.close();
      expectCode(() => s.append(1, [entry(1, 1)]), 'STORAGE_CLOSED');
      await expectRejects(s.commit(), 'STORAGE_CLOSED');
    });

    it('after random writes, commits and restarts, shows exactly the state of the last commit', async () => {
      const names = ['a', 'b'];
      type Op =
        | { kind: 'append'; group: number; back: number; n: number; termUp: number; size: number }
        | { kind: 'hard'; group: number; term: number }
        | { kind: 'meta'; group: number; name: string; value: number }
        | { kind: 'compact'; group: number; back: number }
        | { kind: 'snapshot'; group: number; ahead: number; match: boolean }
        | { kind: 'drop'; group: number }
        | { kind: 'commit' }
        | { kind: 'restart' };
      const group = fc.integer({ min: 0, max: 3 });
      const op: fc.Arbitrary<Op> = fc.oneof(
        {
          weight: 6,
          arbitrary: fc.record({
            kind: fc.constant('append' as const),
            group,
            back: fc.nat(3),
            n: fc.integer({ min: 1, max: 4 }),
            termUp: fc.nat(1),
            size: fc.nat(40),
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('hard' as const), group, term: fc.nat(9) }) },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('meta' as const),
            group,
            name: fc.constantFrom(...names),
            value: fc.nat(255),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({ kind: fc.constant('compact' as const), group, back: fc.nat(3) }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('snapshot' as const),
            group,
            ahead: fc.integer({ min: -2, max: 3 }),
            match: fc.boolean(),
          }),
        },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), group }) },
        { weight: 3, arbitrary: fc.constant({ kind: 'commit' as const }) },
        { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
      );

      const apply = (s: LogStore, o: Exclude<Op, { kind: 'commit' | 'restart' }>): void => {
        const log = s.group(o.group);
        const last = log.lastIndex();
        const first = log.firstIndex();
        switch (o.kind) {
          case 'append': {
            const from = Math.max(first, last + 1 - o.back);
            const term = log.term(from - 1) + o.termUp;
            s.append(o.group, entries(from, from + o.n - 1, Math.max(term, 1), o.size));
            return;
          }
          case 'hard':
            s.setHardState(o.group, { term: o.term, vote: 1, commit: 0 });
            return;
          case 'meta':
            s.putMeta(o.group, o.name, Uint8Array.of(o.value));
            return;
          case 'compact': {
            const index = last - o.back;
            if (index >= first) s.compact(o.group, snap(index, log.term(index)));
            return;
          }
          case 'snapshot': {
            const index = last + o.ahead;
            if (index < first) return;
            const term = o.match && index <= last ? log.term(index) : log.term(last) + 1;
            s.applySnapshot(o.group, snap(index, term));
            return;
          }
          case 'drop':
            s.dropGroup(o.group);
            return;
        }
      };

      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
          let s = await harness.open();
          try {
            let committed = await observe(s, names);
            for (const o of ops) {
              if (o.kind === 'commit') {
                await s.commit();
                committed = await observe(s, names);
              } else if (o.kind === 'restart') {
                s = await harness.restart(s);
                expect(await observe(s, names)).toEqual(committed);
              } else {
                apply(s, o);
              }
            }
            await s.commit();
            committed = await observe(s, names);
            s = await harness.restart(s);
            expect(await observe(s, names)).toEqual(committed);
          } finally {
            await s.close();
            await harness.cleanup();
          }
        }),
        { numRuns: 60 },
      );
    });
  });
}
