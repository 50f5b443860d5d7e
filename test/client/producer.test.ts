import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer, RaftlogClient } from '../../src/client/index.js';
import { partitionForKey } from '../../src/statemachine/partitioner.js';
import { HttpCluster } from './http-cluster.js';
import { lossyProxy, type StandIn } from './proxies.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('Producer against three brokers over HTTP', () => {
  let http: HttpCluster;
  let admin: RaftlogClient;
  const closers: Array<() => Promise<void>> = [];
  /** A client of `url` alone: it does not go around a proxy to the leaders. */
  const client = (url: string, options: { retries?: number } = {}) => {
    const c = new RaftlogClient({
      url,
      ...options,
      directToLeaders: false,
      retryBackoff: { initialMs: 10, maxMs: 50 },
    });
    closers.push(() => c.close());
    return c;
  };
  const proxy = async (drop: (method: string, path: string, status: number) => boolean): Promise<StandIn> => {
    const p = await lossyProxy(http.urls.get(1)!, drop);
    closers.push(() => p.close());
    return p;
  };
  const values = async (topic: string, partition: number) =>
    (await admin.fetch(topic, partition, { offset: 0 })).records.map((r) => text(r.value));
  const createTopic = async (name: string, partitions: number) => {
    await admin.createTopic(name, { partitions, replicationFactor: 3 });
    await http.topicEverywhere(name);
  };

  beforeAll(async () => {
    http = await HttpCluster.start(3);
    admin = new RaftlogClient({ urls: http.allUrls() });
  });
  afterAll(async () => {
    for (const close of closers.splice(0)) await close();
    await admin?.close();
    await http?.stop();
  });

  it("puts keyed records where Kafka's partitioner would, keyless ones round-robin", async () => {
    await createTopic('spread', 3);
    const producer = new Producer(client(http.allUrls()[1]!));
    const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const keyed = await Promise.all(keys.map((key) => producer.send({ topic: 'spread', key, value: key })));
    expect(keyed.map((m) => m.partition)).toEqual(keys.map((k) => partitionForKey(Buffer.from(k), 3)));
    const keyless = await Promise.all(
      [0, 1, 2, 3].map((i) => producer.send({ topic: 'spread', value: `v${i}` })),
    );
    expect(keyless.map((m) => m.partition)).toEqual([0, 1, 2, 0]);
    await producer.close();
    for (let p = 0; p < 3; p++) {
      const expected = [
        ...keys.filter((k) => partitionForKey(Buffer.from(k), 3) === p),
        ...[0, 1, 2, 3].filter((i) => i % 3 === p).map((i) => `v${i}`),
      ];
      expect(await values('spread', p)).toEqual(expected);
    }
  });

  it('batches the records of one partition: one request per linger or per maxBatchRecords', async () => {
    await createTopic('batched', 1);
    const counting = await proxy(() => false);
    const producer = new Producer(client(counting.url), { lingerMs: 50, maxBatchRecords: 4 });
    const sends = Array.from({ length: 10 }, (_, i) =>
      producer.send({ topic: 'batched', partition: 0, value: `r${i}` }),
    );
    const offsets = (await Promise.all(sends)).map((m) => m.offset);
    expect(offsets).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // 4 + 4 by size, the last 2 after the linger time.
    expect(counting.seen.filter((s) => s.startsWith('POST'))).toHaveLength(3);
    const one = new Producer(client(counting.url), { lingerMs: 60_000 });
    const pending = one.send({ topic: 'batched', partition: 0, value: 'flushed' });
    await one.flush();
    expect(await pending).toMatchObject({ offset: 10 });
    await one.close();
    await expect(one.send({ topic: 'batched', value: 'late' })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    expect(await values('batched', 0)).toHaveLength(11);
  });

  it('retries a batch whose answer was lost with the same sequence: written once', async () => {
    await createTopic('exactly-once', 1);
    let dropped = 0;
    const lossy = await proxy(
      (method, _path, status) => method === 'POST' && status === 200 && dropped++ === 0,
    );
    const producer = new Producer(client(lossy.url), { lingerMs: 20 });
    const sent = await Promise.all(
      ['a', 'b', 'c'].map((value) => producer.send({ topic: 'exactly-once', partition: 0, value })),
    );
    expect(sent.map((m) => m.offset)).toEqual([0, 1, 2]);
    const posts = lossy.seen.filter((s) => s.startsWith('POST'));
    expect(posts).toHaveLength(2);
    expect(await values('exactly-once', 0)).toEqual(['a', 'b', 'c']);
    // The next batch is the next sequence, not mistaken for a retry.
    expect(await producer.send({ topic: 'exactly-once', partition: 0, value: 'd' })).toMatchObject({
      offset: 3,
    });
    await producer.close();
  });

  it('after a batch fails with its outcome unknown, the next batch is not taken for a retry of it', async () => {
    await createTopic('unknown-outcome', 1);
    let dropping = true;
    const lossy = await proxy((method, _path, status) => dropping && method === 'POST' && status === 200);
    const producer = new Producer(client(lossy.url, { retries: 1 }), { lingerMs: 0 });
    await expect(
      producer.send({ topic: 'unknown-outcome', partition: 0, value: 'lost' }),
    ).rejects.toMatchObject({
      code: 'COMMIT_TIMEOUT',
    });
    dropping = false;
    // Written by the first attempt; the retry was recognised as a duplicate (its answer lost too).
    expect(await values('unknown-outcome', 0)).toEqual(['lost']);
    expect(await producer.send({ topic: 'unknown-outcome', partition: 0, value: 'next' })).toMatchObject({
      offset: 1,
    });
    expect(await values('unknown-outcome', 0)).toEqual(['lost', 'next']);
    await producer.close();
  });

  it('rejects what it cannot send with typed errors', async () => {
    const producer = new Producer(client(http.allUrls()[0]!));
    await expect(producer.send({ topic: 'no-such-topic', value: 'x' })).rejects.toMatchObject({
      code: 'TOPIC_NOT_FOUND',
    });
    await createTopic('small', 1);
    await expect(producer.send({ topic: 'small', partition: 3, value: 'x' })).rejects.toMatchObject({
      code: 'PARTITION_NOT_FOUND',
    });
    await expect(producer.send({ topic: 'small', value: 'x'.repeat(2 * 1024 * 1024) })).rejects.toMatchObject(
      {
        code: 'RECORD_TOO_LARGE',
        status: 413,
      },
    );
    expect(await producer.send({ topic: 'small', value: 'fine' })).toMatchObject({ partition: 0, offset: 0 });
    await producer.close();
  });
});
