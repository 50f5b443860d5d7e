import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { ERROR_TABLE, statusOf } from '../../src/http/error-table.js';
import { FakeBroker } from './fake-broker.js';
import { call, decodeAnswer, type Running, serverPool } from './harness.js';
import { type RawResponse, type RawSendOptions, rawRequest } from './raw-http.js';

/**
 * Bad input never crashes a broker (issue 5): random methods, paths, queries, headers and bodies,
 * sent over raw sockets, whole, slowly or aborted. Every answer must be a success or a
 * well-formed error body whose status is its error_code / 100, never a 5xx (the fake broker
 * fails only when told to), and afterwards the server still serves and its data is intact.
 * fast-check prints the seed and path of a failure; RAFTLOG_FUZZ_RUNS sets the number of runs.
 */

const RUNS = Number(process.env.RAFTLOG_FUZZ_RUNS ?? 500);
const MAX_BODY = 4096;
const start = serverPool();
const packr = new Packr({ useRecords: false });

/**
 * A server whose topic `keep` holds records the fuzzer cannot reach, and topic `t` it can. A
 * short request timeout, so that bodies shorter than their content-length are answered quickly.
 */
async function fuzzTarget(): Promise<Running> {
  const running = await start(new FakeBroker(), {
    maxBodyBytes: MAX_BODY,
    maxRecordBytes: 512,
    requestTimeoutMs: 1000,
  });
  await running.broker.createTopic({ name: 'keep', partitions: 2, replicationFactor: 1 });
  await running.broker.createTopic({ name: 't', partitions: 3, replicationFactor: 1 });
  await running.broker.produce('keep', 1, [{ key: new Uint8Array([1]), value: new Uint8Array([2, 3]) }]);
  return running;
}

const segment = fc.oneof(
  fc.constantFrom(
    'v1',
    'topics',
    't',
    'nope',
    'partitions',
    'records',
    'cluster',
    'healthz',
    'readyz',
    'metrics',
    '0',
    '2',
    '3',
    '-1',
    '1.5',
    '1e3',
    '99999999999999999999',
    '%20',
    '%ZZ',
    '%2F',
    '..',
    '.',
    '',
    'x'.repeat(300),
  ),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);

/** Paths near the routes (most of them), plus arbitrary request targets. */
const path = fc.oneof(
  { weight: 6, arbitrary: fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => `/${s.join('/')}`) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.constantFrom('t', 'nope', ''), fc.constantFrom('0', '2', '3', '-1', 'x'))
      .map(([topic, p]) => `/v1/topics/${topic}/partitions/${p}/records`),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s)) },
);

const queryValue = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '-1',
    '1.5',
    '1e400',
    '1e3',
    'abc',
    '',
    '9007199254740992',
    '00',
    'base64',
    'utf8',
    'hex',
  ),
  fc.nat().map(String),
  fc.string({ maxLength: 10 }).map(encodeURIComponent),
);
/** Long polls are real waits: keep the accepted ones short (larger values are still rejected). */
const timeoutValue = fc.constantFrom('0', '1', '20', '-1', '1.5', '1e3', 'abc', '60001', '9007199254740993');
const query = fc
  .array(
    fc.oneof(
      fc.tuple(
        fc.constantFrom('offset', 'max_records', 'max_bytes', 'encoding', 'limit', 'offset'),
        queryValue,
      ),
      fc.tuple(fc.constant('timeout_ms'), timeoutValue),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const record = fc.record(
  {
    key: fc.oneof(fc.string({ maxLength: 8 }), fc.constant(null), fc.integer()),
    value: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null), fc.integer(), fc.constant('QUJD')),
    partition: fc.oneof(fc.integer({ min: -2, max: 4 }), fc.double(), fc.constant(2 ** 53)),
    headers: fc.oneof(
      fc.array(fc.record({ name: fc.string(), value: fc.string() }), { maxLength: 2 }),
      fc.jsonValue(),
    ),
    extra: fc.jsonValue(),
  },
  { requiredKeys: ['value'] },
);
const produceBody = fc.record(
  {
    records: fc.oneof(fc.array(record, { maxLength: 4 }), fc.jsonValue()),
    encoding: fc.constantFrom('base64', 'utf8', 'hex'),
    producer: fc.record({
      id: fc.string({ maxLength: 70 }),
      epoch: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.double()),
      sequence: fc.oneof(fc.nat({ max: 3 }), fc.integer({ min: -5, max: -1 })),
    }),
    name: fc.constantFrom('t', 'fuzzed', '..', 'a b'),
    partitions: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double()),
    replication_factor: fc.integer({ min: -1, max: 4 }),
  },
  { requiredKeys: [] },
);

