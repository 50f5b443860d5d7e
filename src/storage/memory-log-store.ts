import { RaftlogError } from '../errors.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';
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
  checkTermIndex,
  countWithinBytes,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
} from './log-checks.js';
import type { GroupLog, LogStore } from './log-store.js';

/** One group's state: `entries[0]` (if any) has index `snapshot.meta.index + 1`. */
interface MemoryGroup {
  snapshot: Snapshot;
  entries: Entry[];
  hardState: HardState;
  confState: ConfState;
  meta: Map<string, Uint8Array>;
}

type Groups = Map<number, MemoryGroup>;

/** A staged write, replayed on the durable copy at commit. */
type StagedWrite = (groups: Groups) => void;

function emptyGroup(): MemoryGroup {
  return {
    snapshot: EMPTY_SNAPSHOT,
    entries: [],
    hardState: EMPTY_HARD_STATE,
    confState: EMPTY_CONF_STATE,
    meta: new Map(),
  };
}

function groupIn(groups: Groups, groupId: number): MemoryGroup {
  let g = groups.get(groupId);
  if (g === undefined) {
    g = emptyGroup();
    groups.set(groupId, g);
  }
  return g;
}

function cloneGroups(groups: Groups): Groups {
  const copy: Groups = new Map();
  for (const [id, g] of groups) copy.set(id, { ...g, entries: [...g.entries], meta: new Map(g.meta) });
  return copy;
}

function lastIndexOf(g: MemoryGroup): number {
  return g.snapshot.meta.index + g.entries.length;
}

/** Term at `index`, which must be in `snapshot index .. last index`. */
function termOf(g: MemoryGroup, index: number): number {
  const snapIndex = g.snapshot.meta.index;
  return index === snapIndex ? g.snapshot.meta.term : g.entries[index - snapIndex - 1]!.term;
}

/**
 * A {@link LogStore} held in memory, with explicit crash semantics for the deterministic
 * simulator: staged writes are visible to reads at once, `commit()` / `commitSync()` make them
 * durable, and `crash()` yields the store a restarted process would find (only committed writes).
 */
export class MemoryLogStore implements LogStore {
  /** What reads see: durable state plus staged writes. */
  #live: Groups;
  /** What survives a crash. */
  #durable: Groups;
  #staged: StagedWrite[] = [];
  #closed = false;
  /** Node meta values: what reads see, and what survives a crash. */
  #liveNodeMeta = new Map<string, Uint8Array>();
  #durableNodeMeta = new Map<string, Uint8Array>();
  #syncCounter = 0;

  constructor() {
    this.#live = new Map();
    this.#durable = new Map();
  }

  /** Writes staged since the last commit (they are lost by `crash()`). */
  get pendingWrites(): number {
    return this.#staged.length;
  }

  groups(): number[] {
    this.#checkOpen();
    return [...this.#live.keys()].sort((a, b) => a - b);
  }

  group(groupId: number): GroupLog {
    this.#checkOpen();
    checkGroupId(groupId);
    return new MemoryGroupLog(groupId, () => this.#read(groupId));
  }

  damagedGroups(): number[] {
    return [];
  }

  append(groupId: number, entries: readonly Entry[]): void {
    this.#checkOpen();
    checkGroupId(groupId);
    checkEntries(entries);
    if (entries.length === 0) return;
    const g = this.#read(groupId);
    const first = entries[0]!;
    const snapIndex = g.snapshot.meta.index;
    checkAppendStart(groupId, first, snapIndex, lastIndexOf(g));
    checkAppendTerm(groupId, first, termOf(g, first.index - 1));
    const copy = [...entries];
    this.#stage(groupId, (s) => {
      s.entries.length = first.index - snapIndex - 1;
      s.entries.push(...copy);
    });
  }

