import { Packr } from 'msgpackr';
import { type Entry, EntryType } from '../../../src/raft/types.js';

const packr = new Packr({ useRecords: false });

/** One application command a node has applied. */
export interface AppliedCommand {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/**
 * The simulated application: the list of applied normal entries that carry data, and the index
 * applied so far. Its encoded form is what snapshots carry and what the driver keeps durable
 * next to the log, so a restarted node resumes from exactly what it had applied.
 */
export class ListStateMachine {
  private constructor(
    private appliedIndex: number,
    private readonly commands: AppliedCommand[],
  ) {}

  /** A state machine with no commands, as of `applied` (a bootstrap snapshot's index, or 0). */
  static empty(applied = 0): ListStateMachine {
    return new ListStateMachine(applied, []);
  }

  /** Rebuild from {@link encode}'s output. */
  static decode(bytes: Uint8Array): ListStateMachine {
    const wire = packr.unpack(bytes) as { applied: number; commands: [number, number, Uint8Array][] };
    return new ListStateMachine(
      wire.applied,
      wire.commands.map(([index, term, data]) => ({ index, term, data })),
    );
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get state(): readonly AppliedCommand[] {
    return this.commands;
  }

  /** Apply the next committed entry (its index must follow `applied`). */
  apply(entry: Entry): void {
    this.appliedIndex = entry.index;
    if (entry.type === EntryType.Normal && entry.data.length > 0) {
      this.commands.push({ index: entry.index, term: entry.term, data: entry.data });
    }
  }

  encode(): Uint8Array {
    return packr.pack({
      applied: this.appliedIndex,
      commands: this.commands.map((c) => [c.index, c.term, c.data]),
    });
  }
}
