import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/broker.js';
import { RaftlogError } from '../../src/errors.js';
import { InProcessCluster, TEST_TIMING, waitFor } from './cluster-harness.js';

/**
 * Catch-up reads on a 3-broker cluster: a fetch reads the records already applied while its
 * ReadIndex round is under way, and a fetch stopped at its limit reads the next range ahead
 * (`src/broker/read-ahead.ts`). Neither may answer what a plain linearizable read would not.
 */

const TOPIC = 't';
const PER_ENTRY = 5;
/** Record i: 200 bytes, the first two holding i. */
const record = (i: number) => {
  const value = new Uint8Array(200);
  value[0] = i >> 8;
  value[1] = i & 0xff;
  return { value };
};
const numberOf = (value: Uint8Array) => (value[0]! << 8) | value[1]!;

describe('catch-up reads (issue 7)', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  async function startWith(entries: number, configs: Record<string, number> = {}) {
    cluster = await InProcessCluster.start(3, TEST_TIMING, { retentionCheckMs: 100 });
    const admin = await cluster.metadataLeader();
    await admin.createTopic({ name: TOPIC, partitions: 1, replicationFactor: 3, configs });
    await produce(0, entries);
    return cluster;
  }

  /** Entries `from` to `to - 1`, PER_ENTRY records each. */
  async function produce(from: number, to: number) {
    for (let e = from; e < to; e++) {
      const leader = await cluster!.partitionLeader(TOPIC, 0);
      const records = Array.from({ length: PER_ENTRY }, (_, i) => record(e * PER_ENTRY + i));
      await leader.produce(TOPIC, 0, records);
    }
  }

  /** Reads from `offset` to the high watermark, `maxBytes` at a time: what each fetch answered. */
  async function catchUp(leader: Broker, offset: number, maxBytes: number) {
    const answers = [];
    for (;;) {
      const r = await leader.fetch(TOPIC, 0, { offset, maxBytes, maxRecords: 1000 });
      answers.push(r);
      offset = r.nextOffset;
      if (offset === r.highWatermark) return answers;
    }
  }

  it('reads every record once, in order, the same as one record at a time', async () => {
    const c = await startWith(30);
    const leader = await c.partitionLeader(TOPIC, 0);
    // 700 bytes: cuts inside entries (1,000 bytes of values each) and across them.
    const answers = await catchUp(leader, 0, 700);
    const records = answers.flatMap((a) => a.records);
    expect(records.map((r) => [r.offset, numberOf(r.value)])).toEqual(
      Array.from({ length: 150 }, (_, i) => [i, i]),
    );
    expect(answers.every((a) => a.records.length > 0 && a.highWatermark === 150)).toBe(true);
    for (const r of records.filter((_, i) => i % 7 === 0)) {
      const [alone] = (await leader.fetch(TOPIC, 0, { offset: r.offset, maxRecords: 1 })).records;
      expect(alone).toStrictEqual(r);
    }
  });

  it('reports a high watermark covering every write acknowledged before the fetch, records read ahead or not', async () => {
    const c = await startWith(4);
    const leader = await c.partitionLeader(TOPIC, 0);
    const first = await leader.fetch(TOPIC, 0, { offset: 0, maxRecords: 3 });
    expect([first.nextOffset, first.highWatermark]).toEqual([3, 20]);
    // The next range is being read ahead; a write acknowledged now must show in the next answer.
    await produce(4, 5);
    const next = await leader.fetch(TOPIC, 0, { offset: 3, maxRecords: 3 });
    expect(next.records.map((r) => r.offset)).toEqual([3, 4, 5]);
    expect(next.highWatermark).toBe(25);
  });

  it('answers nothing from a leader cut off from its followers, though the next range was read ahead', async () => {
    const c = await startWith(4);
    const leader = await c.partitionLeader(TOPIC, 0);
    expect((await leader.fetch(TOPIC, 0, { offset: 0, maxRecords: 3 })).nextOffset).toBe(3);
    for (const id of c.ids) if (c.broker(id) !== leader) await c.kill(id);
    const err = await leader.fetch(TOPIC, 0, { offset: 3, maxRecords: 3 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RaftlogError);
    expect(['NOT_LEADER', 'NO_LEADER', 'COMMIT_TIMEOUT']).toContain((err as RaftlogError).code);
  });

  it('answers OFFSET_OUT_OF_RANGE for an offset retention dropped after it was read ahead', async () => {
    // The first 4 entries (~4 KiB of values) fit the limit, so nothing is dropped before the first fetch.
    const c = await startWith(4, { 'retention.bytes': 8192 });
    const leader = await c.partitionLeader(TOPIC, 0);
    expect((await leader.fetch(TOPIC, 0, { offset: 0, maxRecords: 3 })).nextOffset).toBe(3);
    await produce(4, 12);
    await waitFor('retention to move the log start past offset 3', async () => {
      const p = (await leader.describeTopic(TOPIC)).partitions[0]!;
      return p.logStartOffset > 3;
    });
    await expect(leader.fetch(TOPIC, 0, { offset: 3, maxRecords: 3 })).rejects.toMatchObject({
      code: 'OFFSET_OUT_OF_RANGE',
    });
  });
});
