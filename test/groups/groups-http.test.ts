import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftlogClient } from '../../src/client/index.js';
import { waitFor } from '../broker/cluster-harness.js';
import { HttpCluster } from '../client/http-cluster.js';

/** One JSON request; resolves with the status and parsed body. */
async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('consumer group HTTP API on three brokers', () => {
  let http: HttpCluster;
  let client: RaftlogClient;
  let urls: string[];

  beforeAll(async () => {
    http = await HttpCluster.start(3);
    urls = http.allUrls();
    client = new RaftlogClient({ urls });
    await client.createTopic('clicks', { partitions: 4, replicationFactor: 3 });
    await http.topicEverywhere('clicks');
  });
  afterAll(async () => {
    await client?.close();
    await http?.stop();
  });

  it('joins, heartbeats, commits, reads offsets with lag, fences and leaves, through any broker', async () => {
    // The first join creates the internal topic; brokers answer NOT_LEADER / NO_LEADER (retriable)
    // until its partitions have leaders, and the client repeats.
    const joined = (await client.request(
      {
        method: 'POST',
        path: '/v1/groups/reporting/members',
        body: { topics: ['clicks'], session_timeout_ms: 5000 },
      },
      'only-if-not-done',
      40,
    )) as { member_id: string; generation: number; assignments: unknown };
    expect(joined.generation).toBe(1);
    expect(joined.assignments).toEqual([{ topic: 'clicks', partitions: [0, 1, 2, 3] }]);
    const member = joined.member_id;
    await http.topicEverywhere('__consumer_groups');

    for (const url of urls) {
      const hb = await call(url, 'POST', `/v1/groups/reporting/members/${member}/heartbeat`);
      expect(hb).toMatchObject({
        status: 200,
        body: { generation: 1, assignments: [{ topic: 'clicks', partitions: [0, 1, 2, 3] }] },
      });
    }
    await client.produce('clicks', 2, [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
    const put = await call(urls[1]!, 'PUT', '/v1/groups/reporting/offsets', {
      member_id: member,
      generation: 1,
      offsets: [{ topic: 'clicks', partition: 2, offset: 1 }],
    });
    expect(put.status).toBe(204);
    const offsets = await call(urls[2]!, 'GET', '/v1/groups/reporting/offsets');
    expect(offsets).toEqual({
      status: 200,
      body: { offsets: [{ topic: 'clicks', partition: 2, offset: 1, lag: 2 }] },
    });

    // A second member: generation 2, partitions split two and two.
    const second = await call(urls[0]!, 'POST', '/v1/groups/reporting/members', { topics: ['clicks'] });
    expect(second.status).toBe(200);
    expect(second.body.generation).toBe(2);
    const stale = await call(urls[0]!, 'PUT', '/v1/groups/reporting/offsets', {
      member_id: member,
      generation: 1,
      offsets: [{ topic: 'clicks', partition: 0, offset: 1 }],
    });
    expect(stale).toMatchObject({
      status: 409,
      body: { error_code: 40903, code: 'STALE_GENERATION', retriable: false, generation: 2 },
    });
    const staleBeat = await call(urls[1]!, 'POST', `/v1/groups/reporting/members/${member}/heartbeat`, {
      generation: 1,
    });
    expect(staleBeat).toMatchObject({ status: 409, body: { code: 'STALE_GENERATION', generation: 2 } });
    const beat = await call(urls[1]!, 'POST', `/v1/groups/reporting/members/${member}/heartbeat`);
    expect(beat.body.generation).toBe(2);
    const mine = beat.body.assignments[0].partitions as number[];
    const theirs = second.body.assignments[0].partitions as number[];
    expect([...mine, ...theirs].sort()).toEqual([0, 1, 2, 3]);
    expect(mine).toHaveLength(2);

    const described = await call(urls[2]!, 'GET', '/v1/groups/reporting');
    expect(described.status).toBe(200);
    expect(described.body.generation).toBe(2);
    expect(described.body.members).toHaveLength(2);
    expect(described.body.partitions.find((p: { partition: number }) => p.partition === 2)).toMatchObject({
      offset: 1,
      high_watermark: 3,
      lag: 2,
    });
    const list = await call(urls[0]!, 'GET', '/v1/groups');
    expect(list.body.groups).toContainEqual({ group: 'reporting', generation: 2, members: 2 });

    // Lag in /metrics, on the coordinator's leader.
    await waitFor('the lag metric', async () => {
      for (const url of urls) {
        const text = await (await fetch(`${url}/metrics`)).text();
        if (text.includes('raftlog_group_lag{group="reporting",topic="clicks",partition="2"} 2')) return true;
      }
      return false;
    });

    expect(await call(urls[2]!, 'DELETE', `/v1/groups/reporting/members/${second.body.member_id}`)).toEqual({
      status: 204,
      body: undefined,
    });
    const again = await call(urls[2]!, 'DELETE', `/v1/groups/reporting/members/${second.body.member_id}`);
    expect(again).toMatchObject({ status: 404, body: { error_code: 40403, code: 'UNKNOWN_MEMBER' } });
    const unknown = await call(urls[0]!, 'POST', '/v1/groups/reporting/members/nobody/heartbeat');
    expect(unknown).toMatchObject({ status: 404, body: { code: 'UNKNOWN_MEMBER' } });
    const missing = await call(urls[1]!, 'GET', '/v1/groups/nothing-here/offsets');
    expect(missing).toMatchObject({ status: 404, body: { error_code: 40403, code: 'GROUP_NOT_FOUND' } });
  });

  it('a join replayed with its member_id makes one member; a moving partition waits for its owner to confirm', async () => {
    const join = { topics: ['clicks'], member_id: 'worker-1', confirm_revocations: true };
    // Until the group's coordinator partition has a leader the join answers 503 (retriable), and
    // a client repeats it: with its member_id the repeat is the same join.
    const first = await waitFor('the coordinator of barrier to take the join', async () => {
      const answer = await call(urls[0]!, 'POST', '/v1/groups/barrier/members', join);
      return answer.status === 503 && answer.body.retriable === true ? undefined : answer;
    });
    expect(first).toEqual({
      status: 200,
      body: {
        member_id: 'worker-1',
        generation: 1,
        assignments: [{ topic: 'clicks', partitions: [0, 1, 2, 3] }],
        revoking: [],
      },
    });
    // The same join again (a retry after a lost answer), through another broker: the same member.
    expect(await call(urls[1]!, 'POST', '/v1/groups/barrier/members', join)).toEqual(first);
    expect(await call(urls[2]!, 'POST', '/v1/groups/barrier/members', join)).toEqual(first);
    expect((await call(urls[2]!, 'GET', '/v1/groups/barrier')).body.members).toHaveLength(1);
    const clash = await call(urls[0]!, 'POST', '/v1/groups/barrier/members', { ...join, topics: ['later'] });
    expect(clash).toMatchObject({ status: 400, body: { code: 'INVALID_REQUEST' } });

    // A second member: the assignment splits, but what moves stays worker-1's until it confirms.
    const second = await call(urls[2]!, 'POST', '/v1/groups/barrier/members', {
      topics: ['clicks'],
      member_id: 'worker-2',
      confirm_revocations: true,
    });
    expect(second.body).toEqual({ member_id: 'worker-2', generation: 2, assignments: [], revoking: [] });
    const beat = (url: string, member: string, body?: unknown) =>
      call(url, 'POST', `/v1/groups/barrier/members/${member}/heartbeat`, body);
    expect((await beat(urls[0]!, 'worker-1')).body).toEqual({
      member_id: 'worker-1',
      generation: 2,
      assignments: [{ topic: 'clicks', partitions: [0, 1] }],
      revoking: [{ topic: 'clicks', partitions: [2, 3] }],
    });
    // Until it confirms, worker-1 may still commit what it processed of them; worker-2 waits.
    const commit = (member: string) =>
      call(urls[1]!, 'PUT', '/v1/groups/barrier/offsets', {
        member_id: member,
        generation: 2,
        offsets: [{ topic: 'clicks', partition: 3, offset: 0 }],
      });
    expect((await commit('worker-1')).status).toBe(204);
    expect((await beat(urls[1]!, 'worker-2')).body.assignments).toEqual([]);
    const described = await call(urls[2]!, 'GET', '/v1/groups/barrier');
    expect(described.body.members[0]).toMatchObject({
      member_id: 'worker-1',
      revoking: [{ topic: 'clicks', partitions: [2, 3] }],
    });
    expect(described.body.partitions.map((p: { member_id: string }) => p.member_id)).toEqual([
      'worker-1',
      'worker-1',
      'worker-1',
      'worker-1',
    ]);

    // A confirmation must name the generation it was seen in; an older one is refused with the current.
    const revoked = [{ topic: 'clicks', partitions: [2, 3] }];
    expect(await beat(urls[2]!, 'worker-1', { generation: 1, revoked })).toMatchObject({
      status: 409,
      body: { error_code: 40903, code: 'STALE_GENERATION', generation: 2 },
    });
    expect(await beat(urls[2]!, 'worker-1', { revoked })).toMatchObject({
      status: 400,
      body: { code: 'INVALID_REQUEST' },
    });
    expect((await beat(urls[2]!, 'worker-2')).body.assignments).toEqual([]);

    const confirmed = await beat(urls[2]!, 'worker-1', { generation: 2, revoked });
    expect(confirmed.body).toEqual({
      member_id: 'worker-1',
      generation: 2,
      assignments: [{ topic: 'clicks', partitions: [0, 1] }],
      revoking: [],
    });
    expect((await beat(urls[0]!, 'worker-2')).body).toMatchObject({
      generation: 2,
      assignments: [{ topic: 'clicks', partitions: [2, 3] }],
    });
    expect(await commit('worker-1')).toMatchObject({ status: 409, body: { code: 'STALE_GENERATION' } });
    expect((await commit('worker-2')).status).toBe(204);
    for (const m of ['worker-1', 'worker-2']) {
      expect((await call(urls[0]!, 'DELETE', `/v1/groups/barrier/members/${m}`)).status).toBe(204);
    }
  });

  it('assigns the partitions of a topic created after the members subscribed to it', async () => {
    const joined = await call(urls[0]!, 'POST', '/v1/groups/early/members', { topics: ['later'] });
    expect(joined).toMatchObject({ status: 200, body: { generation: 1, assignments: [] } });
    await client.createTopic('later', { partitions: 2, replicationFactor: 1 });
    const beat = await waitFor('the new topic in the assignment', async () => {
      const hb = await call(urls[1]!, 'POST', `/v1/groups/early/members/${joined.body.member_id}/heartbeat`);
      return hb.body.assignments.length > 0 ? hb.body : undefined;
    });
    expect(beat).toMatchObject({ generation: 2, assignments: [{ topic: 'later', partitions: [0, 1] }] });
    await call(urls[2]!, 'DELETE', `/v1/groups/early/members/${joined.body.member_id}`);
  });

  it('validates input and keeps the internal topic internal', async () => {
    const url = urls[0]!;
    const bad = [
      await call(url, 'POST', '/v1/groups/g/members', { topics: [] }),
      await call(url, 'POST', '/v1/groups/g/members', { topics: ['clicks'], session_timeout_ms: 1 }),
      await call(url, 'POST', '/v1/groups/g/members', { topics: ['clicks'], extra: 1 }),
      await call(url, 'POST', '/v1/groups/g/members', { topics: ['__consumer_groups'] }),
      await call(url, 'PUT', '/v1/groups/g/offsets', {
        offsets: [{ topic: 'clicks', partition: 0, offset: -1 }],
      }),
      await call(url, 'PUT', '/v1/groups/g/offsets', {
        generation: 1,
        offsets: [{ topic: 'clicks', partition: 0, offset: 1 }],
      }),
      await call(url, 'POST', '/v1/topics/__consumer_groups/partitions/0/records', {
        records: [{ value: 'x' }],
      }),
      await call(url, 'POST', '/v1/topics', {
        name: '__consumer_groups',
        partitions: 1,
        replication_factor: 1,
      }),
    ];
    for (const r of bad)
      expect(r).toMatchObject({ status: 400, body: { error_code: 40001, code: 'INVALID_REQUEST' } });
    expect(
      await call(url, 'PUT', '/v1/groups/g/offsets', {
        offsets: [{ topic: 'nope', partition: 0, offset: 1 }],
      }),
    ).toMatchObject({
      status: 404,
      body: { code: 'TOPIC_NOT_FOUND' },
    });
    const topics = await call(url, 'GET', '/v1/topics');
    expect(topics.body.topics.map((t: { name: string }) => t.name)).toEqual(['clicks', 'later']);

    // A commit from outside is fine for a group without members (e.g. to reset its offsets).
    expect(
      (
        await call(url, 'PUT', '/v1/groups/offline/offsets', {
          offsets: [{ topic: 'clicks', partition: 3, offset: 0 }],
        })
      ).status,
    ).toBe(204);
    expect((await call(url, 'GET', '/v1/groups/offline/offsets')).body).toEqual({
      offsets: [{ topic: 'clicks', partition: 3, offset: 0, lag: 0 }],
    });
  });
});
