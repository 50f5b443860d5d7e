import { describe, expect, it } from 'vitest';
import { FakeBroker } from './fake-broker.js';
import { call, serverPool } from './harness.js';

const start = serverPool();

describe('topics', () => {
  it('POST /v1/topics creates a topic: 201 with its description', async () => {
    const { url } = await start();
    const res = await call(url, 'POST', '/v1/topics', {
      json: { name: 'orders', partitions: 2, replication_factor: 3, configs: { 'retention.ms': 1000 } },
    });
    expect(res.status).toBe(201);
    expect(res.contentType).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual({
      name: 'orders',
      replication_factor: 3,
      configs: { 'retention.ms': 1000 },
      partitions: [0, 1].map((partition) => ({
        partition,
        leader: 1,
        replicas: [1, 2, 3],
        term: 1,
        high_watermark: 0,
        log_start_offset: 0,
      })),
    });
  });

  it('GET /v1/topics lists topics; GET /v1/topics/{topic} describes one', async () => {
    const { url } = await start();
    await call(url, 'POST', '/v1/topics', { json: { name: 'a', partitions: 1, replication_factor: 1 } });
    await call(url, 'POST', '/v1/topics', {
      json: { name: 'b.c-d_e', partitions: 4, replication_factor: 2 },
    });
    const list = await call(url, 'GET', '/v1/topics');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      topics: [
        { name: 'a', partitions: 1, replication_factor: 1 },
        { name: 'b.c-d_e', partitions: 4, replication_factor: 2 },
      ],
    });
    const one = await call(url, 'GET', '/v1/topics/b.c-d_e');
    expect(one.status).toBe(200);
    expect(one.body.name).toBe('b.c-d_e');
    expect(one.body.partitions).toHaveLength(4);
  });

  it('DELETE /v1/topics/{topic} answers 204 with no body, then the topic is gone (40401)', async () => {
    const { url } = await start();
    await call(url, 'POST', '/v1/topics', { json: { name: 't', partitions: 1, replication_factor: 1 } });
    const del = await call(url, 'DELETE', '/v1/topics/t');
    expect(del.status).toBe(204);
    expect(del.body).toBeUndefined();
    const gone = await call(url, 'GET', '/v1/topics/t');
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({
      error_code: 40401,
      code: 'TOPIC_NOT_FOUND',
      message: 'no topic t',
      retriable: false,
    });
    expect((await call(url, 'DELETE', '/v1/topics/t')).body.code).toBe('TOPIC_NOT_FOUND');
  });

  it('creating an existing topic is 40901 TOPIC_EXISTS', async () => {
    const { url } = await start();
    const body = { name: 't', partitions: 1, replication_factor: 1 };
    await call(url, 'POST', '/v1/topics', { json: body });
    const again = await call(url, 'POST', '/v1/topics', { json: body });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error_code: 40901, code: 'TOPIC_EXISTS', retriable: false });
  });

  it('a replication factor above the number of brokers is 40001 (from the broker)', async () => {
    const { url } = await start(new FakeBroker(1, 3));
    const res = await call(url, 'POST', '/v1/topics', {
      json: { name: 't', partitions: 1, replication_factor: 4 },
    });
    expect(res.status).toBe(400);
    expect(res.body.error_code).toBe(40001);
  });

  it.each([
    ['a name with a slash-free bad character', { name: 'a b', partitions: 1, replication_factor: 1 }],
    ['a name of 250 characters', { name: 'x'.repeat(250), partitions: 1, replication_factor: 1 }],
    ['the name ".."', { name: '..', partitions: 1, replication_factor: 1 }],
    ['no name', { partitions: 1, replication_factor: 1 }],
    ['zero partitions', { name: 't', partitions: 0, replication_factor: 1 }],
    ['fractional partitions', { name: 't', partitions: 1.5, replication_factor: 1 }],
    ['partitions as a string', { name: 't', partitions: '1', replication_factor: 1 }],
    ['partitions beyond int32', { name: 't', partitions: 2 ** 31, replication_factor: 1 }],
    ['a negative replication factor', { name: 't', partitions: 1, replication_factor: -1 }],
    ['camelCase replicationFactor (unknown field)', { name: 't', partitions: 1, replicationFactor: 1 }],
    ['configs that are an array', { name: 't', partitions: 1, replication_factor: 1, configs: [] }],
    [
      'a config value that is an object',
      { name: 't', partitions: 1, replication_factor: 1, configs: { a: {} } },
    ],
    ['a body that is an array', []],
    ['a body that is null', null],
  ])('creating a topic with %s is 40001 INVALID_REQUEST', async (_what, body) => {
    const { url, broker } = await start();
    const res = await call(url, 'POST', '/v1/topics', { json: body });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error_code: 40001, code: 'INVALID_REQUEST', retriable: false });
    expect(typeof res.body.message).toBe('string');
    expect(await broker.listTopics()).toEqual([]);
  });

  it('a topic name of 249 characters is accepted, in the path too', async () => {
    const { url } = await start();
    const name = 'n'.repeat(249);
    expect(
      (await call(url, 'POST', '/v1/topics', { json: { name, partitions: 1, replication_factor: 1 } }))
        .status,
    ).toBe(201);
    expect((await call(url, 'GET', `/v1/topics/${name}`)).body.name).toBe(name);
  });

  it('an invalid topic name in the path is 40001; an unknown query parameter is 40001', async () => {
    const { url } = await start();
    expect((await call(url, 'GET', '/v1/topics/a%20b')).body.error_code).toBe(40001);
    expect((await call(url, 'GET', '/v1/topics?verbose=1')).body.error_code).toBe(40001);
  });

  it('POST without a body is 40001; with malformed JSON 40001; with text/plain 41501', async () => {
    const { url } = await start();
    expect((await call(url, 'POST', '/v1/topics')).body.error_code).toBe(40001);
    const malformed = await call(url, 'POST', '/v1/topics', {
      body: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('INVALID_REQUEST');
    const text = await call(url, 'POST', '/v1/topics', {
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body).toMatchObject({ error_code: 41501, code: 'UNSUPPORTED_MEDIA_TYPE', retriable: false });
  });
});

describe('cluster and health', () => {
  it('GET /v1/cluster describes the cluster in snake_case', async () => {
    const { url } = await start(new FakeBroker(7));
    const res = await call(url, 'GET', '/v1/cluster');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      cluster_id: 'fake-cluster',
      nodes: [{ id: 7, url, alive: true }],
      metadata_leader: 7,
    });
  });

  it('GET /v1/status lists the replication state of the partitions this broker hosts', async () => {
    const broker = new FakeBroker(7);
    const { url } = await start(broker);
    await broker.createTopic({ name: 's', partitions: 2, replicationFactor: 1 });
    const res = await call(url, 'GET', '/v1/status');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      partitions: [
        { topic: 's', partition: 0, leader: 7, term: 3, commit_index: 1, high_watermark: 0 },
        { topic: 's', partition: 1, leader: 7, term: 3, commit_index: 1, high_watermark: 0 },
      ],
      moves: [],
    });
  });

  it('/healthz is 200; /readyz is 200 when ready and 503 NO_LEADER when not', async () => {
    const { url, broker } = await start();
    expect((await call(url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(url, 'GET', '/readyz')).body).toEqual({ status: 'ready' });
    broker.ready = false;
    const notReady = await call(url, 'GET', '/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ error_code: 50302, code: 'NO_LEADER', retriable: true });
  });
});

