import type { RaftHost } from '../partition/host.js';
import type { PartitionState } from '../statemachine/partition-state.js';

/**
 * When the Raft logs of a broker's groups are compacted ({@link RaftHost.compactLog}).
 *
 * - A partition's records live in its log, so it is compacted only below its first retained
 *   entry, as soon as retention moved that entry (or through its applied index when nothing is
 *   retained). The snapshot is the partition state (offset index and producer state) at its
 *   applied index, ahead of the snapshot's index: small, while the records above it travel to a
 *   lagging replica by ordinary appends.
 * - The metadata group and the consumer-group coordinators keep their whole state in the state
 *   machine: their logs are compacted through the applied index once `entriesBetween` entries
 *   were applied since the last snapshot.
 */
export class LogCompaction {
  constructor(
    private readonly host: RaftHost,
    private readonly entriesBetween: number,
  ) {}

  /** Compact a partition group below its first retained entry, once enough of the log can go. */
  partition(group: number, state: PartitionState): void {
    const log = this.host.logState(group);
    if (!log) return;
    const first = state.firstRetainedIndex;
    const index = Math.min((first ?? state.appliedIndex + 1) - 1, log.appliedIndex);
    // Each snapshot holds the whole offset index (a few bytes per retained entry): wait until a
    // tenth as many entries as are retained can go, so its cost per dropped entry stays bounded.
    const retained = first === undefined ? 0 : state.appliedIndex - first;
    if (index - log.snapshotIndex >= Math.max(1, retained / 10)) {
      this.host.compactLog(group, index, () => state.snapshot());
    }
  }

  /** Compact a group whose snapshot is its whole state at the applied index, when due. */
  wholeState(group: number, data: () => Uint8Array): void {
    const log = this.host.logState(group);
    if (log && log.appliedIndex - log.snapshotIndex >= this.entriesBetween) {
      this.host.compactLog(group, log.appliedIndex, data);
    }
  }
}
