import { type Entry, EntryType, NONE, type ReadState, Role } from '../../../src/raft/types.js';
import type { AppliedCommand } from './state-machine.js';

/** The properties the simulation checks; each violation names the one it broke. */
export type SafetyProperty =
  | 'Election Safety'
  | 'Leader Append-Only'
  | 'Log Matching'
  | 'Leader Completeness'
  | 'State Machine Safety'
  | 'Term and vote monotonic'
  | 'Commit within log'
  | 'Applied within commit'
  | 'Linearizable ReadIndex'
  | 'Ready contract'
  | 'Liveness';

/** A broken property, with what was seen. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly property: SafetyProperty,
    detail: string,
  ) {
    super(`${property}: ${detail}`);
  }
}

/** A node's log as stored: the entries after the snapshot at `snapshotIndex`. */
export interface LogView {
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  /** Entries `snapshotIndex + 1 ..`, consecutive. */
  readonly entries: readonly Entry[];
}

/** What the monitor sees of one running node after an event. */
export interface NodeView {
  readonly id: number;
  readonly term: number;
  readonly vote: number;
  readonly commit: number;
  readonly role: Role;
  readonly applied: number;
  readonly log: LogView;
}

function lastIndexOf(log: LogView): number {
  return log.snapshotIndex + log.entries.length;
}

/** Term of the entry at `index`, or undefined when the log does not hold it (compacted or beyond). */
function termAt(log: LogView, index: number): number | undefined {
  if (index === log.snapshotIndex) return log.snapshotTerm;
  return log.entries[index - log.snapshotIndex - 1]?.term;
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  return a.type === b.type && Buffer.from(a.data).equals(b.data);
}

function describe(e: { index: number; term: number; data: Uint8Array }): string {
  return `(index ${e.index}, term ${e.term}, data ${Buffer.from(e.data).toString('hex') || '-'})`;
}

/** A committed index, the term of its entry, and the lowest term in which a node knew it committed. */
interface CommittedEntry {
  readonly term: number;
  knownInTerm: number;
}

/**
 * Checks Raft's safety properties (Raft paper, Figure 3) over the whole history of a simulated
 * cluster. The simulator calls {@link observe} after every event with the state of every running
 * node, and reports applications, state-machine restores and reads as they happen; the first
 * violation throws an {@link InvariantViolation}.
 *
 * History survives crashes: what a node showed before it crashed binds it after it restarts.
 */
export class SafetyMonitor {
  /** Term → the node that was leader in it. */
  private readonly leaders = new Map<number, number>();
  /** Term → the log its leader was seen with (index → term), to check the leader only appends. */
  private readonly leaderLogs = new Map<number, number[]>();
  /** Index → term → the entry with that index and term, and its predecessor's term. */
  private readonly entries = new Map<number, Map<number, { entry: Entry; prevTerm: number }>>();
  /** Index → the entry committed there (sparse below snapshots a node was restored from). */
  private readonly committed: (CommittedEntry | undefined)[] = [];
  /** Index → the entry some node applied there. */
  private readonly applied: (Entry | undefined)[] = [];
  /** Node → the last term and vote it showed. */
  private readonly termVote = new Map<number, { term: number; vote: number }>();
  /** Read context (hex) → the highest index known committed when the read was requested. */
  private readonly readFloors = new Map<string, number>();
  private maxCommitted = 0;

  /** `bootstrapIndex`: the log prefix the cluster started from, as a snapshot holding no commands. */
  constructor(private readonly bootstrapIndex = 0) {}

  /** How many terms had a leader so far. */
  get leaderTerms(): number {
    return this.leaders.size;
  }

  /** Check every property over the running nodes' current state. */
  observe(nodes: readonly NodeView[]): void {
    for (const n of nodes) this.checkBounds(n);
    for (const n of nodes) this.checkTermVote(n);
    for (const n of nodes) this.checkLogMatching(n);
    for (const n of nodes) this.recordCommitted(n);
    for (const n of nodes) {
      if (n.role !== Role.Leader) continue;
      this.checkElectionSafety(n);
      this.checkLeaderAppendOnly(n);
      this.checkLeaderCompleteness(n);
    }
  }