describe('unknown routes and methods', () => {
  it.each(['/', '/v1', '/v2/topics', '/v1/topics/t/partitions', '/v1/topics/t/partitions/0', '/favicon.ico'])(
    'GET %s is 404 ROUTE_NOT_FOUND with a JSON body',
    async (path) => {
      const { url } = await start();
      const res = await call(url, 'GET', path);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error_code: 40400, code: 'ROUTE_NOT_FOUND', retriable: false });
    },
  );

  it.each([
    ['PUT', '/v1/topics', 'POST, GET, HEAD'],
    ['DELETE', '/v1/topics', 'POST, GET, HEAD'],
    ['PATCH', '/v1/topics/t', 'GET, DELETE, HEAD'],
    ['GET', '/v1/topics/t/records', 'POST'],
    ['DELETE', '/v1/topics/t/partitions/0/records', 'POST, GET, HEAD'],
    ['POST', '/metrics', 'GET, HEAD'],
    ['OPTIONS', '/v1/cluster', 'GET, HEAD'],
  ])('%s %s is 405 METHOD_NOT_ALLOWED with Allow: %s', async (method, path, allow) => {
    const { url } = await start();
    const res = await call(url, method, path);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.body).toMatchObject({ error_code: 40500, code: 'METHOD_NOT_ALLOWED', retriable: false });
  });
});
