import { RaftlogError } from '../errors.js';
import type { ConfState, HardState, Snapshot } from '../raft/types.js';
import type { RecoveredGroup } from './level-recovery.js';
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE, EMPTY_SNAPSHOT } from './log-checks.js';
import { TailCache } from './tail-cache.js';
import { TermIndex } from './term-index.js';

/** One group's state in memory: everything but the log itself, plus the recent tail of the log. */
export class GroupState {
  // What an append reads and writes comes first: with a thousand groups each append finds its
  // group's state out of the cache, and these fields then share the object's first cache line.
  damage: RaftlogError | undefined;
  lastIndex = 0;
  /** Term of `lastIndex` (the snapshot's when the log is empty). */
  lastTerm = 0;
  readonly terms = new TermIndex();
  readonly tail = new TailCache();
  /**
   * Number of the last batch this group staged entries into (also how recently it appended, for
   * the store's eviction), and the lowest index it wrote since its earlier batches were all
   * written: while that batch is unwritten, the tail cache is the only place the entries from
   * `pendingFrom` on can be read from. (No infinity for "none": a field that ever holds a
   * non-integer is boxed, one more object to touch on every append.)
   */
  pendingBatch = 0;
  pendingFrom = 0;
  /** Whether the group is in the store's list of tails to trim once their batch is written. */
  overBudget = false;
  snapshot: Snapshot = EMPTY_SNAPSHOT;
  hardState: HardState = EMPTY_HARD_STATE;
  confState: ConfState = EMPTY_CONF_STATE;
  readonly meta = new Map<string, Uint8Array>();
  /** Bumped whenever entries are overwritten or dropped, so a background load in flight is discarded. */
  generation = 0;
  loading = false;
  /** Keys found by recovery for a damaged group, so `dropGroup` removes them all. */
  damagedKeys: Buffer[] = [];
  /** Lowest index that may have an entry on disk (recovery may find entries below the snapshot). */
  lowestEntry = 1;
  readonly groupId: number;

  constructor(groupId: number) {
    this.groupId = groupId;
  }

  /** The state recovery found on disk; damaged if its records fail a check or disagree. */
  static recovered(groupId: number, r: RecoveredGroup): GroupState {
    const g = new GroupState(groupId);
    if (r.snapshot !== undefined) g.snapshot = r.snapshot;
    if (r.hardState !== undefined) g.hardState = r.hardState;
    if (r.confState !== undefined) g.confState = r.confState;
    for (const [name, value] of r.meta) g.meta.set(name, value);
    for (const [start, term] of r.termRuns) g.terms.addRun(start, term);
    g.lastIndex = r.lastEntry?.index ?? g.snapshot.meta.index;
    g.lastTerm = r.lastEntry?.term ?? g.snapshot.meta.term;
    g.lowestEntry = Math.min(r.firstEntry?.index ?? g.firstIndex, g.firstIndex);
    const damage = r.damage ?? inconsistency(g, r);
    if (damage !== undefined) {
      g.damagedKeys = r.keys;
      g.damage = new RaftlogError('STORAGE_CORRUPT', `group ${groupId} is damaged: ${damage}`, {
        details: { groupId },
      });
    }
    return g;
  }

  get firstIndex(): number {
    return this.snapshot.meta.index + 1;
  }

  /**
   * Lowest index the tail cache must keep once batch `written` and those before it are written:
   * entries not yet written are found only there.
   */
  keepFrom(written: number): number {
    return this.pendingBatch > written ? this.pendingFrom : Number.POSITIVE_INFINITY;
  }

  /** Records that entries from `index` on were staged into batch `staging`. */
  staged(index: number, staging: number, written: number): void {
    if (this.pendingBatch <= written || index < this.pendingFrom) this.pendingFrom = index;
    this.pendingBatch = staging;
  }

  /** Term of `index`, which must be in `firstIndex - 1 .. lastIndex`. */
  termAt(index: number): number {
    return index === this.snapshot.meta.index ? this.snapshot.meta.term : this.terms.termAt(index);
  }
}

/** A group no write has created: what reads of an unknown group see. Never written to. */
export const NO_GROUP = new GroupState(0);

/** Why a recovered group's records disagree with each other, if they do. */
function inconsistency(g: GroupState, r: RecoveredGroup): string | undefined {
  if (r.firstEntry === undefined || r.lastEntry === undefined) return undefined;
  if (r.firstEntry.index !== g.firstIndex) {
    return `log starts at ${r.firstEntry.index}, snapshot is at ${g.snapshot.meta.index}`;
  }
  const runs = g.terms.runs();
  if (runs.length === 0 || runs[0]![0] > r.firstEntry.index) return 'term index does not cover the log';
  if (
    g.terms.termAt(r.firstEntry.index) !== r.firstEntry.term ||
    g.terms.termAt(r.lastEntry.index) !== r.lastEntry.term
  ) {
    return 'term index disagrees with the log';
  }
  return undefined;
}
