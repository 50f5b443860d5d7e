import type { PartitionState } from '../statemachine/partition-state.js';

/** How much of its leader's log, in bytes, a replica being added holds. */
export interface CatchUpBytes {
  readonly bytes: number;
  readonly total: number;
}

/**
 * What a new replica of a partition needs, in bytes: the leader's snapshot (`snapshotBytes` of
 * data at `snapshotIndex`; empty for a log never compacted), then the records of the retained
 * entries, which come as appends. A replica whose log reaches `match` holds the snapshot once
 * `match` reached its index, and the retained entries' bytes up to `match`. Entries without
 * records (no-ops, configuration changes) weigh nothing: a few bytes against the records.
 */
export function partitionCatchUpBytes(
  state: PartitionState,
  snapshot: { readonly snapshotIndex: number; readonly snapshotBytes: number },
  match: number,
): CatchUpBytes {
  const snapshotHeld = match >= snapshot.snapshotIndex ? snapshot.snapshotBytes : 0;
  return {
    bytes: snapshotHeld + state.retainedBytesUpTo(match),
    total: snapshot.snapshotBytes + state.retainedBytes,
  };
}
