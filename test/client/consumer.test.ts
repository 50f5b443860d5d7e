import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsumedRecord, Consumer, Producer, RaftlogClient } from '../../src/client/index.js';
import { waitFor } from '../broker/cluster-harness.js';
import { HttpCluster } from './http-cluster.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const brief = (r: ConsumedRecord) => `${r.partition}@${r.offset}:${text(r.value)}`;

/** Read from `consumer` until `n` records came. */
async function take(consumer: Consumer, n: number): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = [];
  if (n === 0) return out;
  for await (const record of consumer) {
    out.push(record);
    if (out.length === n) break;
  }
  return out;
}

describe('Consumer against three brokers over HTTP', () => {
  let http: HttpCluster;
  let client: RaftlogClient;

  beforeAll(async () => {
    http = await HttpCluster.start(3);
    client = new RaftlogClient({ urls: http.allUrls() });
    await client.createTopic('events', { partitions: 2, replicationFactor: 3 });
    await http.topicEverywhere('events');
    await client.produce('events', 0, [{ value: 'a0' }, { value: 'a1' }]);
    await client.produce('events', 1, [{ value: 'b0' }]);
    await client.produce('events', 0, [{ value: 'a2' }]);
  });
  afterAll(async () => {
    await client?.close();
    await http?.stop();
  });

  it('reads every partition from the earliest offset, each in order, and stops at the end with untilEnd', async () => {
    const consumer = new Consumer(client, { topic: 'events', untilEnd: true });
    const seen: ConsumedRecord[] = [];
    for await (const r of consumer) seen.push(r);
    expect(seen.filter((r) => r.partition === 0).map(brief)).toEqual(['0@0:a0', '0@1:a1', '0@2:a2']);
    expect(seen.filter((r) => r.partition === 1).map(brief)).toEqual(['1@0:b0']);
    expect([consumer.position(0), consumer.position(1)]).toEqual([3, 1]);
  });

  it('starts at a given offset of chosen partitions, and continues where a broken loop stopped', async () => {
    const consumer = new Consumer(client, { topic: 'events', partitions: [0], offset: 1, maxRecords: 1 });
    expect((await take(consumer, 1)).map(brief)).toEqual(['0@1:a1']);
    expect((await take(consumer, 1)).map(brief)).toEqual(['0@2:a2']);
    consumer.close();
  });

  it("from 'latest', long-polls and gets only records written after it started", async () => {
    const consumer = new Consumer(client, { topic: 'events', offset: 'latest', pollTimeoutMs: 20_000 });
    const got = take(consumer, 2);
    got.catch(() => {}); // awaited below; a failure before that must not go unhandled
    // The consumer has settled its start positions once they are set; then it is polling.
    await waitFor('the consumer to start', () => consumer.position(0) !== undefined);
    await client.produce('events', 1, [{ value: 'b1' }]);
    await client.produce('events', 0, [{ value: 'a3' }]);
    expect((await got).map(brief).sort()).toEqual(['0@3:a3', '1@1:b1']);
    consumer.close();
  });

  it('close() ends an iteration that is waiting in a long poll', async () => {
    const consumer = new Consumer(client, { topic: 'events', offset: 'latest', pollTimeoutMs: 30_000 });
    const started = Date.now();
    const done = take(consumer, 1);
    await waitFor('the consumer to start', () => consumer.position(0) !== undefined);
    consumer.close();
    expect(await done).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('rejects a start offset outside the log with OFFSET_OUT_OF_RANGE', async () => {
    const consumer = new Consumer(client, { topic: 'events', partitions: [1], offset: 99 });
    await expect(take(consumer, 1)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
  });

  it('follows a leader change: keeps reading after the partition leader is killed', async () => {
    await client.createTopic('failover', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('failover');
    const leader = await http.leaderOf('failover', 0);
    const producer = new Producer(client, { lingerMs: 0 });
    await producer.send({ topic: 'failover', partition: 0, value: 'before' });
    const consumer = new Consumer(client, { topic: 'failover', pollTimeoutMs: 1000 });
    const got = take(consumer, 2);
    got.catch(() => {}); // awaited below; a failure before that must not go unhandled
    await http.kill(leader);
    await producer.send({ topic: 'failover', partition: 0, value: 'after' });
    expect((await got).map(brief)).toEqual(['0@0:before', '0@1:after']);
    expect(await http.leaderOf('failover', 0)).not.toBe(leader);
    await producer.close();
    consumer.close();
  });
});