  /** Node `nodeId` applied `entry` to its state machine. */
  appliedEntry(nodeId: number, entry: Entry): void {
    const earlier = this.applied[entry.index];
    if (earlier === undefined) {
      this.applied[entry.index] = entry;
    } else if (earlier.term !== entry.term || !sameEntry(earlier, entry)) {
      throw new InvariantViolation(
        'State Machine Safety',
        `node ${nodeId} applied ${describe(entry)} where ${describe(earlier)} was applied`,
      );
    }
  }

  /**
   * Node `nodeId` restored its state machine (from a snapshot, or from its durable copy after a
   * restart): `commands` at `appliedIndex` must be exactly what was applied up to that index.
   */
  restoredState(nodeId: number, appliedIndex: number, commands: readonly AppliedCommand[]): void {
    let k = 0;
    for (let i = this.bootstrapIndex + 1; i <= appliedIndex; i++) {
      const e = this.applied[i];
      if (e === undefined) {
        throw new InvariantViolation(
          'State Machine Safety',
          `node ${nodeId} restored a state at ${appliedIndex}, but nothing was ever applied at ${i}`,
        );
      }
      if (e.type !== EntryType.Normal || e.data.length === 0) continue;
      const c = commands[k++];
      if (c === undefined || c.index !== i || c.term !== e.term || !Buffer.from(c.data).equals(e.data)) {
        throw new InvariantViolation(
          'State Machine Safety',
          `node ${nodeId} restored a state at ${appliedIndex} holding ${c ? describe(c) : 'nothing'} where ${describe(e)} was applied`,
        );
      }
    }
    if (k !== commands.length) {
      throw new InvariantViolation(
        'State Machine Safety',
        `node ${nodeId} restored a state at ${appliedIndex} with ${commands.length - k} commands beyond it`,
      );
    }
  }

  /** A read with `context` was requested now. */
  readRequested(context: Uint8Array): void {
    this.readFloors.set(Buffer.from(context).toString('hex'), this.maxCommitted);
  }

  /**
   * Node `nodeId` got a read state: its index must cover every entry known committed when the
   * read was requested, or a read could miss an acknowledged write (linearizability).
   */
  readServed(nodeId: number, rs: ReadState): void {
    const key = Buffer.from(rs.context).toString('hex');
    const floor = this.readFloors.get(key);
    if (floor === undefined) {
      throw new InvariantViolation(
        'Linearizable ReadIndex',
        `node ${nodeId} got a read state for unknown context ${key}`,
      );
    }
    if (rs.index < floor) {
      throw new InvariantViolation(
        'Linearizable ReadIndex',
        `node ${nodeId} got read index ${rs.index} for context ${key}, but index ${floor} was committed before the read`,
      );
    }
  }

  private checkBounds(n: NodeView): void {
    const last = lastIndexOf(n.log);
    if (n.commit > last) {
      throw new InvariantViolation(
        'Commit within log',
        `node ${n.id} has commit ${n.commit} > last index ${last}`,
      );
    }
    if (n.applied > n.commit) {
      throw new InvariantViolation(
        'Applied within commit',
        `node ${n.id} has applied ${n.applied} > commit ${n.commit}`,
      );
    }
  }

  private checkTermVote(n: NodeView): void {
    const before = this.termVote.get(n.id);
    if (before !== undefined) {
      if (n.term < before.term) {
        throw new InvariantViolation(
          'Term and vote monotonic',
          `node ${n.id} term went from ${before.term} to ${n.term}`,
        );
      }
      if (n.term === before.term && before.vote !== NONE && n.vote !== before.vote) {
        throw new InvariantViolation(
          'Term and vote monotonic',
          `node ${n.id} changed its vote in term ${n.term} from ${before.vote} to ${n.vote}`,
        );
      }
    }
    this.termVote.set(n.id, { term: n.term, vote: n.vote });
  }