  setHardState(groupId: number, hardState: HardState): void {
    this.#checkOpen();
    checkGroupId(groupId);
    checkHardState(hardState);
    const hs = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    this.#stage(groupId, (s) => {
      s.hardState = hs;
    });
  }

  setConfState(groupId: number, confState: ConfState): void {
    this.#checkOpen();
    checkGroupId(groupId);
    checkConfState(confState);
    this.#stage(groupId, (s) => {
      s.confState = confState;
    });
  }

  applySnapshot(groupId: number, snapshot: Snapshot): void {
    this.#checkOpen();
    checkGroupId(groupId);
    checkSnapshot(snapshot);
    const g = this.#read(groupId);
    checkSnapshotNewer(groupId, snapshot, g.snapshot.meta.index);
    const { index, term } = snapshot.meta;
    const matches = index <= lastIndexOf(g) && termOf(g, index) === term;
    this.#stage(groupId, (s) => {
      s.entries = matches ? s.entries.slice(index - s.snapshot.meta.index) : [];
      s.snapshot = snapshot;
      s.confState = snapshot.meta.confState;
    });
  }

  compact(groupId: number, snapshot: Snapshot): void {
    this.#checkOpen();
    checkGroupId(groupId);
    checkSnapshot(snapshot);
    const g = this.#read(groupId);
    checkSnapshotNewer(groupId, snapshot, g.snapshot.meta.index);
    const { index } = snapshot.meta;
    checkCompaction(groupId, snapshot, lastIndexOf(g), () => termOf(g, index));
    this.#stage(groupId, (s) => {
      s.entries = s.entries.slice(index - s.snapshot.meta.index);
      s.snapshot = snapshot;
    });
  }

  putMeta(groupId: number, name: string, value: Uint8Array): void {
    this.#checkOpen();
    checkGroupId(groupId);
    checkMetaName(name);
    const copy = Uint8Array.from(value);
    this.#stage(groupId, (s) => {
      s.meta.set(name, copy);
    });
  }

  getMeta(groupId: number, name: string): Uint8Array | undefined {
    this.#checkOpen();
    checkGroupId(groupId);
    return this.#live.get(groupId)?.meta.get(name);
  }

  dropGroup(groupId: number): void {
    this.#checkOpen();
    checkGroupId(groupId);
    const write: StagedWrite = (groups) => {
      groups.delete(groupId);
    };
    write(this.#live);
    this.#staged.push(write);
  }

  putNodeMeta(name: string, value: Uint8Array): void {
    this.#checkOpen();
    checkMetaName(name);
    const copy = Uint8Array.from(value);
    this.#liveNodeMeta.set(name, copy);
    this.#staged.push(() => this.#durableNodeMeta.set(name, copy));
  }

  getNodeMeta(name: string): Uint8Array | undefined {
    this.#checkOpen();
    return this.#liveNodeMeta.get(name);
  }

  syncCounter(): number {
    return this.#syncCounter;
  }

  async commit(options?: { readonly sync?: boolean }): Promise<void> {
    // An unsynced commit is modelled at its worst (a power loss): nothing durable until a sync.
    if (options?.sync === false) return this.#checkOpen();
    this.commitSync();
  }

  /** `commit()` for callers that cannot await (the deterministic simulator). */
  commitSync(): void {
    this.#checkOpen();
    if (this.#staged.length === 0) return;
    for (const write of this.#staged) write(this.#durable);
    this.#staged = [];
    this.#syncCounter++;
  }

  /**
   * The store a restarted process would open: only what was committed, staged writes lost. This
   * store stays usable (the simulator may keep it to compare).
   */
  crash(): MemoryLogStore {
    const restarted = new MemoryLogStore();
    restarted.#durable = cloneGroups(this.#durable);
    restarted.#live = cloneGroups(this.#durable);
    restarted.#durableNodeMeta = new Map(this.#durableNodeMeta);
    restarted.#liveNodeMeta = new Map(this.#durableNodeMeta);
    restarted.#syncCounter = this.#syncCounter;
    return restarted;
  }

  /** Never called: every entry is in memory, `entries()` never answers `undefined`. */
  onEntriesLoaded(_listener: (groupId: number) => void): void {}

  async readEntries(groupId: number, lo: number, hi: number, maxBytes: number): Promise<Entry[]> {
    this.#checkOpen();
    checkGroupId(groupId);
    return [...readRange(groupId, this.#read(groupId), lo, hi, maxBytes)];
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #read(groupId: number): MemoryGroup {
    return this.#live.get(groupId) ?? emptyGroup();
  }

  /** Applies `change` to the group's live state now and queues it for the durable state. */
  #stage(groupId: number, change: (g: MemoryGroup) => void): void {
    const write: StagedWrite = (groups) => change(groupIn(groups, groupId));
    write(this.#live);
    this.#staged.push(write);
  }

  #checkOpen(): void {
    if (this.#closed) throw new RaftlogError('STORAGE_CLOSED', 'the log store is closed');
  }
}

function readRange(
  groupId: number,
  g: MemoryGroup,
  lo: number,
  hi: number,
  maxBytes: number,
): readonly Entry[] {
  const snapIndex = g.snapshot.meta.index;
  checkRange(groupId, lo, hi, maxBytes, snapIndex + 1, lastIndexOf(g));
  const from = lo - snapIndex - 1;
  return g.entries.slice(from, from + countWithinBytes(g.entries, from, hi - snapIndex - 1, maxBytes));
}

/** The Raft core's view of one group of a {@link MemoryLogStore}. */
class MemoryGroupLog implements GroupLog {
  readonly groupId: number;
  readonly #state: () => MemoryGroup;

  constructor(groupId: number, state: () => MemoryGroup) {
    this.groupId = groupId;
    this.#state = state;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const g = this.#state();
    return { hardState: g.hardState, confState: g.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): readonly Entry[] {
    return readRange(this.groupId, this.#state(), lo, hi, maxBytes);
  }

  term(index: number): number {
    const g = this.#state();
    checkTermIndex(this.groupId, index, g.snapshot.meta.index + 1, lastIndexOf(g));
    return termOf(g, index);
  }

  firstIndex(): number {
    return this.#state().snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return lastIndexOf(this.#state());
  }

  snapshot(): Snapshot {
    return this.#state().snapshot;
  }
}
