import diagnostics from 'node:diagnostics_channel';
import path from 'node:path';
import { Level } from 'level';
import { RaftlogError } from '../errors.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';
import { CatchUpCache } from './catch-up-cache.js';
import { GroupCommit } from './group-commit.js';
import { GroupState, NO_GROUP } from './group-state.js';
import {
  checkNoDamageMarker,
  checkNothingDropped,
  isDiskDamage,
  unreadableDirectory,
} from './level-damage.js';
import { LevelGroupLog } from './level-group-log.js';
import {
  entryKey,
  FORMAT_KEY,
  groupLowerBound,
  Kind,
  metaKey,
  NODE_META_KEY,
  recordKey,
  SYNC_COUNTER_KEY,
  termRunKey,
} from './level-keys.js';
import {
  type LevelDb,
  type RecoveredGroup,
  type RecoveredNode,
  recoverGroups,
  recoverNode,
} from './level-recovery.js';
import {
  checkAppendStart,
  checkAppendTerm,
  checkCompaction,
  checkConfState,
  checkEntries,
  checkGroupId,
  checkHardState,
  checkMetaName,
  checkRange,
  checkSnapshot,
  checkSnapshotNewer,
  countWithinBytes,
} from './log-checks.js';
import type { GroupLog, LogStore } from './log-store.js';
import {
  decodeEntry,
  decodeNumber,
  EntryEncoder,
  encodeBytes,
  encodeConfState,
  encodeHardState,
  encodeNamedBytes,
  encodeNumber,
  encodeSnapshot,
} from './record-codec.js';

/**
 * The on-disk format this code reads and writes; a store of another format is refused.
 * 2: each value's checksum follows its body (1 had it first).
 */
export const FORMAT_VERSION = 2;

/** Bounds of the bytes one step of a disk scan reads (see `#scan`). */
const SCAN_BATCH_MIN_BYTES = 64 * 1024;
const SCAN_BATCH_MAX_BYTES = 4 * 1024 * 1024;

/** Published on `raftlog:storage:batch` after each synced batch: `{ ops, durationMs }`. */
export const batchChannel = diagnostics.channel('raftlog:storage:batch');

/** Settings of a {@link LevelLogStore}. */
export interface LevelLogStoreOptions {
  /**
   * Most bytes of recent entries kept in memory per group (each entry counted as its data plus
   * its object's overhead). Default 4 MiB.
   */
  readonly tailCacheBytesPerGroup?: number;
  /** Most bytes of recent entries kept in memory for all groups together. Default 256 MiB. */
  readonly tailCacheBytes?: number;
  /** Most bytes of older entries loaded for `entries()` (catch-up), all groups. Default 16 MiB. */
  readonly catchUpCacheBytes?: number;
  /** Bytes read ahead by one background load for `entries()`. Default 1 MiB. */
  readonly catchUpLoadBytes?: number;
  /** LevelDB's write buffer (memtable) size. Default 16 MiB. */
  readonly writeBufferSize?: number;
  /**
   * Test seam standing in for the disk: called with each batch's operation count before it is
   * written. Throwing (or rejecting) fails the write as an I/O error or a full disk would.
   */
  readonly beforeWrite?: (ops: number) => void | Promise<void>;
  /**
   * Fail the open with `STORAGE_CORRUPT` when any group's records fail their checks, instead of
   * opening with those groups marked damaged. Default false.
   */
  readonly refuseDamaged?: boolean;
}

/** A LevelDB batch being staged: operations are copied into it as they are staged. */
type StagedBatch = ReturnType<LevelDb['batch']>;

/**
 * The durable {@link LogStore}: one LevelDB database (classic-level) per node for all groups,
 * group commit into one synced batch, checksummed records, fast recovery.
 *
 * Reads by the Raft core never touch the disk: `term()` comes from an in-memory term index, and
 * `entries()` from a bounded in-memory tail of each group's log. For an older range `entries()`
 * answers `undefined`, loads the range in the background into a separate small cache (so catch-up
 * never evicts the tail) and calls `onEntriesLoaded`; the next call finds it. `readEntries()`
 * streams from the database for catch-up fetches.
 *
 * A record that fails its checksum raises `STORAGE_CORRUPT` and marks its group damaged (see
 * `damagedGroups()`): the group serves nothing until dropped and rebuilt from its peers. A failed
 * write raises `STORAGE_FAILED` and stops the store (fail-stop).
 */
