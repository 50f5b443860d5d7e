import { RaftlogError } from '../errors.js';
import { type GroupStateMachine, isBootstrapSnapshot } from '../partition/host.js';
import { type Entry, EntryType, type Snapshot } from '../raft/types.js';
import type { LogStore } from '../storage/log-store.js';
import { decodeGroupCommand, GroupsState } from './group-state.js';
import { isCount, packTagged, unpackTagged } from './tagged-msgpack.js';

const CHECKPOINT_KEY = 'group-coordinator-state';
const CHECKPOINT_FORMAT = 1;
/** Applied entries between two checkpoints; a restart re-applies at most this many. */
const CHECKPOINT_INTERVAL = 64;

/**
 * The state machine of one partition of the internal topic `__consumer_groups`: the
 * {@link GroupsState} of the consumer groups it coordinates, made durable by checkpoints (the
 * whole state with its applied index) staged in the store every {@link CHECKPOINT_INTERVAL}
 * entries; after a restart Raft hands the entries above the checkpoint out again.
 */
export class GroupCoordinatorMachine implements GroupStateMachine {
  readonly state = new GroupsState();
  readonly durableApplied: number;
  #applied = 0;
  /** Term of the last applied entry: a leader whose own no-op is applied serves fresh state. */
  #appliedTerm = 0;
  #sinceCheckpoint = 0;

  constructor(
    private readonly store: LogStore,
    private readonly group: number,
  ) {
    const saved = store.getMeta(group, CHECKPOINT_KEY);
    if (saved !== undefined) {
      const wire = unpackTagged(saved);
      if (saved[0] !== CHECKPOINT_FORMAT || !Array.isArray(wire) || !isCount(wire[0]) || !isCount(wire[1])) {
        throw new RaftlogError('STORAGE_CORRUPT', `group ${group}: unreadable consumer group checkpoint`);
      }
      const [applied, term, state] = wire as [number, number, Uint8Array];
      this.state.restore(state);
      this.#applied = applied;
      this.#appliedTerm = term;
    }
    this.durableApplied = this.#applied;
  }

  /** Index of the last applied entry. */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** Term of the last applied entry. */
  get appliedTerm(): number {
    return this.#appliedTerm;
  }

  apply(entry: Entry): unknown {
    let result: unknown;
    if (entry.type === EntryType.Normal && entry.data.byteLength > 0) {
      const cmd = decodeGroupCommand(entry.data);
      result =
        cmd === undefined
          ? new RaftlogError('INVALID_REQUEST', 'undecodable group command')
          : this.state.apply(cmd);
    }
    this.#applied = entry.index;
    this.#appliedTerm = entry.term;
    if (++this.#sinceCheckpoint >= CHECKPOINT_INTERVAL) this.checkpoint();
    return result;
  }

  restore(snapshot: Snapshot): void {
    // The bootstrap snapshot stands for no groups at all: the encoding of an empty state.
    this.state.restore(isBootstrapSnapshot(snapshot) ? new GroupsState().encode() : snapshot.data);
    this.#applied = snapshot.meta.index;
    this.#appliedTerm = snapshot.meta.term;
    this.checkpoint();
  }

  /** The state as snapshot data ({@link restore} takes it back). */
  snapshotData(): Uint8Array {
    return this.state.encode();
  }

  /** Stage the whole state with its applied index: a restart resumes from here. */
  checkpoint(): void {
    this.store.putMeta(
      this.group,
      CHECKPOINT_KEY,
      packTagged(CHECKPOINT_FORMAT, [this.#applied, this.#appliedTerm, this.state.encode()]),
    );
    this.#sinceCheckpoint = 0;
  }
}
