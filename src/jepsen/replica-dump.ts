import { isBootstrapSnapshot } from '../partition/host.js';
import { MetadataStateMachine } from '../statemachine/metadata.js';
import { PartitionState } from '../statemachine/partition-state.js';
import { LevelLogStore } from '../storage/level-log-store.js';

/**
 * Reads the committed log of every partition replica in a stopped broker's data directory, by
 * replaying its committed Raft entries (up to its commit index) through a fresh partition state,
 * the way the broker itself assigns offsets. This is how the suite compares replicas: the HTTP
 * API only ever serves the leader's copy.
 */

/** One replica's committed records, `[offset, value]` (values as UTF-8 text). */
export interface ReplicaLog {
  readonly partition: number;
  readonly records: readonly (readonly [number, string])[];
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
      const log = store.group(p.group);
      const commit = log.initialState().hardState.commit;
      const state = new PartitionState();
      const first = log.firstIndex();
      if (first > 1) {
        const snapshot = log.snapshot();
        if (isBootstrapSnapshot(snapshot)) state.reset(snapshot.meta.index);
        else state.restore(snapshot.data);
      }
      const records: (readonly [number, string])[] = [];
      const decoder = new TextDecoder();
      for (let index = first; index <= commit; ) {
        const entries = await store.readEntries(p.group, index, commit + 1, READ_BYTES);
        if (entries.length === 0) break;
        for (const e of entries) {
          const result = state.apply(e);
          if (result.outcome === 'appended') {
            result.batch.records.forEach((r, i) => {
              records.push([result.baseOffset + i, decoder.decode(r.value)]);
            });
          }
          index = e.index + 1;
        }
      }
      out.push({ partition: p.partition, records });
    }
    return out;
  } finally {
    await store.close();
  }
}
