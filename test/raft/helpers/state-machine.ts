import type { Entry, Snapshot } from '../../../src/raft/types.js';
import { EntryType } from '../../../src/raft/types.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One applied application entry: its log index and its data as text. */
export type AppliedItem = readonly [index: number, data: string];

/**
 * The scenario tests' state machine: the list of application entries applied so far. Its
 * snapshot is that list as JSON, so a follower restored from a snapshot can be compared with the
 * leader item by item.
 */
export class ListStateMachine {
  /** Index of the last entry applied (or of the snapshot restored). */
  applied = 0;
  items: AppliedItem[] = [];

  /** Applies the next committed entry; no-ops and membership changes only move `applied`. */
  apply(entry: Entry): void {
    if (entry.index !== this.applied + 1) {
      throw new Error(`applied entry ${entry.index} out of order (last applied ${this.applied})`);
    }
    this.applied = entry.index;
    if (entry.type === EntryType.Normal && entry.data.length > 0)
      this.items.push([entry.index, decoder.decode(entry.data)]);
  }

  /** The state machine's bytes as of `applied`. */
  snapshotData(): Uint8Array {
    return encoder.encode(JSON.stringify(this.items));
  }

  restore(snapshot: Snapshot): void {
    const { data, meta } = snapshot;
    this.items = data.length === 0 ? [] : (JSON.parse(decoder.decode(data)) as AppliedItem[]);
    this.applied = meta.index;
  }

  /** The applied data, in order. */
  values(): string[] {
    return this.items.map(([, data]) => data);
  }
}
