import type { ConfState, Entry, HardState, Snapshot } from '../../../src/raft/types.js';
import { EntryType } from '../../../src/raft/types.js';
import { MemoryLogStore } from '../../../src/storage/memory-log-store.js';

/** The group id every scenario node keeps its one Raft group under. */
export const GROUP = 1;

/** A node's persisted state before a scenario starts (for example one of Figure 7's logs). */
export interface LogState {
  readonly snapshot?: Snapshot;
  /** Entries following the snapshot (or starting at index 1). */
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState;
  /** Membership; defaults to the snapshot's. */
  readonly confState?: ConfState;
}

const encoder = new TextEncoder();

/** A membership with the given voters and learners, not joint. */
export function membership(voters: readonly number[], learners: readonly number[] = []): ConfState {
  return {
    voters: [...voters],
    learners: [...learners],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
}

/** A normal entry; its data defaults to `"<term>/<index>"`, so entries of different terms differ. */
export function entry(index: number, term: number, data = `${term}/${index}`): Entry {
  return { index, term, type: EntryType.Normal, data: encoder.encode(data) };
}

/** Consecutive normal entries from `firstIndex`, one per term listed: the paper's log pictures. */
export function entriesWithTerms(terms: readonly number[], firstIndex = 1): Entry[] {
  return terms.map((term, i) => entry(firstIndex + i, term));
}

/**
 * A store holding `state` durably, as if earlier `Ready`s had been persisted. A bootstrapped node
 * starts from a snapshot whose data is an empty state machine.
 */
export function seededStore(state: LogState): MemoryLogStore {
  const store = new MemoryLogStore();
  if (state.snapshot !== undefined) store.applySnapshot(GROUP, state.snapshot);
  if (state.entries !== undefined && state.entries.length > 0) store.append(GROUP, state.entries);
  if (state.hardState !== undefined) store.setHardState(GROUP, state.hardState);
  if (state.confState !== undefined) store.setConfState(GROUP, state.confState);
  store.commitSync();
  return store;
}

/** Every entry a store holds, first to last. */
export function storedEntries(store: MemoryLogStore): readonly Entry[] {
  const log = store.group(GROUP);
  if (log.lastIndex() < log.firstIndex()) return [];
  const entries = log.entries(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  if (entries === undefined) throw new Error('a memory store always has its entries in memory');
  return entries;
}
