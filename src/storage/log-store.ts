import type { RaftStorage } from '../raft/storage.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';

/**
 * A node's durable store for all of its Raft groups (one database per node).
 *
 * Writes are staged synchronously and made durable together: everything staged by any group
 * since the last `commit()` goes into ONE batch written with `sync: true` (group commit), and the
 * promise of that `commit()` resolves only after the sync completed. The driver acknowledges
 * nothing (to clients, or as a Raft message) before the commit covering it resolved.
 *
 * Reads through {@link GroupLog} see staged writes at once (the core reads them only after its
 * `advance()`, which follows the commit), so staging then committing is safe.
 *
 * Group ids are unsigned 32-bit integers chosen by the caller (the metadata group is 0).
 */
export interface LogStore {
  /** Ids of the groups that hold any state (after a restart: what recovery found). */
  groups(): number[];
  /**
   * The synchronous view of one group for the Raft core, creating an empty group if needed.
   * Throws `STORAGE_CORRUPT` for a group found damaged (see `damagedGroups()`).
   */
  group(groupId: number): GroupLog;
  /** Groups whose stored data failed a checksum; they serve nothing until repaired. */
  damagedGroups(): number[];

  /**
   * Append `entries` (consecutive indexes) to a group, first truncating any stored suffix at or
   * after `entries[0].index`. `entries[0].index` must be at most `lastIndex() + 1` and above the
   * snapshot index.
   */
  append(groupId: number, entries: readonly Entry[]): void;
  setHardState(groupId: number, hardState: HardState): void;
  /** Membership after the driver applied a configuration change (`initialState().confState`). */
  setConfState(groupId: number, confState: ConfState): void;
  /**
   * Replace the group's log by an incoming snapshot: entries up to `snapshot.meta.index` are
   * dropped (all of them if the log does not match the snapshot's term at that index).
   */
  applySnapshot(groupId: number, snapshot: Snapshot): void;
  /**
   * Record a snapshot of the group's state machine taken at `snapshot.meta.index` (which must be
   * applied) and drop the log entries up to that index.
   */
  compact(groupId: number, snapshot: Snapshot): void;
  /** Small per-group values of the state machine (applied index, membership, dedup state...). */
  putMeta(groupId: number, name: string, value: Uint8Array): void;
  getMeta(groupId: number, name: string): Uint8Array | undefined;
  /** Remove a group and all of its data. */
  dropGroup(groupId: number): void;
  /** Small values of the node itself, of no group; staged and committed like every other write. */
  putNodeMeta(name: string, value: Uint8Array): void;
  getNodeMeta(name: string): Uint8Array | undefined;

  /**
   * The number of synced batches this store has made durable since it was created (0 for a new
   * one). Every synced batch writes its number with itself, so a store whose files went back in
   * time reads back a lower number than it once reported: the broker tells its peers this number
   * and they tell it back at restart (see `partition/rollback-guard.ts`). Unsynced batches do not
   * count.
   */
  syncCounter(): number;

  /**
   * Make everything staged so far durable in one synced batch. Rejects with `STORAGE_FAILED`.
   *
   * With `{ sync: false }` the batch is written without waiting for the disk: its writes survive
   * a crash of the process but not a power loss — until a later synced batch, which makes every
   * earlier write durable too. For state that can be recomputed (commit indexes, state-machine
   * checkpoints), never for what a Raft message or an acknowledgement promises.
   */
  commit(options?: { readonly sync?: boolean }): Promise<void>;
  /**
   * Call `listener` with the group's id whenever a background load that `GroupLog.entries()`
   * started (answering `undefined`) finished: ask again now. One listener; a later call replaces it.
   */
  onEntriesLoaded(listener: (groupId: number) => void): void;
  /** Read committed entries `[lo, hi)` (at most `maxBytes`, at least one) without touching the cache. */
  readEntries(groupId: number, lo: number, hi: number, maxBytes: number): Promise<Entry[]>;
  close(): Promise<void>;
}

/** One group's synchronous view, as the Raft core needs it. */
export interface GroupLog extends RaftStorage {
  readonly groupId: number;
}
