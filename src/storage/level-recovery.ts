import type { Level } from 'level';
import type { ConfState, HardState, Snapshot } from '../raft/types.js';
import { decodeKey, entryKey, groupLowerBound, groupUpperBound, Kind } from './level-keys.js';
import {
  decodeBytes,
  decodeConfState,
  decodeEntry,
  decodeHardState,
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

/**
 * Rebuilds every group's in-memory state from the database without reading the log: per group
 * it reads the small records (hard state, membership, snapshot, meta values, term runs) and only
 * the first and last entry, seeking past everything in between. Opening a store of a million
 * entries costs a few reads per group, not a scan of the log.
 */
export async function recoverGroups(db: LevelDb): Promise<Map<number, RecoveredGroup>> {
  const groups = new Map<number, RecoveredGroup>();
  const it = db.iterator({ gte: groupLowerBound(0, Kind.HardState) });
  try {
    for (let item = await it.next(); item !== undefined; item = await it.next()) {
      const [key, value] = item;
      const decoded = decodeKey(key);
      if (decoded === undefined) continue;
      const { groupId } = decoded;
      let g = groups.get(groupId);
      if (g === undefined) {
        g = { meta: new Map(), termRuns: [], keys: [] };
        groups.set(groupId, g);
      }
      if (decoded.kind === Kind.Entry) {
        g.firstEntry = readEntryTerm(g, key, decoded.index, value);
        g.lastEntry = await readLastEntry(db, g, groupId);
        // Entries are a group's last kind of key: go straight to the next group.
        if (groupId === 0xffff_ffff) break;
        it.seek(groupLowerBound(groupId + 1, Kind.HardState));
        continue;
      }
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
  } finally {
    await it.close();
  }
  return groups;
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

async function readLastEntry(
  db: LevelDb,
  g: RecoveredGroup,
  groupId: number,
): Promise<{ index: number; term: number }> {
  const it = db.iterator({
    gte: entryKey(groupId, 0),
    lt: groupUpperBound(groupId),
    reverse: true,
    limit: 1,
  });
  try {
    const [key, value] = (await it.next())!;
    const decoded = decodeKey(key);
    const index = decoded?.kind === Kind.Entry ? decoded.index : -1;
    return readEntryTerm(g, key, index, value);
  } finally {
    await it.close();
  }
}