export class LevelLogStore implements LogStore {
  readonly #db: LevelDb;
  readonly #dir: string;
  readonly #groups = new Map<number, GroupState>();
  readonly #commit: GroupCommit<StagedBatch>;
  readonly #catchUp: CatchUpCache;
  readonly #entryEncoder = new EntryEncoder();
  #tailBytes = 0;
  /** Set when all tails together are over budget with nothing durable left to evict. */
  #nothingEvictable = false;
  /**
   * Batches are numbered: the one being staged, and the last one written. Each group notes the
   * last batch it staged entries into, so what its tail must keep follows from these two numbers
   * and a written batch needs no pass over its groups.
   */
  #stagingBatch = 1;
  #writtenBatch = 0;
  /** Groups whose tail stayed over its budget for want of written entries to evict. */
  #overBudget: GroupState[] = [];
  #closed = false;
  readonly #maxTailPerGroup: number;
  readonly #maxTail: number;
  readonly #loadBytes: number;
  #onEntriesLoaded: ((groupId: number) => void) | undefined;
  /** The number of the last durable synced batch. */
  #syncCounter = 0;
  #nodeMeta = new Map<string, Uint8Array>();

  private constructor(db: LevelDb, dir: string, options: LevelLogStoreOptions) {
    this.#db = db;
    this.#dir = dir;
    this.#maxTailPerGroup = options.tailCacheBytesPerGroup ?? 4 * 1024 * 1024;
    this.#maxTail = options.tailCacheBytes ?? 256 * 1024 * 1024;
    this.#loadBytes = options.catchUpLoadBytes ?? 1024 * 1024;
    this.#catchUp = new CatchUpCache(options.catchUpCacheBytes ?? 16 * 1024 * 1024);
    const beforeWrite = options.beforeWrite;
    this.#commit = new GroupCommit<StagedBatch>(
      {
        open: () => db.batch(),
        count: (batch) => batch.length,
        write: async (batch, sync) => {
          const started = performance.now();
          const ops = batch.length;
          try {
            if (beforeWrite !== undefined) await beforeWrite(ops);
          } catch (err) {
            await batch.close();
            throw err;
          }
          // Every synced batch writes its own number (one batch is in flight at a time).
          const counter = this.#syncCounter + 1;
          if (sync) batch.put(SYNC_COUNTER_KEY, encodeNumber(SYNC_COUNTER_KEY, counter));
          await batch.write({ sync });
          if (sync) this.#syncCounter = counter;
          if (batchChannel.hasSubscribers)
            batchChannel.publish({ ops, durationMs: performance.now() - started });
        },
        discard: (batch) => void batch.close(),
      },
      { batchStarted: () => this.#batchStarted(), batchDurable: () => this.#batchDurable() },
    );
  }

