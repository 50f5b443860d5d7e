import type { Level } from 'level';
import type { ConfState, HardState, Snapshot } from '../raft/types.js';
import {
  type DecodedKey,
  decodeKey,
  groupLowerBound,
  groupUpperBound,
  Kind,
  NODE_META_KEY,
  SYNC_COUNTER_KEY,
} from './level-keys.js';
import {
  decodeBytes,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeNamedBytes,
  decodeNumber,
  decodeSnapshot,
} from './record-codec.js';

/** What recovery found of one group on disk, before any consistency check. */
export interface RecoveredGroup {
  hardState?: HardState;
  confState?: ConfState;
  snapshot?: Snapshot;
  readonly meta: Map<string, Uint8Array>;
  /** Persisted term runs `[firstIndex, term]`, in index order. */
  readonly termRuns: Array<[number, number]>;
  /** Lowest and highest entry on disk, with their terms as stored. */
  firstEntry?: { index: number; term: number };
  lastEntry?: { index: number; term: number };
  /** Why the group cannot be trusted (a record failed its check, or the records disagree). */
  damage?: string;
  /** Every non-entry key of the group, so even a damaged group can be dropped completely. */
  readonly keys: Buffer[];
}

export type LevelDb = Level<Buffer, Buffer>;

/** The node's own records: the last synced batch's number and the node's meta values. */
export interface RecoveredNode {
  readonly syncCounter: number;
  readonly meta: Map<string, Uint8Array>;
}

/** Reads the node's own records; one that fails its check raises `STORAGE_CORRUPT`. */
export async function recoverNode(db: LevelDb): Promise<RecoveredNode> {
  const [counter, meta] = await db.getMany([SYNC_COUNTER_KEY, NODE_META_KEY]);
  return {
    syncCounter: counter === undefined ? 0 : decodeNumber(SYNC_COUNTER_KEY, counter),
    meta: meta === undefined ? new Map() : decodeNamedBytes(NODE_META_KEY, meta),
  };
}

/**
 * Rebuilds every group's in-memory state from the database without reading the log: per group
 * it reads the small records (hard state, membership, snapshot, meta values, term runs) and only
 * the first and last entry, seeking past everything in between. Opening a store of a million
 * entries costs a few reads per group, not a scan of the log.
 */
export async function recoverGroups(db: LevelDb): Promise<Map<number, RecoveredGroup>> {
  const groups = new Map<number, RecoveredGroup>();
  const withEntries: number[] = [];
  // Walk forward through each group's small records up to its first entry, then seek to the
  // next group.
  const records = db.iterator({ gte: groupLowerBound(0, Kind.HardState) });
  try {
    for (;;) {
      // Few records precede a group's first entry: read them in small steps, not with the
      // iterator's usual read-ahead.
      const items = await records.nextv(8);
      if (items.length === 0) break;
      let next: number | undefined;
      for (const [key, value] of items) {
        const decoded = decodeKey(key);
        if (decoded === undefined) continue;
        const g = groupIn(groups, decoded.groupId);
        if (decoded.kind === Kind.Entry) {
          g.firstEntry = readEntryTerm(g, key, decoded.index, value);
          withEntries.push(decoded.groupId);
          next = decoded.groupId + 1;
          break;
        }
        readRecord(g, key, decoded, value);
      }
      if (next !== undefined) {
        // Entries are a group's last kind of key: go straight to the next group.
        if (next > 0xffff_ffff) break;
        records.seek(groupLowerBound(next, Kind.HardState));
      }
    }
  } finally {
    await records.close();
  }
  // Then each group's last entry, with a few reverse iterators seeking in parallel.
  let cursor = 0;
  const findLastEntries = async (): Promise<void> => {
    const it = db.iterator({ reverse: true });
    try {
      while (cursor < withEntries.length) {
        const groupId = withEntries[cursor++]!;
        const g = groups.get(groupId)!;
        it.seek(groupUpperBound(groupId));
        const [key, value] = (await it.next())!;
        const decoded = decodeKey(key);
        g.lastEntry = readEntryTerm(g, key, decoded?.kind === Kind.Entry ? decoded.index : -1, value);
      }
    } finally {
      await it.close();
    }
  };
  await Promise.all([findLastEntries(), findLastEntries(), findLastEntries(), findLastEntries()]);
  return groups;
}

function groupIn(groups: Map<number, RecoveredGroup>, groupId: number): RecoveredGroup {
  let g = groups.get(groupId);
  if (g === undefined) {
    g = { meta: new Map(), termRuns: [], keys: [] };
    groups.set(groupId, g);
  }
  return g;
}

function readRecord(g: RecoveredGroup, key: Buffer, decoded: DecodedKey, value: Buffer): void {
  g.keys.push(key);
  try {
    switch (decoded.kind) {
      case Kind.HardState:
        g.hardState = decodeHardState(key, value);
        break;
      case Kind.ConfState:
        g.confState = decodeConfState(key, value);
        break;
      case Kind.Snapshot:
        g.snapshot = decodeSnapshot(key, value);
        break;
      case Kind.Meta:
        g.meta.set(decoded.name, decodeBytes(key, value));
        break;
      case Kind.TermRun:
        g.termRuns.push([decoded.index, decodeNumber(key, value)]);
        break;
    }
  } catch (err) {
    g.damage ??= (err as Error).message;
  }
}

function readEntryTerm(
  g: RecoveredGroup,
  key: Buffer,
  index: number,
  value: Buffer,
): { index: number; term: number } {
  try {
    return { index, term: decodeEntry(key, index, value).term };
  } catch (err) {
    g.damage ??= (err as Error).message;
    return { index, term: -1 };
  }
}
