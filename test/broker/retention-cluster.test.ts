import { afterEach, describe, expect, it } from 'vitest';
import type { FetchedRecord } from '../../src/broker/api.js';
import type { Broker } from '../../src/broker/broker.js';
import { RaftlogError } from '../../src/errors.js';
import { readReplicaLogs } from '../../src/jepsen/replica-dump.js';
import { Role } from '../../src/raft/types.js';
import { METADATA_GROUP } from '../../src/statemachine/metadata.js';
import { decodeRecordBatch, encodeRecordBatch } from '../../src/statemachine/record-batch.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { InProcessCluster, TEST_TIMING, waitFor } from './cluster-harness.js';

const TOPIC = 't';
/** Record i: 100 bytes, the first one i, so every entry has the same size. */
const record = (i: number) => {
  const value = new Uint8Array(100);
  value[0] = i;
  return { value };
};
const ENTRY_BYTES = encodeRecordBatch({ records: [record(0)], timestamp: Date.now() }).byteLength;

/** The Raft group of the test topic's only partition (the only group besides the metadata's). */
function groupOf(b: Broker): number {
  return b.host.groupIds().find((g) => g !== METADATA_GROUP)!;
}

/** The partition as broker `b`'s own replica sees it. */
async function localView(b: Broker): Promise<{ highWatermark: number; logStartOffset: number }> {
  const p = (await b.describeTopic(TOPIC)).partitions[0]!;
  return { highWatermark: p.highWatermark, logStartOffset: p.logStartOffset };
}

async function fetchError(b: Broker, offset: number): Promise<unknown> {
  return b.fetch(TOPIC, 0, { offset }).then(
    () => undefined,
    (err: unknown) => err,
  );
}

const plain = (records: readonly FetchedRecord[]) =>
  records.map((r) => ({ offset: r.offset, value: [...r.value], timestamp: r.timestamp }));

