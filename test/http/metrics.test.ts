import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeBroker } from './fake-broker.js';
import { call, serverPool } from './harness.js';

const start = serverPool();

/** The samples of a Prometheus text exposition, by series (name and labels). */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await call(url, 'GET', '/metrics');
  expect(res.status).toBe(200);
  expect(res.contentType).toMatch(/^text\/plain/);
  const samples = new Map<string, number>();
  for (const line of (res.body as string).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe('/metrics', () => {
  it('reports per-partition leader, term, commit index and high watermark, read at scrape time', async () => {
    const { url, broker } = await start(new FakeBroker(4));
    await broker.createTopic({ name: 't', partitions: 2, replicationFactor: 1 });
    await broker.produce('t', 1, [{ value: new Uint8Array(1) }, { value: new Uint8Array(1) }]);
    const samples = await scrape(url);
    expect(samples.get('raftlog_partition_leader{topic="t",partition="1"}')).toBe(4);
    expect(samples.get('raftlog_partition_term{topic="t",partition="1"}')).toBe(3);
    expect(samples.get('raftlog_partition_commit_index{topic="t",partition="1"}')).toBe(3);
    expect(samples.get('raftlog_partition_high_watermark{topic="t",partition="1"}')).toBe(2);
    expect(samples.get('raftlog_partition_high_watermark{topic="t",partition="0"}')).toBe(0);
    await broker.deleteTopic('t');
    expect([...(await scrape(url)).keys()].filter((k) => k.startsWith('raftlog_partition_'))).toEqual([]);
  });

  it('counts produce and fetch requests, their latency, bytes and records', async () => {
    const { url, broker } = await start();
    await broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1 });
    const body = { records: [{ value: 'abc' }, { value: 'def' }] };
    await call(url, 'POST', '/v1/topics/t/records', { json: body });
    await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0');
    await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=-1');
    const samples = await scrape(url);
    expect(samples.get('raftlog_http_requests_total{operation="produce",status="200"}')).toBe(1);
    expect(samples.get('raftlog_http_requests_total{operation="fetch",status="200"}')).toBe(1);
    expect(samples.get('raftlog_http_requests_total{operation="fetch",status="400"}')).toBe(1);
    expect(samples.get('raftlog_http_request_duration_seconds_count{operation="fetch"}')).toBe(2);
    expect(samples.get('raftlog_http_request_duration_seconds_bucket{le="+Inf",operation="produce"}')).toBe(
      1,
    );
    expect(samples.get('raftlog_http_received_bytes_total{operation="produce"}')).toBe(
      JSON.stringify(body).length,
    );
    expect(samples.get('raftlog_http_sent_bytes_total{operation="fetch"}')).toBeGreaterThan(0);
    expect(samples.get('raftlog_records_total{direction="produced"}')).toBe(2);
    expect(samples.get('raftlog_records_total{direction="fetched"}')).toBe(2);
  });

  it('keeps a registry per server: two brokers in one process report their own partitions', async () => {
    const one = await start(new FakeBroker(1));
    const two = await start(new FakeBroker(2));
    await one.broker.createTopic({ name: 'a', partitions: 1, replicationFactor: 1 });
    await two.broker.createTopic({ name: 'b', partitions: 1, replicationFactor: 1 });
    const [s1, s2] = [await scrape(one.url), await scrape(two.url)];
    expect(s1.get('raftlog_partition_leader{topic="a",partition="0"}')).toBe(1);
    expect(s1.has('raftlog_partition_leader{topic="b",partition="0"}')).toBe(false);
    expect(s2.get('raftlog_partition_leader{topic="b",partition="0"}')).toBe(2);
  });

  it("exposes the broker's own collectors registered on the server's registry, or on one it was given", async () => {
    const own = await start();
    new Counter({
      name: 'raftlog_fsync_batches_total',
      help: 'fsync batches',
      registers: [own.server.registry],
    }).inc(3);
    expect((await scrape(own.url)).get('raftlog_fsync_batches_total')).toBe(3);
    const registry = new Registry();
    new Counter({ name: 'raftlog_elections_total', help: 'elections', registers: [registry] }).inc(2);
    const given = await start(new FakeBroker(), { registry });
    expect(given.server.registry).toBe(registry);
    expect((await scrape(given.url)).get('raftlog_elections_total')).toBe(2);
  });
});