/** A body and the content type that claims to describe it. */
const body = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  produceBody.map((b) => Buffer.from(JSON.stringify(b))),
  produceBody.map((b) => Buffer.from(packr.pack(b))),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(`{"records":[${s}`)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.nat({ max: 3 * MAX_BODY }).map((n) => Buffer.from(`{"records":[{"value":"${'v'.repeat(n)}"}]}`)),
);
const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/vnd.msgpack',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'garbage',
  '',
);
const accept = fc.constantFrom(
  undefined,
  'application/json',
  'application/vnd.msgpack',
  '*/*',
  'text/html',
  'application/vnd.msgpack;q=0',
  'application/json;q=abc, application/vnd.msgpack',
);
const method = fc.constantFrom(
  'GET',
  'GET',
  'POST',
  'POST',
  'DELETE',
  'PUT',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PROPFIND',
  'FOO',
  'get',
);
const extraHeaders = fc.oneof(
  { weight: 4, arbitrary: fc.constant([]) },
  {
    weight: 1,
    arbitrary: fc.subarray([
      'expect: 100-continue',
      'upgrade: websocket\r\nconnection: upgrade',
      'x-raftlog-forwarded: 1',
      'accept-encoding: gzip',
      'content-length: 5',
      'transfer-encoding: chunked',
      `x-big: ${'h'.repeat(20_000)}`,
      'bad header line',
    ]),
  },
);
const sending = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 6 }).map((pieces) => ({ pieces })) },
  { weight: 1, arbitrary: fc.nat({ max: 200 }).map((abortAfter) => ({ abortAfter })) },
);

/** One request the fuzzer sends, and how. */
interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly body: Buffer;
  readonly extraHeaders: readonly string[];
  readonly sending: RawSendOptions;
}

const randomRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method,
  path,
  query,
  contentType,
  accept,
  body,
  extraHeaders,
  sending,
});

/** Requests that are valid or nearly so, to reach the handlers' success paths too. */
const validRecord = fc.record(
  {
    key: fc.string({ maxLength: 8 }),
    value: fc.string({ maxLength: 30 }),
    headers: fc.array(fc.record({ name: fc.string({ maxLength: 5 }), value: fc.string({ maxLength: 5 }) }), {
      maxLength: 2,
    }),
    partition: fc.nat({ max: 3 }),
  },
  { requiredKeys: ['value'] },
);
const partitionNo = fc.nat({ max: 3 });
const coherent = fc.oneof(
  fc.array(validRecord, { minLength: 1, maxLength: 4 }).map((records) => ({
    method: 'POST',
    path: '/v1/topics/t/records',
    query: '',
    body: { records },
  })),
  fc
    .tuple(
      partitionNo,
      fc.array(
        validRecord.map(({ partition: _, ...r }) => r),
        { minLength: 1, maxLength: 3 },
      ),
      fc.option(
        fc.record({
          id: fc.constantFrom('p1', 'p2'),
          epoch: fc.nat({ max: 2 }),
          sequence: fc.nat({ max: 3 }),
        }),
      ),
    )
    .map(([p, records, producer]) => ({
      method: 'POST',
      path: `/v1/topics/t/partitions/${p}/records`,
      query: '',
      body: producer === null ? { records } : { records, producer },
    })),
  fc
    .tuple(
      partitionNo,
      fc.nat({ max: 6 }),
      fc.constantFrom('', '&encoding=base64', '&max_records=2&timeout_ms=5'),
    )
    .map(([p, offset, more]) => ({
      method: 'GET',
      path: `/v1/topics/t/partitions/${p}/records`,
      query: `?offset=${offset}${more}`,
      body: undefined,
    })),
  fc
    .tuple(fc.constantFrom('f0', 'f1'), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }))
    .map(([name, partitions, rf]) => ({
      method: 'POST',
      path: '/v1/topics',
      query: '',
      body: { name, partitions, replication_factor: rf },
    })),
  fc.constantFrom(
    { method: 'DELETE', path: '/v1/topics/f0', query: '', body: undefined },
    { method: 'GET', path: '/v1/topics', query: '', body: undefined },
    { method: 'GET', path: '/v1/topics/t', query: '', body: undefined },
    { method: 'GET', path: '/v1/cluster', query: '', body: undefined },
    { method: 'GET', path: '/readyz', query: '', body: undefined },
    { method: 'GET', path: '/metrics', query: '', body: undefined },
  ),
);
const coherentRequest = fc
  .tuple(coherent, fc.constantFrom('json', 'msgpack'), accept, sending)
  .map(([r, format, acceptHeader, how]): FuzzRequest => {
    const msgpack = format === 'msgpack';
    return {
      method: r.method,
      path: r.path,
      query: r.query,
      contentType:
        r.body === undefined ? undefined : msgpack ? 'application/vnd.msgpack' : 'application/json',
      accept: acceptHeader,
      body:
        r.body === undefined
          ? Buffer.alloc(0)
          : msgpack
            ? Buffer.from(packr.pack(r.body))
            : Buffer.from(JSON.stringify(r.body)),
      extraHeaders: [],
      sending: how,
    };
  });
