import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../broker/cluster-harness.js';
import { call } from '../http/harness.js';
import { HttpCluster } from './http-cluster.js';

/** Retention over HTTP: topic configs at creation, and what a fetch below the log start answers. */
describe('retention through the HTTP API of three brokers', () => {
  let http: HttpCluster;
  beforeAll(async () => {
    http = await HttpCluster.start(3, { retentionCheckMs: 100 });
  });
  afterAll(async () => {
    await http?.stop();
  });

  it('a fetch below the log start is 416 OFFSET_OUT_OF_RANGE with log_start_offset, through any broker', async () => {
    const [url] = http.allUrls();
    const created = await call(url!, 'POST', '/v1/topics', {
      json: { name: 'short', partitions: 1, replication_factor: 3, configs: { 'retention.bytes': '0' } },
    });
    expect(created.status).toBe(201);
    expect(created.body.configs).toEqual({ 'retention.bytes': 0 });
    await http.topicEverywhere('short');
    for (const value of ['a', 'b', 'c']) {
      const res = await call(url!, 'POST', '/v1/topics/short/partitions/0/records', {
        json: { records: [{ value }] },
      });
      expect(res.status).toBe(200);
    }
    // retention.bytes 0 keeps nothing: the log start reaches the high watermark.
    await waitFor('the log start to move', async () => {
      const res = await call(url!, 'GET', '/v1/topics/short');
      return res.body.partitions[0].log_start_offset === 3;
    });
    for (const u of http.allUrls()) {
      const res = await call(u, 'GET', '/v1/topics/short/partitions/0/records?offset=1');
      expect(res.status).toBe(416);
      expect(res.body).toEqual({
        error_code: 41601,
        code: 'OFFSET_OUT_OF_RANGE',
        message: expect.any(String),
        retriable: false,
        log_start_offset: 3,
        high_watermark: 3,
      });
    }
    const empty = await call(url!, 'GET', '/v1/topics/short/partitions/0/records?offset=3');
    expect(empty.body).toMatchObject({ records: [], next_offset: 3, log_start_offset: 3, high_watermark: 3 });
  });

  it.each([
    { 'retention.ms': -2 },
    { 'retention.ms': 1.5 },
    { 'retention.bytes': 'lots' },
    { 'retention.bytes': true },
  ])('refuses a topic with %j: 400 INVALID_REQUEST', async (configs) => {
    const res = await call(http.allUrls()[0]!, 'POST', '/v1/topics', {
      json: { name: 'refused', partitions: 1, replication_factor: 1, configs },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error_code: 40001, code: 'INVALID_REQUEST' });
  });
});
