import { RaftlogError } from '../errors.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';

/**
 * Argument and bound checks shared by every {@link LogStore} implementation, so both stores
 * refuse the same inputs with the same error codes.
 */

/** The membership of a group that has none yet. */
export const EMPTY_CONF_STATE: ConfState = Object.freeze({
  voters: [],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
});

/** The hard state of a group that has none yet. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** The snapshot of a group that has none yet (index 0, term 0). */
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  meta: Object.freeze({ index: 0, term: 0, confState: EMPTY_CONF_STATE }),
  data: new Uint8Array(0),
});

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function invalid(message: string, details?: Record<string, unknown>): RaftlogError {
  return new RaftlogError('INVALID_REQUEST', message, { details });
}

export function checkGroupId(groupId: number): void {
  if (!Number.isInteger(groupId) || groupId < 0 || groupId > 0xffff_ffff) {
    throw invalid(`group id must be an unsigned 32-bit integer, got ${groupId}`, { groupId });
  }
}

/** Checks that `entries` carry valid numbers, consecutive indexes and non-decreasing terms. */
export function checkEntries(entries: readonly Entry[]): void {
  // An indexed loop: on every append, `for...of` cost as much again as the checks themselves.
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!isIndex(e.index) || e.index === 0 || !isIndex(e.term) || !(e.data instanceof Uint8Array)) {
      throw invalid(`malformed entry at index ${e.index}`, { index: e.index });
    }
    const previous = i > 0 ? entries[i - 1]! : undefined;
    if (previous !== undefined && (e.index !== previous.index + 1 || e.term < previous.term)) {
      throw invalid(`entries must have consecutive indexes and non-decreasing terms (at ${e.index})`, {
        index: e.index,
      });
    }
  }
}

/** Checks where an append may start: above the snapshot and at most one past the last entry. */
export function checkAppendStart(
  groupId: number,
  first: Entry,
  snapshotIndex: number,
  lastIndex: number,
): void {
  if (first.index <= snapshotIndex) {
    throw new RaftlogError(
      'LOG_COMPACTED',
      `group ${groupId}: append at ${first.index} is inside the snapshot`,
      {
        details: { groupId, index: first.index, snapshotIndex },
      },
    );
  }
  if (first.index > lastIndex + 1) {
    throw new RaftlogError(
      'LOG_UNAVAILABLE',
      `group ${groupId}: append at ${first.index} leaves a gap after ${lastIndex}`,
      { details: { groupId, index: first.index, lastIndex } },
    );
  }
}

/** Checks that an append (whose start passed {@link checkAppendStart}) does not lower the term. */
export function checkAppendTerm(groupId: number, first: Entry, termBefore: number): void {
  if (first.term < termBefore) {
    throw invalid(`group ${groupId}: entry ${first.index} has a term below its predecessor's`, {
      groupId,
      index: first.index,
    });
  }
}

/** Checks a read of entries `[lo, hi)` against the log `firstIndex .. lastIndex`. */
export function checkRange(
  groupId: number,
  lo: number,
  hi: number,
  maxBytes: number,
  firstIndex: number,
  lastIndex: number,
): void {
  if (!isIndex(lo) || !isIndex(hi) || lo > hi || !isIndex(maxBytes)) {
    throw invalid(`group ${groupId}: bad range [${lo}, ${hi}) or maxBytes ${maxBytes}`, { groupId, lo, hi });
  }
  if (lo < firstIndex) {
    throw new RaftlogError('LOG_COMPACTED', `group ${groupId}: entries before ${firstIndex} are compacted`, {
      details: { groupId, lo, firstIndex },
    });
  }
  if (hi > lastIndex + 1) {
    throw new RaftlogError('LOG_UNAVAILABLE', `group ${groupId}: entries after ${lastIndex} do not exist`, {
      details: { groupId, hi, lastIndex },
    });
  }
}

/** Checks that `term(index)` can be answered for a log `firstIndex .. lastIndex`. */
export function checkTermIndex(groupId: number, index: number, firstIndex: number, lastIndex: number): void {
  if (!isIndex(index)) throw invalid(`group ${groupId}: bad index ${index}`, { groupId, index });
  if (index < firstIndex - 1) {
    throw new RaftlogError('LOG_COMPACTED', `group ${groupId}: term of ${index} is compacted`, {
      details: { groupId, index, firstIndex },
    });
  }
  if (index > lastIndex) {
    throw new RaftlogError('LOG_UNAVAILABLE', `group ${groupId}: no entry at ${index}`, {
      details: { groupId, index, lastIndex },
    });
  }
}

export function checkHardState(hs: HardState): void {
  if (!isIndex(hs.term) || !isIndex(hs.vote) || !isIndex(hs.commit)) {
    throw invalid('hard state must hold safe non-negative integers', { ...hs });
  }
}

export function checkConfState(cs: ConfState): void {
  const lists = [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext];
  if (!lists.every((l) => Array.isArray(l) && l.every(isIndex)) || typeof cs.autoLeave !== 'boolean') {
    throw invalid('malformed configuration state');
  }
}

export function checkSnapshot(snapshot: Snapshot): void {
  const { meta } = snapshot;
  if (!isIndex(meta.index) || !isIndex(meta.term) || !(snapshot.data instanceof Uint8Array)) {
    throw invalid('malformed snapshot');
  }
  checkConfState(meta.confState);
}

/** Refuses a snapshot that does not move past the group's current one. */
export function checkSnapshotNewer(groupId: number, snapshot: Snapshot, currentIndex: number): void {
  if (snapshot.meta.index <= currentIndex) {
    throw new RaftlogError(
      'SNAPSHOT_OUT_OF_DATE',
      `group ${groupId}: snapshot at ${snapshot.meta.index} is not newer than ${currentIndex}`,
      { details: { groupId, index: snapshot.meta.index, snapshotIndex: currentIndex } },
    );
  }
}

/**
 * Checks a snapshot the group took itself (`compact`): it must cover an entry the log holds, with
 * that entry's term.
 */
export function checkCompaction(
  groupId: number,
  snapshot: Snapshot,
  lastIndex: number,
  termAt: () => number,
): void {
  const { index, term } = snapshot.meta;
  if (index > lastIndex) {
    throw new RaftlogError(
      'LOG_UNAVAILABLE',
      `group ${groupId}: cannot compact to ${index} past ${lastIndex}`,
      {
        details: { groupId, index, lastIndex },
      },
    );
  }
  if (termAt() !== term) {
    throw invalid(`group ${groupId}: snapshot term ${term} does not match the entry at ${index}`, {
      groupId,
      index,
    });
  }
}

export function checkMetaName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw invalid('meta name must be a non-empty string');
}

/**
 * How many of `entries` (from the start) fit in `maxBytes` of entry data: always at least one
 * when there is any.
 */
export function countWithinBytes(
  entries: readonly Entry[],
  from: number,
  to: number,
  maxBytes: number,
): number {
  let bytes = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    bytes += entries[i]!.data.length;
    if (n > 0 && bytes > maxBytes) break;
    n++;
  }
  return n;
}
