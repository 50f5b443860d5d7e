import { MetadataStateMachine } from '../statemachine/metadata.js';
import { restoreSnapshot } from '../statemachine/partition-machine.js';
import { PartitionState } from '../statemachine/partition-state.js';
import { decodeRecordBatch } from '../statemachine/record-batch.js';
import { LevelLogStore } from '../storage/level-log-store.js';

/**
 * Reads the committed log of every partition replica in a stopped broker's data directory, by
 * replaying its committed Raft entries (up to its commit index) through a fresh partition state,
 * the way the broker itself assigns offsets. This is how the suite compares replicas: the HTTP
 * API only ever serves the leader's copy.
 */

/**
 * One replica's committed records, `[offset, value]` (values as UTF-8 text), or why they could
 * not be read (a damaged group: `records` is then empty).
 */
export interface ReplicaLog {
  readonly partition: number;
  readonly records: readonly (readonly [number, string])[];
  readonly error?: string;
}

const READ_BYTES = 4 * 1024 * 1024;

/** The committed logs of `topic`'s replicas in `dataDir` (the broker must be stopped). */
export async function readReplicaLogs(dataDir: string, topic: string): Promise<ReplicaLog[]> {
  const store = await LevelLogStore.open(dataDir);
  try {
    const meta = new MetadataStateMachine(store, () => {});
    const t = meta.current.topics[topic];
    if (!t) return [];
    const hosted = new Set(store.groups());
    const out: ReplicaLog[] = [];
    for (const p of t.partitions) {
      if (!hosted.has(p.group)) continue;
      try {
        out.push({ partition: p.partition, records: await readCommitted(store, p.group) });
      } catch (err) {
        out.push({ partition: p.partition, records: [], error: String(err) });
      }
    }
    return out;
  } finally {
    await store.close();
  }
}

/**
 * The committed records of one group, replayed through a fresh partition state from the group's
 * snapshot (whose data may be ahead of its index: the state already knows the offsets of the
 * entries up to its applied index, which are still in the log).
 */
async function readCommitted(store: LevelLogStore, group: number): Promise<(readonly [number, string])[]> {
  const log = store.group(group);
  const commit = log.initialState().hardState.commit;
  const state = new PartitionState();
  restoreSnapshot(state, log.snapshot());
  const records: (readonly [number, string])[] = [];
  const decoder = new TextDecoder();
  const push = (baseOffset: number, values: readonly { value: Uint8Array }[]) =>
    values.forEach((r, i) => {
      if (baseOffset + i >= state.logStartOffset) records.push([baseOffset + i, decoder.decode(r.value)]);
    });
  for (let index = log.firstIndex(); index <= commit; ) {
    const entries = await store.readEntries(group, index, commit + 1, READ_BYTES);
    if (entries.length === 0) break;
    for (const e of entries) {
      index = e.index + 1;
      if (e.index <= state.appliedIndex) {
        const at = state.entryAt(e.index);
        if (at) push(at.baseOffset, decodeRecordBatch(e.data).records);
        continue;
      }
      const result = state.apply(e);
      if (result.outcome === 'appended') push(result.baseOffset, result.batch.records);
    }
  }
  return records;
}
