import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { fastProduce } from '../../src/http/produce-fast-path.js';
import { FakeBroker, notLeader } from './fake-broker.js';
import { call, type Running, serverPool } from './harness.js';
import { rawRequest } from './raw-http.js';

const start = serverPool();
const packr = new Packr({ useRecords: false });
const JSON_TYPE = 'application/json';
const MSGPACK = 'application/vnd.msgpack';

/** What `fastProduce` sees of a request. */
function incoming(method: string, url: string, headers: Record<string, string>): IncomingMessage {
  return { method, url, headers } as unknown as IncomingMessage;
}

describe('fastProduce (which requests skip fastify)', () => {
  const json = { 'content-type': JSON_TYPE, 'content-length': '20' };

  it('takes plain produce requests on both routes, in both formats', () => {
    expect(fastProduce(incoming('POST', '/v1/topics/t.x_1-2/partitions/3/records', json), 100)).toEqual({
      partitioned: true,
      params: { topic: 't.x_1-2', partition: '3' },
      format: 'json',
    });
    const msgpack = { 'content-type': MSGPACK, 'content-length': '100' };
    expect(fastProduce(incoming('POST', '/v1/topics/t/records', msgpack), 100)).toEqual({
      partitioned: false,
      params: { topic: 't' },
      format: 'msgpack',
    });
  });

  it('leaves everything else to fastify', () => {
    const cases: Array<[string, string, Record<string, string>]> = [
      ['GET', '/v1/topics/t/partitions/0/records', json],
      ['PUT', '/v1/topics/t/records', json],
      ['POST', '/v1/topics/t/records?', json],
      ['POST', '/v1/topics/t/records?x=1', json],
      ['POST', '/v1/topics/t/records/', json],
      ['POST', '/v1/topics/t%2Ex/records', json],
      ['POST', `/v1/topics/${'t'.repeat(250)}/records`, json],
      ['POST', `/v1/topics/t/partitions/${'1'.repeat(17)}/records`, json],
      ['POST', '/v1/topics/t/partitions/-1/records', json],
      ['POST', '/v1/topics/t/partitions//records', json],
      ['POST', '/v1/topics//records', json],
      ['POST', '/v1/topics', json],
      [
        'POST',
        '/v1/topics/t/records',
        { 'content-type': 'application/json; charset=utf-8', 'content-length': '20' },
      ],
      ['POST', '/v1/topics/t/records', { 'content-type': 'text/plain', 'content-length': '20' }],
      ['POST', '/v1/topics/t/records', { 'content-length': '20' }],
      ['POST', '/v1/topics/t/records', { 'content-type': JSON_TYPE }],
      ['POST', '/v1/topics/t/records', { 'content-type': JSON_TYPE, 'content-length': '0' }],
      ['POST', '/v1/topics/t/records', { 'content-type': JSON_TYPE, 'content-length': '101' }],
      ['POST', '/v1/topics/t/records', { ...json, 'transfer-encoding': 'chunked' }],
    ];
    for (const [method, url, headers] of cases) {
      expect(
        fastProduce(incoming(method, url, headers), 100),
        `${method} ${url} ${JSON.stringify(headers)}`,
      ).toBe(undefined);
    }
  });
});

/** Send `request` on a fresh connection and return every byte answered, the Date header taken out. */
function exchange(port: number, request: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () =>
      resolve(
        Buffer.concat(chunks)
          .toString('latin1')
          .replace(/\r\ndate: [^\r]*/i, ''),
      ),
    );
    socket.on('connect', () => socket.write(request));
  });
}