  /**
   * Opens (creating if needed) the store in `dir`. Fails with `DATA_DIR_LOCKED` when another
   * process has it open, `STORAGE_VERSION` when it was written by a newer format, and
   * `STORAGE_CORRUPT` (naming the directory) when LevelDB finds it damaged, dropped write-ahead
   * log records while opening it, or an earlier open did (see `level-damage.ts`). Groups whose
   * own records fail their checks open as damaged (`damagedGroups()`).
   */
  static async open(dir: string, options: LevelLogStoreOptions = {}): Promise<LevelLogStore> {
    const location = path.resolve(dir);
    await checkNoDamageMarker(location);
    const db: LevelDb = new Level<Buffer, Buffer>(location, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    });
    try {
      await db.open({ writeBufferSize: options.writeBufferSize ?? 16 * 1024 * 1024 });
    } catch (err) {
      throw unreadableDirectory(location, err);
    }
    try {
      await checkNothingDropped(location);
      await checkFormat(db, location);
      const store = new LevelLogStore(db, location, options);
      store.#restore(await recoverGroups(db));
      store.#restoreNode(await recoverNode(db));
      if (options.refuseDamaged) store.#refuseDamaged();
      return store;
    } catch (err) {
      await db.close();
      throw unreadableDirectory(location, err);
    }
  }

  /** The data directory. */
  get dir(): string {
    return this.#dir;
  }

  groups(): number[] {
    this.#checkOpen();
    return [...this.#groups.keys()].sort((a, b) => a - b);
  }

  group(groupId: number): GroupLog {
    this.#checkOpen();
    checkGroupId(groupId);
    const damage = this.#groups.get(groupId)?.damage;
    if (damage !== undefined) throw damage;
    return new LevelGroupLog(
      groupId,
      () => this.#readState(groupId),
      (g, lo, hi, maxBytes) => this.#cachedEntries(g, lo, hi, maxBytes),
    );
  }

  damagedGroups(): number[] {
    return [...this.#groups.values()]
      .filter((g) => g.damage !== undefined)
      .map((g) => g.groupId)
      .sort((a, b) => a - b);
  }

  append(groupId: number, entries: readonly Entry[]): void {
    const g = this.#writable(groupId);
    checkEntries(entries);
    if (entries.length === 0) return;
    const first = entries[0]!;
    if (first.index === g.lastIndex + 1) {
      // The usual append, right after the last entry: checked without touching the snapshot or
      // the term index (with a thousand groups, each such object read is a cache miss).
      checkAppendTerm(groupId, first, g.lastTerm);
    } else {
      checkAppendStart(groupId, first, g.snapshot.meta.index, g.lastIndex);
      checkAppendTerm(groupId, first, g.termAt(first.index - 1));
    }
    const newLast = first.index + entries.length - 1;
    if (first.index <= g.lastIndex) {
      // Overwrite a conflicting suffix: drop what the new entries do not replace.
      for (let i = newLast + 1; i <= g.lastIndex; i++) this.#del(entryKey(groupId, i));
      for (const start of g.terms.truncateFrom(first.index)) this.#del(termRunKey(groupId, start));
      this.#catchUp.truncateFrom(groupId, first.index);
      g.generation++;
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const value = this.#entryEncoder.encode(groupId, e);
      this.#put(this.#entryEncoder.key, value);
      if (g.terms.extend(e.index, e.term)) {
        const runKey = termRunKey(groupId, e.index);
        this.#put(runKey, encodeNumber(runKey, e.term));
      }
    }
    this.#tailBytes += g.tail.append(entries, g.lastIndex);
    g.lastIndex = newLast;
    g.lastTerm = entries[entries.length - 1]!.term;
    g.staged(first.index, this.#stagingBatch, this.#writtenBatch);
    if (g.tail.bytes > this.#maxTailPerGroup) this.#trimGroup(g);
    this.#evictGlobal();
  }

  setHardState(groupId: number, hardState: HardState): void {
    const g = this.#writable(groupId);
    checkHardState(hardState);
    g.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    const key = recordKey(groupId, Kind.HardState);
    this.#put(key, encodeHardState(key, g.hardState));
  }

  setConfState(groupId: number, confState: ConfState): void {
    const g = this.#writable(groupId);
    checkConfState(confState);
    this.#putConfState(g, confState);
  }

  applySnapshot(groupId: number, snapshot: Snapshot): void {
    const g = this.#writable(groupId);
    checkSnapshot(snapshot);
    checkSnapshotNewer(groupId, snapshot, g.snapshot.meta.index);
    const { index, term } = snapshot.meta;
    if (index <= g.lastIndex && g.termAt(index) === term) {
      this.#dropPrefix(g, snapshot);
    } else {
      this.#dropEntries(g, Math.min(g.lowestEntry, g.firstIndex), g.lastIndex);
      for (const start of g.terms.clear()) this.#del(termRunKey(groupId, start));
      this.#tailBytes -= g.tail.clear();
      this.#catchUp.drop(groupId);
      g.generation++;
      g.lastIndex = index;
      g.lastTerm = term;
      this.#putSnapshot(g, snapshot);
    }
    this.#putConfState(g, snapshot.meta.confState);
  }

  compact(groupId: number, snapshot: Snapshot): void {
    const g = this.#writable(groupId);
    checkSnapshot(snapshot);
    checkSnapshotNewer(groupId, snapshot, g.snapshot.meta.index);
    checkCompaction(groupId, snapshot, g.lastIndex, () => g.termAt(snapshot.meta.index));
    this.#dropPrefix(g, snapshot);
  }

  putMeta(groupId: number, name: string, value: Uint8Array): void {
    const g = this.#writable(groupId);
    checkMetaName(name);
    const copy = Uint8Array.from(value);
    g.meta.set(name, copy);
    const key = metaKey(groupId, name);
    this.#put(key, encodeBytes(key, copy));
  }

  getMeta(groupId: number, name: string): Uint8Array | undefined {
    checkGroupId(groupId);
    return this.#readState(groupId).meta.get(name);
  }

  dropGroup(groupId: number): void {
    this.#checkWritable();
    checkGroupId(groupId);
    const g = this.#groups.get(groupId);
    if (g === undefined) return;
    for (const key of g.damagedKeys) this.#del(key);
    for (const kind of [Kind.HardState, Kind.ConfState, Kind.Snapshot] as const)
      this.#del(recordKey(groupId, kind));
    for (const name of g.meta.keys()) this.#del(metaKey(groupId, name));
    for (const start of g.terms.clear()) this.#del(termRunKey(groupId, start));
    this.#dropEntries(g, Math.min(g.lowestEntry, g.firstIndex), g.lastIndex);
    this.#tailBytes -= g.tail.clear();
    this.#catchUp.drop(groupId);
    // Left in the list of tails over budget, it holds nothing more to evict.
    this.#groups.delete(groupId);
  }

  putNodeMeta(name: string, value: Uint8Array): void {
    this.#checkWritable();
    checkMetaName(name);
    this.#nodeMeta.set(name, Uint8Array.from(value));
    this.#put(NODE_META_KEY, encodeNamedBytes(NODE_META_KEY, this.#nodeMeta));
  }

  getNodeMeta(name: string): Uint8Array | undefined {
    this.#checkOpen();
    return this.#nodeMeta.get(name);
  }

  syncCounter(): number {
    return this.#syncCounter;
  }

  commit(options?: { readonly sync?: boolean }): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#commit.commit(options?.sync ?? true);
  }

  onEntriesLoaded(listener: (groupId: number) => void): void {
    this.#onEntriesLoaded = listener;
  }

  async readEntries(groupId: number, lo: number, hi: number, maxBytes: number): Promise<Entry[]> {
    checkGroupId(groupId);
    const g = this.#readState(groupId);
    checkRange(groupId, lo, hi, maxBytes, g.firstIndex, g.lastIndex);
    if (lo === hi) return [];
    const tailFirst = g.tail.firstIndex(g.lastIndex);
    if (lo >= tailFirst) return g.tail.read(lo, hi, maxBytes, g.lastIndex);
    // Take the cached part now, so both parts are of the same moment (the disk iterator reads a
    // snapshot taken when it is created, also now).
    const fromTail = hi > tailFirst ? g.tail.read(tailFirst, hi, maxBytes, g.lastIndex) : [];
    const fromDisk = await this.#scan(g, lo, Math.min(hi, tailFirst), maxBytes);
    const reachedTail = fromDisk.length === Math.min(hi, tailFirst) - lo;
    return joinWithin(fromDisk, reachedTail ? fromTail : [], maxBytes);
  }

  /**
   * Closes the database once the commits already asked for are written. Writes staged but never
   * committed are discarded, as a crash would lose them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#commit.settle();
    this.#commit.discardStaged();
    await this.#db.close();
  }

  // --- Internals ---------------------------------------------------------------------------

  /** A group's state for a read; throws `STORAGE_CORRUPT` for a damaged group. */
  #readState(groupId: number): GroupState {
    this.#checkOpen();
    const g = this.#groups.get(groupId) ?? NO_GROUP;
    if (g.damage !== undefined) throw g.damage;
    return g;
  }

  /** The Raft core's read: from memory, or `undefined` while loading from disk. */
  #cachedEntries(g: GroupState, lo: number, hi: number, maxBytes: number): readonly Entry[] | undefined {
    checkRange(g.groupId, lo, hi, maxBytes, g.firstIndex, g.lastIndex);
    if (lo === hi) return [];
    const tailFirst = g.tail.firstIndex(g.lastIndex);
    if (lo >= tailFirst) return g.tail.read(lo, hi, maxBytes, g.lastIndex);
    const diskHi = Math.min(hi, tailFirst);
    const loaded = this.#catchUp.read(g.groupId, lo, diskHi, maxBytes);
    if (loaded === undefined) {
      // Read ahead towards the tail: a follower catching up asks for the next range soon.
      this.#load(g, lo, tailFirst, maxBytes);
      return undefined;
    }
    if (loaded.length < diskHi - lo || hi <= tailFirst) return loaded;
    return joinWithin(loaded, g.tail.read(tailFirst, hi, maxBytes, g.lastIndex), maxBytes);
  }

  #restore(recovered: Map<number, RecoveredGroup>): void {
    for (const [groupId, r] of recovered) this.#groups.set(groupId, GroupState.recovered(groupId, r));
  }

  #restoreNode(recovered: RecoveredNode): void {
    this.#syncCounter = recovered.syncCounter;
    this.#nodeMeta = recovered.meta;
  }

  #refuseDamaged(): void {
    const damaged = [...this.#groups.values()].filter((g) => g.damage !== undefined);
    if (damaged.length === 0) return;
    throw new RaftlogError(
      'STORAGE_CORRUPT',
      `data directory ${this.#dir} is damaged (${damaged.map((g) => g.damage!.message).join('; ')}); ` +
        'refusing to open it',
      { details: { dir: this.#dir, groups: damaged.map((g) => g.groupId) } },
    );
  }

  #batchStarted(): void {
    this.#stagingBatch++;
  }

  /** The batch in flight (the one before the batch being staged) is written. */
  #batchDurable(): void {
    this.#writtenBatch = this.#stagingBatch - 1;
    const over = this.#overBudget;
    this.#overBudget = [];
    for (const g of over) {
      g.overBudget = false;
      this.#trimGroup(g);
    }
    this.#nothingEvictable = false;
    this.#evictGlobal();
  }

  /**
   * Keeps the group's tail within its budget, as far as its written entries allow; if that is not
   * far enough, again once the batch holding the rest is written.
   */
  #trimGroup(g: GroupState): void {
    this.#tailBytes -= g.tail.evict(this.#maxTailPerGroup, g.keepFrom(this.#writtenBatch), g.lastIndex);
    if (g.tail.bytes > this.#maxTailPerGroup && !g.overBudget) {
      g.overBudget = true;
      this.#overBudget.push(g);
    }
  }

  /**
   * Keeps all tails together within their budget: once over it, empties the tails of the groups
   * that appended least recently (by the batch they last appended to) until an eighth of the
   * budget is free. Appends keep no order of their own (a list reordered on every append touched
   * two other groups' cold state each time); the groups are sorted only here, and freeing an
   * eighth at a time makes that rare.
   */
  #evictGlobal(): void {
    if (this.#tailBytes <= this.#maxTail || this.#nothingEvictable) return;
    const cached = [...this.#groups.values()].filter((g) => g.tail.length > 0);
    cached.sort((a, b) => a.pendingBatch - b.pendingBatch);
    const target = this.#maxTail - this.#maxTail / 8;
    for (const g of cached) {
      this.#tailBytes -= g.tail.evict(0, g.keepFrom(this.#writtenBatch), g.lastIndex);
      if (this.#tailBytes <= target) return;
    }
    // What is left is not yet written: no use trying again before the next batch lands.
    this.#nothingEvictable = true;
  }

  #dropPrefix(g: GroupState, snapshot: Snapshot): void {
    const { index } = snapshot.meta;
    this.#dropEntries(g, Math.min(g.lowestEntry, g.firstIndex), index);
    for (const start of g.terms.compactTo(index + 1)) this.#del(termRunKey(g.groupId, start));
    this.#tailBytes -= g.tail.dropThrough(index, g.lastIndex);
    this.#putSnapshot(g, snapshot);
  }

  #dropEntries(g: GroupState, from: number, to: number): void {
    for (let i = from; i <= to; i++) this.#del(entryKey(g.groupId, i));
  }

  #putSnapshot(g: GroupState, snapshot: Snapshot): void {
    g.snapshot = snapshot;
    g.lowestEntry = snapshot.meta.index + 1;
    const key = recordKey(g.groupId, Kind.Snapshot);
    this.#put(key, encodeSnapshot(key, snapshot));
  }

  #putConfState(g: GroupState, confState: ConfState): void {
    g.confState = confState;
    const key = recordKey(g.groupId, Kind.ConfState);
    this.#put(key, encodeConfState(key, confState));
  }

  #put(key: Buffer, value: Buffer): void {
    this.#commit.staging().put(key, value);
  }

  #del(key: Buffer): void {
    this.#commit.staging().del(key);
  }

  /**
   * Reads entries `[lo, hi)` from disk, checking each, up to and including the first entry that
   * takes the total past `maxBytes` (so a caller can tell where a `maxBytes` cut falls).
   */
  async #scan(g: GroupState, lo: number, hi: number, maxBytes: number): Promise<Entry[]> {
    const out: Entry[] = [];
    const it = this.#db.iterator({
      gte: entryKey(g.groupId, lo),
      lt: entryKey(g.groupId, hi),
      // Each nextv() hands over up to this many bytes at once (classic-level's default, 16 KiB,
      // means one call, one round trip to LevelDB's thread, per entry of 16 KiB or more).
      highWaterMarkBytes: Math.min(Math.max(maxBytes, SCAN_BATCH_MIN_BYTES), SCAN_BATCH_MAX_BYTES),
    });
    try {
      let bytes = 0;
      for (;;) {
        let items: [Buffer, Buffer][];
        try {
          items = await it.nextv(1000);
        } catch (err) {
          // LevelDB's own checks (a table's blocks, its index) or the disk failed the read.
          if (isDiskDamage(err)) throw this.#damaged(g, `unreadable: ${(err as Error).message}`, err);
          throw err;
        }
        if (items.length === 0) break;
        for (const [key, value] of items) {
          const index = lo + out.length;
          if (!key.equals(entryKey(g.groupId, index))) throw this.#damaged(g, `entry ${index} is missing`);
          let e: Entry;
          try {
            e = decodeEntry(key, index, value);
          } catch (err) {
            throw this.#damaged(g, (err as Error).message, err);
          }
          out.push(e);
          bytes += e.data.length;
          if (bytes > maxBytes) return out;
        }
      }
    } finally {
      await it.close();
    }
    if (out.length < hi - lo) throw this.#damaged(g, `entries ${lo + out.length}..${hi - 1} are missing`);
    return out;
  }

  #load(g: GroupState, lo: number, hi: number, maxBytes: number): void {
    if (g.loading) return;
    g.loading = true;
    const generation = g.generation;
    this.#scan(g, lo, hi, Math.max(maxBytes, this.#loadBytes)).then(
      (entries) => {
        g.loading = false;
        if (this.#closed || this.#groups.get(g.groupId) !== g) return;
        // A load overtaken by a truncation is dropped; asking again starts a new one.
        if (g.generation === generation) this.#catchUp.put(g.groupId, entries);
        this.#onEntriesLoaded?.(g.groupId);
      },
      () => {
        // A damaged group is marked by #scan; a closed store needs nothing.
        g.loading = false;
      },
    );
  }

  #damaged(g: GroupState, why: string, cause?: unknown): RaftlogError {
    g.damage ??= new RaftlogError('STORAGE_CORRUPT', `group ${g.groupId} is damaged: ${why}`, {
      cause,
      details: { groupId: g.groupId },
    });
    return g.damage;
  }

  #writable(groupId: number): GroupState {
    this.#checkWritable();
    checkGroupId(groupId);
    let g = this.#groups.get(groupId);
    if (g === undefined) {
      g = new GroupState(groupId);
      this.#groups.set(groupId, g);
    }
    if (g.damage !== undefined) throw g.damage;
    return g;
  }

  #checkWritable(): void {
    this.#checkOpen();
    const failure = this.#commit.failure;
    if (failure !== undefined) throw failure;
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }
}

