import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { FORWARDED_HEADER } from '../../src/http/forwarder.js';
import { FakeBroker, notLeader } from './fake-broker.js';
import { call, type Running, serverPool } from './harness.js';

const start = serverPool();
const MSGPACK = 'application/vnd.msgpack';

/**
 * Broker 1 (a follower) and broker 2 (the leader), each behind its own server, both knowing
 * topic `t` with two partitions and each other's URL.
 */
async function twoBrokers(): Promise<{ follower: Running; leader: Running }> {
  const follower = await start(new FakeBroker(1));
  const leader = await start(new FakeBroker(2));
  for (const { broker } of [follower, leader]) {
    broker.urls.set(1, follower.url);
    broker.urls.set(2, leader.url);
    await broker.createTopic({ name: 't', partitions: 2, replicationFactor: 2 });
  }
  return { follower, leader };
}

/** The value of one sample in Prometheus text, or undefined when absent. */
async function metric(url: string, sample: string): Promise<number | undefined> {
  const text: string = (await call(url, 'GET', '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('leader forwarding', () => {
  it('forwards a partition produce to the leader and relays its answer', async () => {
    const { follower, leader } = await twoBrokers();
    follower.broker.fault = notLeader(2);
    const res = await call(follower.url, 'POST', '/v1/topics/t/partitions/1/records', {
      json: { records: [{ value: 'a' }], producer: { id: 'p', epoch: 0, sequence: 0 } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ partition: 1, base_offset: 0, last_offset: 0 });
    expect(leader.broker.produces.map((p) => p.partition)).toEqual([1]);
    expect(follower.broker.produces).toEqual([]);
    expect(
      await metric(
        follower.url,
        'raftlog_forwarded_requests_total{operation="produce_partition",outcome="ok"}',
      ),
    ).toBe(1);
  });

  it('forwards a long-poll fetch with its query and Accept header', async () => {
    const { follower, leader } = await twoBrokers();
    follower.broker.fault = notLeader(2);
    await leader.broker.produce('t', 0, [{ value: new Uint8Array([1, 2]) }]);
    const res = await call(follower.url, 'GET', '/v1/topics/t/partitions/0/records?offset=0&timeout_ms=100', {
      headers: { accept: MSGPACK },
    });
    expect(res.status).toBe(200);
    expect(res.contentType).toBe(MSGPACK);
    expect([...res.body.records[0].value]).toEqual([1, 2]);
    expect(leader.broker.fetches.map((f) => f.req)).toEqual([{ offset: 0, timeoutMs: 100 }]);
  });

  it('forwards topic creation and deletion to the metadata leader', async () => {
    const { follower, leader } = await twoBrokers();
    follower.broker.fault = notLeader(2, (c) => c.op === 'createTopic' || c.op === 'deleteTopic');
    const created = await call(follower.url, 'POST', '/v1/topics', {
      json: { name: 'new', partitions: 1, replication_factor: 1 },
    });
    expect(created.status).toBe(201);
    expect((await leader.broker.listTopics()).map((t) => t.name)).toContain('new');
    expect((await call(follower.url, 'DELETE', '/v1/topics/new')).status).toBe(204);
    expect((await leader.broker.listTopics()).map((t) => t.name)).not.toContain('new');
  });

  it('never forwards a forwarded request again: two brokers each naming the other answer 503, no loop', async () => {
    const { follower, leader } = await twoBrokers();
    follower.broker.fault = notLeader(2);
    leader.broker.fault = notLeader(1);
    const res = await call(follower.url, 'GET', '/v1/topics/t/partitions/0/records?offset=0');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error_code: 50301,
      code: 'NOT_LEADER',
      message: 'not the leader',
      retriable: true,
      leader_id: 1,
      leader_url: follower.url,
    });
    expect(
      await metric(follower.url, 'raftlog_forwarded_requests_total{operation="fetch",outcome="ok"}'),
    ).toBe(1);
    expect(
      await metric(leader.url, 'raftlog_forwarded_requests_total{operation="fetch",outcome="ok"}'),
    ).toBeUndefined();
  });

  it('follows once to the leader that the forwarded-to broker names (a broker hosting no replica guesses)', async () => {
    const { follower, leader } = await twoBrokers();
    const actual = await start(new FakeBroker(3));
    for (const { broker } of [follower, leader, actual]) {
      broker.urls.set(1, follower.url);
      broker.urls.set(2, leader.url);
      broker.urls.set(3, actual.url);
    }
    await actual.broker.createTopic({ name: 't', partitions: 2, replicationFactor: 2 });
    follower.broker.fault = notLeader(2);
    leader.broker.fault = notLeader(3);
    const res = await call(follower.url, 'POST', '/v1/topics/t/partitions/1/records', {
      json: { records: [{ value: 'a' }] },
    });
    expect(res.status).toBe(200);
    expect(actual.broker.produces.map((p) => p.partition)).toEqual([1]);
    expect(leader.broker.produces).toEqual([]);
  });

  it('does not forward a request that a client marked as forwarded', async () => {
    const { follower, leader } = await twoBrokers();
    follower.broker.fault = notLeader(2);
    const res = await call(follower.url, 'GET', '/v1/topics/t/partitions/0/records?offset=0', {
      headers: { [FORWARDED_HEADER]: '9' },
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'NOT_LEADER', leader_id: 2, leader_url: leader.url });
    expect(leader.broker.fetches).toEqual([]);
  });

  it('answers 503 NOT_LEADER with leader_id and leader_url when the leader cannot be reached', async () => {
    const { follower } = await twoBrokers();
    const gone = await start(new FakeBroker(3));
    await gone.server.close();
    follower.broker.urls.set(3, gone.url);
    follower.broker.fault = notLeader(3);
    const res = await call(follower.url, 'POST', '/v1/topics/t/partitions/0/records', {
      json: { records: [{ value: 'a' }] },
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      error_code: 50301,
      leader_id: 3,
      leader_url: gone.url,
      retriable: true,
    });
    expect(
      await metric(
        follower.url,
        'raftlog_forwarded_requests_total{operation="produce_partition",outcome="failed"}',
      ),
    ).toBe(1);
  });

  it('answers 503 NOT_LEADER with leader_id only when the leader has no known URL, without leader when none', async () => {
    const { follower } = await twoBrokers();
    follower.broker.fault = notLeader(5);
    const known = await call(follower.url, 'GET', '/v1/topics/t');
    expect(known.body).toEqual({
      error_code: 50301,
      code: 'NOT_LEADER',
      message: 'not the leader',
      retriable: true,
      leader_id: 5,
    });
    follower.broker.fault = () => {
      throw new RaftlogError('NOT_LEADER', 'leader unknown', { details: { leader: undefined } });
    };
    const unknown = await call(follower.url, 'GET', '/v1/topics/t');
    expect(unknown.body).toEqual({
      error_code: 50301,
      code: 'NOT_LEADER',
      message: 'leader unknown',
      retriable: true,
    });
  });

  it('forwards each partition batch of a keyed produce to its own leader; offsets stay in request order', async () => {
    const { follower, leader } = await twoBrokers();
    follower.broker.fault = notLeader(2, (c) => c.op === 'produce' && c.partition === 1);
    const res = await call(follower.url, 'POST', '/v1/topics/t/records', {
      json: {
        records: [
          { value: 'a', partition: 1 },
          { value: 'b', partition: 0 },
          { value: 'c', partition: 1 },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.offsets).toEqual([
      { partition: 1, offset: 0 },
      { partition: 0, offset: 0 },
      { partition: 1, offset: 1 },
    ]);
    expect(follower.broker.produces.map((p) => p.partition)).toEqual([0]);
    expect(leader.broker.produces.map((p) => [p.partition, p.records.length])).toEqual([[1, 2]]);
    expect(
      await metric(follower.url, 'raftlog_forwarded_requests_total{operation="produce",outcome="ok"}'),
    ).toBe(1);
  });

  it("relays a leader's error for a forwarded partition batch as that batch's per-record error (207)", async () => {
    const { follower, leader } = await twoBrokers();
    follower.broker.fault = notLeader(2, (c) => c.op === 'produce' && c.partition === 1);
    leader.broker.fault = notLeader(1, (c) => c.op === 'produce');
    const res = await call(follower.url, 'POST', '/v1/topics/t/records', {
      json: {
        records: [
          { value: 'a', partition: 0 },
          { value: 'b', partition: 1 },
        ],
      },
    });
    expect(res.status).toBe(207);
    expect(res.body.offsets).toEqual([
      { partition: 0, offset: 0 },
      {
        partition: 1,
        error_code: 50301,
        code: 'NOT_LEADER',
        message: 'not the leader',
        retriable: true,
        leader_id: 1,
        leader_url: follower.url,
      },
    ]);
  });
});