function requestBytes(path: string, headers: Record<string, string>, body: Buffer | string): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const lines = Object.entries({ ...headers, 'content-length': String(bytes.length), connection: 'close' });
  return Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nhost: x\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`,
    ),
    bytes,
  ]);
}

/** A follower over a fresh fake broker, with topic `t` of 3 partitions, and the leader it forwards to. */
async function cluster(): Promise<{ follower: Running; leader: Running }> {
  const follower = await start(new FakeBroker(1), { maxRecordBytes: 64 });
  const leader = await start(new FakeBroker(2), { maxRecordBytes: 64 });
  for (const { broker } of [follower, leader]) {
    broker.urls.set(1, follower.url);
    broker.urls.set(2, leader.url);
    await broker.createTopic({ name: 't', partitions: 3, replicationFactor: 2 });
  }
  return { follower, leader };
}

/** Request/response pairs: a path (the route), headers, body, and a fault of the follower's broker. */
interface Case {
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body: Buffer | string;
  readonly fault?: FakeBroker['fault'];
}

const PRODUCER = { id: 'p', epoch: 0, sequence: 0 };
const CASES: Case[] = [
  { path: '/v1/topics/t/partitions/1/records', body: '{"records":[{"value":"a"}]}' },
  {
    path: '/v1/topics/t/partitions/2/records',
    body: JSON.stringify({
      records: [{ key: 'k', value: 'dg==', headers: [{ name: 'h', value: 'aA==' }] }],
      encoding: 'base64',
    }),
  },
  {
    path: '/v1/topics/t/records',
    body: JSON.stringify({
      records: [{ key: 'a', value: '1' }, { value: '2' }, { value: '3', partition: 2 }],
    }),
  },
  {
    path: '/v1/topics/t/partitions/0/records',
    body: JSON.stringify({ records: [{ value: 'x' }], producer: PRODUCER }),
  },
  // The same producer sequence again: a duplicate.
  {
    path: '/v1/topics/t/partitions/0/records',
    body: JSON.stringify({ records: [{ value: 'x' }], producer: PRODUCER }),
  },
  {
    path: '/v1/topics/t/partitions/0/records',
    headers: { accept: MSGPACK },
    body: '{"records":[{"value":"m"}]}',
  },
  {
    path: '/v1/topics/t/partitions/1/records',
    headers: { 'content-type': MSGPACK },
    body: packr.pack({ records: [{ value: Buffer.from([0, 255]) }] }),
  },
  { path: '/v1/topics/t/records', headers: { 'content-type': MSGPACK }, body: Buffer.from([0xc1]) },
  { path: '/v1/topics/t/records', body: '{"records":[' },
  { path: '/v1/topics/t/records', body: '{"records":[{"value":"a"}],"extra":1}' },
  { path: '/v1/topics/t/records', body: '{"records":[]}' },
  { path: '/v1/topics/t/records', body: JSON.stringify({ records: [{ value: 'v'.repeat(65) }] }) },
  { path: '/v1/topics/t/records', body: JSON.stringify({ records: [{ value: 'a' }], producer: PRODUCER }) },
  { path: '/v1/topics/nope/records', body: '{"records":[{"value":"a"}]}' },
  { path: '/v1/topics/t/partitions/3/records', body: '{"records":[{"value":"a"}]}' },
  { path: '/v1/topics/t/partitions/0/records', body: '{"records":[{"value":"a","partition":1}]}' },
  {
    path: '/v1/topics/t/partitions/0/records',
    body: '{"records":[{"value":"a"}]}',
    fault: () => {
      throw new RaftlogError('COMMIT_TIMEOUT', 'not committed in time');
    },
  },
  {
    path: '/v1/topics/t/records',
    body: '{"records":[{"value":"a"}]}',
    fault: () => {
      throw new Error('a bug');
    },
  },
  // Not the leader: forwarded to broker 2, whose answer is relayed.
  { path: '/v1/topics/t/partitions/1/records', body: '{"records":[{"value":"f"}]}', fault: notLeader(2) },
  { path: '/v1/topics/t/records', body: '{"records":[{"value":"f"},{"value":"g"}]}', fault: notLeader(2) },
];

/** The request counters of a server's /metrics (durations differ from run to run). */
async function requestCounters(url: string): Promise<string[]> {
  const text: string = (await call(url, 'GET', '/metrics')).body;
  return text
    .split('\n')
    .filter((l) =>
      /^raftlog_(http_requests_total|http_received_bytes_total|http_sent_bytes_total|records_total|forwarded_requests_total|http_request_duration_seconds_count)\{/.test(
        l,
      ),
    );
}

describe('produce requests served without fastify', () => {
  it('answer the same bytes and count the same metrics as through fastify', async () => {
    const fast = await cluster();
    const viaFastify = await cluster();
    for (const [i, c] of CASES.entries()) {
      const headers = { 'content-type': JSON_TYPE, ...c.headers };
      const port = (r: Running) => Number(new URL(r.url).port);
      fast.follower.broker.fault = c.fault;
      viaFastify.follower.broker.fault = c.fault;
      // A query string ("?" alone means none) is enough to send the request through fastify.
      const a = await exchange(port(fast.follower), requestBytes(c.path, headers, c.body));
      const b = await exchange(port(viaFastify.follower), requestBytes(`${c.path}?`, headers, c.body));
      expect(a, `case ${i}: ${c.path} ${String(c.body).slice(0, 60)}`).toBe(b);
      expect(a).toMatch(/^HTTP\/1\.1 \d{3} /);
    }
    const counters = await requestCounters(fast.follower.url);
    expect(
      counters.some((l) =>
        l.startsWith('raftlog_http_requests_total{operation="produce_partition",status="200"}'),
      ),
    ).toBe(true);
    expect(counters).toEqual(await requestCounters(viaFastify.follower.url));
    expect(await requestCounters(fast.leader.url)).toEqual(await requestCounters(viaFastify.leader.url));
  });

  it('drop an upload cut off midway and keep serving', async () => {
    const { follower } = await cluster();
    const port = Number(new URL(follower.url).port);
    const request = requestBytes(
      '/v1/topics/t/partitions/0/records',
      { 'content-type': JSON_TYPE },
      '{"records":[{"value":"a"}]}',
    );
    expect(await rawRequest(port, request, { abortAfter: request.length - 5 })).toBe(undefined);
    const res = await call(follower.url, 'POST', '/v1/topics/t/partitions/0/records', {
      json: { records: [{ value: 'b' }] },
    });
    expect(res.body).toEqual({ partition: 0, base_offset: 0, last_offset: 0 });
  });
});