describe('retention on a 3-broker cluster (issue 9)', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  async function startWithTopic(configs: Record<string, number>): Promise<InProcessCluster> {
    cluster = await InProcessCluster.start(3, TEST_TIMING, { retentionCheckMs: 100 });
    const admin = await cluster.metadataLeader();
    await admin.createTopic({ name: TOPIC, partitions: 1, replicationFactor: 3, configs });
    return cluster;
  }

  async function produce(c: InProcessCluster, from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      const leader = await c.partitionLeader(TOPIC, 0);
      expect(await leader.produce(TOPIC, 0, [record(i)])).toMatchObject({ baseOffset: i });
    }
  }

  /** Every running replica shows this log start and high watermark. */
  async function everyReplicaAt(c: InProcessCluster, logStartOffset: number, highWatermark: number) {
    await waitFor(`every replica at [${logStartOffset}, ${highWatermark})`, async () => {
      for (const b of c.running()) {
        const v = await localView(b);
        if (v.logStartOffset !== logStartOffset || v.highWatermark !== highWatermark) return false;
      }
      return true;
    });
  }

  /** Every running replica compacted its log up to the same index, at least `atLeast`. */
  async function everyLogCompacted(c: InProcessCluster, atLeast: number): Promise<number> {
    return waitFor('every replica to compact its log', () => {
      const indexes = c.running().map((b) => b.host.logState(groupOf(b))?.snapshotIndex ?? 0);
      return indexes.every((i) => i === indexes[0] && i >= atLeast) && indexes[0]!;
    });
  }

  it('by size: every replica moves its log start to the same entry boundary; below it, OFFSET_OUT_OF_RANGE; the entries leave every store', async () => {
    // Few entries retained: every replica compacts as soon as its log start moves (a large
    // partition waits until a tenth of its retained entries can go, see LogCompaction).
    const c = await startWithTopic({ 'retention.bytes': 5 * ENTRY_BYTES + Math.floor(ENTRY_BYTES / 2) });
    await produce(c, 0, 30);
    // The newest 5 entries fit in the limit; the 6th would not.
    await everyReplicaAt(c, 25, 30);
    const leader = await c.partitionLeader(TOPIC, 0);
    for (const offset of [0, 24]) {
      const err = await fetchError(leader, offset);
      expect(err).toBeInstanceOf(RaftlogError);
      expect(err).toMatchObject({
        code: 'OFFSET_OUT_OF_RANGE',
        details: { log_start_offset: 25, high_watermark: 30 },
      });
    }
    const { records } = await leader.fetch(TOPIC, 0, { offset: 25, maxRecords: 100 });
    expect(records.map((r) => [r.offset, r.value[0]])).toEqual(
      Array.from({ length: 5 }, (_, i) => [25 + i, 25 + i]),
    );

    // Each replica compacts its own log below the first retained entry: the store starts there.
    const snapshotIndex = await everyLogCompacted(c, 25);
    const group = groupOf(leader);
    for (const id of c.ids) {
      await c.kill(id);
      // The jepsen-like suite's reader of a stopped replica's committed records.
      const [dump] = await readReplicaLogs(c.members.get(id)!.dir, TOPIC);
      expect(dump!.records.map(([offset, value]) => [offset, value.charCodeAt(0)])).toEqual(
        Array.from({ length: 5 }, (_, i) => [25 + i, 25 + i]),
      );
      const store = await LevelLogStore.open(c.members.get(id)!.dir);
      try {
        const log = store.group(group);
        expect(log.firstIndex()).toBe(snapshotIndex + 1);
        const [first] = await store.readEntries(group, snapshotIndex + 1, snapshotIndex + 2, 1 << 20);
        expect(decodeRecordBatch(first!.data).records[0]!.value[0]).toBe(25);
        await expect(store.readEntries(group, 2, 3, 1 << 20)).rejects.toMatchObject({
          code: 'LOG_COMPACTED',
        });
      } finally {
        await store.close();
      }
    }
  });

  it('by age: records older than retention.ms go; offsets are never reused', async () => {
    const c = await startWithTopic({ 'retention.ms': 200 });
    await produce(c, 0, 5);
    await everyReplicaAt(c, 5, 5);
    // Nothing retained: the log is compacted through its applied index.
    await everyLogCompacted(c, 7);
    const leader = await c.partitionLeader(TOPIC, 0);
    expect(await leader.produce(TOPIC, 0, [record(5)])).toMatchObject({ baseOffset: 5 });
  });

  it('a broker stopped while the log moved far past its data recovers via snapshot, then leads with identical records', async () => {
    const c = await startWithTopic({ 'retention.bytes': 5 * ENTRY_BYTES });
    const preferred = (await (await c.metadataLeader()).describeTopic(TOPIC)).partitions[0]!.replicas[0]!;
    await produce(c, 0, 5);
    await everyReplicaAt(c, 0, 5);
    const stopped = c.broker(preferred);
    const hadApplied = stopped.host.logState(groupOf(stopped))!.appliedIndex;
    await c.kill(preferred);

    await produce(c, 5, 40);
    await everyReplicaAt(c, 35, 40);
    const before = await c.partitionLeader(TOPIC, 0);
    // The leader's log no longer holds what the stopped broker needs next: only a snapshot will do.
    await waitFor('the log to be compacted past the stopped replica', () => {
      const log = before.host.logState(groupOf(before));
      return log !== undefined && log.snapshotIndex > hadApplied + 1;
    });
    const expected = plain((await before.fetch(TOPIC, 0, { offset: 35, maxRecords: 100 })).records);
    expect(expected.map((r) => r.offset)).toEqual([35, 36, 37, 38, 39]);

    await c.restart(preferred);
    const back = c.broker(preferred);
    await everyReplicaAt(c, 35, 40);
    expect(back.host.logState(groupOf(back))!.snapshotIndex).toBeGreaterThan(hadApplied);
    // Leader balancing hands the partition back to its preferred replica once it caught up.
    await waitFor(
      'the restarted broker to lead',
      () => back.host.groupState(groupOf(back))?.role === Role.Leader,
    );
    const served = await waitFor('a fetch from the restarted leader', () =>
      back.fetch(TOPIC, 0, { offset: 35, maxRecords: 100 }),
    );
    expect(plain(served.records)).toEqual(expected);
    expect(await back.produce(TOPIC, 0, [record(40)])).toMatchObject({ baseOffset: 40 });
    // Retention goes on under the new leader: still the newest 5.
    await everyReplicaAt(c, 36, 41);
  });
});