/** Entries from disk, followed by the cached tail that continues them, cut at `maxBytes`. */
function joinWithin(fromDisk: Entry[], fromTail: Entry[], maxBytes: number): Entry[] {
  const all = fromDisk.concat(fromTail);
  return all.slice(0, countWithinBytes(all, 0, all.length, maxBytes));
}

function closedError(): RaftlogError {
  return new RaftlogError('STORAGE_CLOSED', 'the log store is closed');
}

async function checkFormat(db: LevelDb, location: string): Promise<void> {
  const stored = await db.get(FORMAT_KEY);
  if (stored === undefined) {
    const anyKey = await db.keys({ gte: groupLowerBound(0), limit: 1 }).all();
    if (anyKey.length > 0) {
      throw new RaftlogError(
        'STORAGE_CORRUPT',
        `data directory ${location} holds data without a format version`,
      );
    }
    await db.put(FORMAT_KEY, encodeNumber(FORMAT_KEY, FORMAT_VERSION), { sync: true });
    return;
  }
  const version = decodeNumber(FORMAT_KEY, stored);
  if (version !== FORMAT_VERSION) {
    throw new RaftlogError(
      'STORAGE_VERSION',
      `data directory ${location} has format version ${version}; this raftlog reads version ${FORMAT_VERSION}`,
      { details: { dir: location, version, supported: FORMAT_VERSION } },
    );
  }
}
