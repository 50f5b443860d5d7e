import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftlogClient, RaftlogClientError } from '../../src/client/index.js';
import { waitFor } from '../broker/cluster-harness.js';
import { HttpCluster } from './http-cluster.js';
import { lossyProxy, notLeaderBroker } from './proxies.js';

const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('utf8'));

describe('RaftlogClient against three brokers over HTTP', () => {
  let http: HttpCluster;
  const clients: RaftlogClient[] = [];
  /** A client closed after all tests. */
  const client = (url: string | string[]) => {
    const c = new RaftlogClient(Array.isArray(url) ? { urls: url } : { url });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    http = await HttpCluster.start(3);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await http?.stop();
  });

  it('creates, lists, describes and deletes topics', async () => {
    const c = client(http.allUrls());
    const created = await c.createTopic('admin', { partitions: 3, replicationFactor: 3 });
    await http.topicEverywhere('admin');
    expect(created).toMatchObject({ name: 'admin', replicationFactor: 3 });
    expect(created.partitions.map((p) => [p.partition, p.replicas.length])).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    expect(await c.listTopics()).toContainEqual({ name: 'admin', partitions: 3, replicationFactor: 3 });
    const described = await c.describeTopic('admin');
    expect(described.partitions[0]).toMatchObject({ highWatermark: 0, logStartOffset: 0 });
    const cluster = await c.cluster();
    expect(cluster.nodes.map((n) => [n.id, n.url])).toEqual([...http.urls.entries()].sort());
    await c.deleteTopic('admin');
    // The broker that lists may apply the deletion a heartbeat after the metadata leader did.
    await waitFor('the deletion to reach every broker', async () =>
      (await c.listTopics()).every((t) => t.name !== 'admin'),
    );
  });

  it('answers typed errors carrying the status, error_code, retriability and facts', async () => {
    const c = client(http.allUrls()[0]!);
    await c.createTopic('typed', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('typed');
    const exists = await c.createTopic('typed').catch((e: unknown) => e);
    expect(exists).toBeInstanceOf(RaftlogClientError);
    expect(exists).toMatchObject({ code: 'TOPIC_EXISTS', status: 409, errorCode: 40901, retriable: false });
    await expect(c.describeTopic('no-such-topic')).rejects.toMatchObject({
      code: 'TOPIC_NOT_FOUND',
      status: 404,
      errorCode: 40401,
    });
    await expect(c.createTopic('too-wide', { replicationFactor: 4 })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
      errorCode: 40001,
    });
    await expect(c.produce('typed', 7, [{ value: 'x' }])).rejects.toMatchObject({
      code: 'PARTITION_NOT_FOUND',
      errorCode: 40402,
    });
    await c.produce('typed', 0, [{ value: 'a' }, { value: 'b' }]);
    const beyond = await c.fetch('typed', 0, { offset: 5 }).catch((e: unknown) => e);
    expect(beyond).toMatchObject({
      code: 'OFFSET_OUT_OF_RANGE',
      status: 416,
      errorCode: 41601,
      facts: { log_start_offset: 0, high_watermark: 2 },
      details: { log_start_offset: 0, high_watermark: 2 },
    });
    // Checked before anything is sent.
    await expect(c.fetch('typed', -1, { offset: 0 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('produces and fetches through a broker that does not lead the partition (it forwards)', async () => {
    const admin = client(http.allUrls());
    await admin.createTopic('forwarded', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('forwarded');
    const leader = await http.leaderOf('forwarded', 0);
    const follower = http.cluster.ids.find((id) => id !== leader)!;
    const c = client(http.urls.get(follower)!);
    const produced = await c.produce('forwarded', 0, [
      { key: 'k', value: 'one', headers: [['h', 'v']] },
      { value: new Uint8Array([0, 255, 1]) },
    ]);
    expect(produced).toEqual({ partition: 0, baseOffset: 0, lastOffset: 1 });
    const fetched = await c.fetch('forwarded', 0, { offset: 0 });
    expect(fetched).toMatchObject({ nextOffset: 2, highWatermark: 2, logStartOffset: 0 });
    const [first, second] = fetched.records;
    expect([first!.offset, text(first!.key), text(first!.value)]).toEqual([0, 'k', 'one']);
    expect(first!.headers.map(([n, v]) => [n, text(v)])).toEqual([['h', 'v']]);
    expect(second!.key).toBeNull();
    expect([...second!.value]).toEqual([0, 255, 1]);
  });

  it('follows a NOT_LEADER answer to the leader it names, and remembers it', async () => {
    const admin = client(http.allUrls());
    await admin.createTopic('redirected', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('redirected');
    const leader = await http.leaderOf('redirected', 0);
    const stub = await notLeaderBroker(leader, http.urls.get(leader)!);
    try {
      const c = client(stub.url);
      expect(await c.produce('redirected', 0, [{ value: 'a' }])).toMatchObject({ baseOffset: 0 });
      expect(await c.produce('redirected', 0, [{ value: 'b' }])).toMatchObject({ baseOffset: 1 });
      const { records } = await c.fetch('redirected', 0, { offset: 0 });
      expect(records.map((r) => text(r.value))).toEqual(['a', 'b']);
      // Only the first request went to the stub; the rest went straight to the leader.
      expect(stub.seen).toEqual(['POST /v1/topics/redirected/partitions/0/records']);
    } finally {
      await stub.close();
    }
  });

  it('sends produce and fetch straight to the leaders a describe named', async () => {
    const admin = client(http.allUrls());
    await admin.createTopic('direct', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('direct');
    const leader = await http.leaderOf('direct', 0);
    const stub = await notLeaderBroker(leader, http.urls.get(leader)!);
    try {
      // The stub is the only URL given; it answers NOT_LEADER to the describe and to the cluster
      // view the client then asks for (the client follows both), and from then on the client
      // knows where the partition's leader is.
      const c = client(stub.url);
      await c.describeTopic('direct');
      await c.produce('direct', 0, [{ value: 'a' }]);
      await c.fetch('direct', 0, { offset: 0 });
      expect(stub.seen).toEqual(['GET /v1/topics/direct', 'GET /v1/cluster']);
    } finally {
      await stub.close();
    }
  });

  it('a tagged produce whose answer is lost is retried and written once (duplicate: true)', async () => {
    const admin = client(http.allUrls());
    await admin.createTopic('lost', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('lost');
    let dropped = 0;
    const proxy = await lossyProxy(
      http.urls.get(1)!,
      (method, _path, status) => method === 'POST' && status === 200 && dropped++ === 0,
    );
    try {
      const c = client(proxy.url);
      const tag = { id: 'lost-answer-test', epoch: 0, sequence: 0 };
      const result = await c.produce('lost', 0, [{ value: 'once' }, { value: 'twice?' }], tag);
      // The retry got the first call's offsets back.
      expect(result).toEqual({ partition: 0, baseOffset: 0, lastOffset: 1, duplicate: true });
      expect(proxy.seen.filter((s) => s.startsWith('POST'))).toHaveLength(2);
      const { records } = await admin.fetch('lost', 0, { offset: 0 });
      expect(records.map((r) => text(r.value))).toEqual(['once', 'twice?']);
    } finally {
      await proxy.close();
    }
  });

  it('an untagged produce whose answer is lost is not repeated: COMMIT_TIMEOUT, outcome unknown', async () => {
    const admin = client(http.allUrls());
    await admin.createTopic('unknown', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('unknown');
    const proxy = await lossyProxy(http.urls.get(1)!, (method) => method === 'POST');
    try {
      const c = client(proxy.url);
      await expect(c.produce('unknown', 0, [{ value: 'maybe' }])).rejects.toMatchObject({
        code: 'COMMIT_TIMEOUT',
        retriable: true,
        status: undefined,
      });
      expect(proxy.seen).toHaveLength(1);
      const { records } = await admin.fetch('unknown', 0, { offset: 0 });
      expect(records.map((r) => text(r.value))).toEqual(['maybe']);
    } finally {
      await proxy.close();
    }
  });

  it('long-polls: a fetch at the high watermark waits for the next record', async () => {
    const c = client(http.allUrls());
    await c.createTopic('polled', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('polled');
    const pending = c.fetch('polled', 0, { offset: 0, timeoutMs: 20_000 });
    let settled = false;
    const settle = () => {
      settled = true;
    };
    pending.then(settle, settle);
    // Still waiting after a round trip that surely reached the broker.
    await c.describeTopic('polled');
    expect(settled).toBe(false);
    await c.produce('polled', 0, [{ value: 'late' }]);
    const { records } = await pending;
    expect(records.map((r) => text(r.value))).toEqual(['late']);
  });

  it('long-polls for minRecords: the fetch waits until that many records follow its offset', async () => {
    const c = client(http.allUrls());
    await c.createTopic('polled-min', { partitions: 1, replicationFactor: 3 });
    await http.topicEverywhere('polled-min');
    const pending = c.fetch('polled-min', 0, { offset: 0, timeoutMs: 20_000, minRecords: 3 });
    let settled = false;
    const settle = () => {
      settled = true;
    };
    pending.then(settle, settle);
    await c.produce('polled-min', 0, [{ value: 'a' }]);
    await c.produce('polled-min', 0, [{ value: 'b' }]);
    // Still waiting after both writes were acknowledged and a round trip that surely reached the broker.
    await c.describeTopic('polled-min');
    expect(settled).toBe(false);
    await c.produce('polled-min', 0, [{ value: 'c' }]);
    const { records } = await pending;
    expect(records.map((r) => text(r.value))).toEqual(['a', 'b', 'c']);
  });

  it('tries the next URL when a broker cannot be reached', async () => {
    const unreachable = await notLeaderBroker(1, 'http://127.0.0.1:1');
    const deadUrl = unreachable.url;
    await unreachable.close();
    const c = client([deadUrl, ...http.allUrls()]);
    expect((await c.cluster()).nodes).toHaveLength(3);
    const onlyDead = new RaftlogClient({ url: deadUrl, retries: 1, retryBackoff: { initialMs: 1 } });
    clients.push(onlyDead);
    await expect(onlyDead.listTopics()).rejects.toMatchObject({ code: 'NO_LEADER', retriable: true });
  });
});