  /**
   * Log Matching, over all logs ever seen: an entry's index and term fix its content and its
   * predecessor's term, so (by induction) two logs holding the same (index, term) agree on every
   * entry up to it.
   */
  private checkLogMatching(n: NodeView): void {
    let prevTerm = n.log.snapshotTerm;
    for (const e of n.log.entries) {
      let byTerm = this.entries.get(e.index);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.entries.set(e.index, byTerm);
      }
      const seen = byTerm.get(e.term);
      if (seen === undefined) {
        byTerm.set(e.term, { entry: e, prevTerm });
      } else if (seen.entry !== e) {
        if (!sameEntry(seen.entry, e)) {
          throw new InvariantViolation(
            'Log Matching',
            `node ${n.id} holds ${describe(e)} but another log held ${describe(seen.entry)}`,
          );
        }
        if (seen.prevTerm !== prevTerm) {
          throw new InvariantViolation(
            'Log Matching',
            `node ${n.id} holds (index ${e.index}, term ${e.term}) after term ${prevTerm}, another log after term ${seen.prevTerm}`,
          );
        }
      }
      prevTerm = e.term;
    }
  }

  /**
   * Record what the node's commit index covers, and check that no two nodes ever count different
   * entries committed at the same index (so a committed entry is never lost or replaced).
   */
  private recordCommitted(n: NodeView): void {
    const from = n.log.snapshotIndex + 1;
    for (let i = from; i <= n.commit; i++) {
      const term = termAt(n.log, i)!;
      const c = this.committed[i];
      if (c === undefined) {
        this.committed[i] = { term, knownInTerm: n.term };
      } else if (c.term !== term) {
        throw new InvariantViolation(
          'State Machine Safety',
          `node ${n.id} committed (index ${i}, term ${term}) where (index ${i}, term ${c.term}) was committed`,
        );
      } else if (n.term < c.knownInTerm) {
        c.knownInTerm = n.term;
      }
    }
    if (n.commit > this.maxCommitted) this.maxCommitted = n.commit;
  }

  private checkElectionSafety(n: NodeView): void {
    const leader = this.leaders.get(n.term);
    if (leader === undefined) this.leaders.set(n.term, n.id);
    else if (leader !== n.id) {
      throw new InvariantViolation(
        'Election Safety',
        `nodes ${leader} and ${n.id} were both leader in term ${n.term}`,
      );
    }
  }

  private checkLeaderAppendOnly(n: NodeView): void {
    const before = this.leaderLogs.get(n.term);
    const now: number[] = before ?? [];
    if (before !== undefined) {
      const last = lastIndexOf(n.log);
      if (last < before.length - 1) {
        throw new InvariantViolation(
          'Leader Append-Only',
          `leader ${n.id} of term ${n.term} shrank its log from ${before.length - 1} to ${last}`,
        );
      }
      for (let i = n.log.snapshotIndex + 1; i < before.length; i++) {
        if (before[i] !== undefined && before[i] !== termAt(n.log, i)) {
          throw new InvariantViolation(
            'Leader Append-Only',
            `leader ${n.id} of term ${n.term} replaced term ${before[i]} at ${i} by ${termAt(n.log, i)}`,
          );
        }
      }
    }
    for (const e of n.log.entries) now[e.index] = e.term;
    this.leaderLogs.set(n.term, now);
  }

  /** Every entry committed in an earlier term is in the log of a leader of a later term (§5.4). */
  private checkLeaderCompleteness(n: NodeView): void {
    for (let i = 1; i < this.committed.length; i++) {
      const c = this.committed[i];
      if (c === undefined || c.knownInTerm >= n.term || i < n.log.snapshotIndex) continue;
      const term = termAt(n.log, i);
      if (term !== c.term) {
        throw new InvariantViolation(
          'Leader Completeness',
          `leader ${n.id} of term ${n.term} has ${term === undefined ? 'no entry' : `term ${term}`} at ${i}, where term ${c.term} was committed by term ${c.knownInTerm}`,
        );
      }
    }
  }
}
