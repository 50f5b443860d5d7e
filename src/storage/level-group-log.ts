import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';
import type { GroupState } from './group-state.js';
import { checkTermIndex } from './log-checks.js';
import type { GroupLog } from './log-store.js';

export type CachedEntries = (
  g: GroupState,
  lo: number,
  hi: number,
  maxBytes: number,
) => readonly Entry[] | undefined;

/** The Raft core's view of one group of a {@link LevelLogStore}. */
export class LevelGroupLog implements GroupLog {
  readonly groupId: number;
  readonly #state: () => GroupState;
  readonly #entries: CachedEntries;

  constructor(groupId: number, state: () => GroupState, entries: CachedEntries) {
    this.groupId = groupId;
    this.#state = state;
    this.#entries = entries;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const g = this.#state();
    return { hardState: g.hardState, confState: g.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): readonly Entry[] | undefined {
    return this.#entries(this.#state(), lo, hi, maxBytes);
  }

  term(index: number): number {
    const g = this.#state();
    checkTermIndex(this.groupId, index, g.firstIndex, g.lastIndex);
    return g.termAt(index);
  }

  firstIndex(): number {
    return this.#state().firstIndex;
  }

  lastIndex(): number {
    return this.#state().lastIndex;
  }

  snapshot(): Snapshot {
    return this.#state().snapshot;
  }
}