const fuzzRequest = fc.oneof(randomRequest, coherentRequest);

function requestBytes(r: FuzzRequest): Buffer {
  const lines = [`${r.method} ${r.path}${r.query} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  if (r.contentType !== undefined) lines.push(`content-type: ${r.contentType}`);
  if (r.accept !== undefined) lines.push(`accept: ${r.accept}`);
  lines.push(...r.extraHeaders);
  const chunked = r.extraHeaders.includes('transfer-encoding: chunked');
  if (!chunked && !r.extraHeaders.includes('content-length: 5'))
    lines.push(`content-length: ${r.body.length}`);
  const payload = chunked
    ? Buffer.concat([Buffer.from(`${r.body.length.toString(16)}\r\n`), r.body, Buffer.from('\r\n0\r\n\r\n')])
    : r.body;
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

/** The invariant every answer keeps. */
function checkAnswer(req: FuzzRequest, res: RawResponse): void {
  expect(res.status, 'no 5xx: the fake broker never fails here').toBeLessThan(500);
  if (req.method === 'HEAD' || res.status === 204) return;
  const type = res.headers['content-type'] ?? '';
  if (res.status < 300) {
    if (!type.startsWith('text/plain')) decodeAnswer(type, res.body);
    return;
  }
  expect(type).toMatch(/^application\/(json|vnd\.msgpack)/);
  const err = decodeAnswer(type, res.body) as Record<string, unknown>;
  expect(Object.keys(err).slice(0, 4)).toEqual(['error_code', 'code', 'message', 'retriable']);
  const mapping = ERROR_TABLE[err.code as ErrorCode];
  expect(mapping, `known code ${String(err.code)}`).toBeDefined();
  expect(err.error_code).toBe(mapping.errorCode);
  expect(err.retriable).toBe(mapping.retriable);
  expect(statusOf(err.error_code as number)).toBe(res.status);
  expect(typeof err.message).toBe('string');
}

/** The server still answers normally and the records the fuzzer could not reach are intact. */
async function checkStillServes({ url, broker }: Running): Promise<void> {
  expect((await call(url, 'GET', '/healthz')).status).toBe(200);
  const produced = await call(url, 'POST', '/v1/topics/keep/records', {
    json: { records: [{ value: 'after', partition: 0 }] },
  });
  expect(produced.status).toBe(200);
  const fetched = await call(url, 'GET', '/v1/topics/keep/partitions/1/records?offset=0&encoding=base64');
  expect(fetched.body.records).toEqual([
    { offset: 0, key: 'AQ==', value: 'AgM=', headers: [], timestamp: expect.any(Number) },
  ]);
  expect((await broker.fetch('keep', 0, { offset: 0 })).records).toHaveLength(1);
}

describe('fuzzing the HTTP API', () => {
  it('answers every request with a success or a well-formed error, and keeps serving', async () => {
    const running = await fuzzTarget();
    const port = Number(new URL(running.url).port);
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (req) => {
        const res = await rawRequest(port, requestBytes(req), req.sending);
        if (res !== undefined) checkAnswer(req, res);
      }),
      { numRuns: RUNS },
    );
    await checkStillServes(running);
  });

  it('answers an upload that stalls with 408 REQUEST_TIMEOUT, then keeps serving', async () => {
    const running = await start(new FakeBroker(), { requestTimeoutMs: 300 });
    const port = Number(new URL(running.url).port);
    const head =
      'POST /v1/topics HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n';
    const res = await rawRequest(port, Buffer.from(`${head}{"name":`));
    expect(res!.status).toBe(408);
    expect(JSON.parse(res!.body.toString())).toEqual({
      error_code: 40800,
      code: 'REQUEST_TIMEOUT',
      message: 'the request was not received in time',
      retriable: true,
    });
    expect((await call(running.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('survives many aborted uploads in a row', async () => {
    const running = await fuzzTarget();
    const port = Number(new URL(running.url).port);
    const req = Buffer.from(
      `POST /v1/topics/t/records HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"records":[`,
    );
    await Promise.all(Array.from({ length: 50 }, (_, i) => rawRequest(port, req, { abortAfter: 20 + i })));
    await checkStillServes(running);
  });
});
