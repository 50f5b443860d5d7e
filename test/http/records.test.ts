import { Packr } from 'msgpackr';
import { describe, expect, it, vi } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { partitionForKey } from '../../src/statemachine/partitioner.js';
import { FakeBroker } from './fake-broker.js';
import { call, serverPool } from './harness.js';

const start = serverPool();
const packr = new Packr({ useRecords: false });
const MSGPACK = 'application/vnd.msgpack';

/** A server with topic `t` of `partitions` partitions. */
async function withTopic(partitions = 3, options = {}) {
  const running = await start(new FakeBroker(), options);
  await running.broker.createTopic({ name: 't', partitions, replicationFactor: 1 });
  return running;
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('POST /v1/topics/{topic}/records', () => {
  it("places keyed records with Kafka's murmur2 partitioner", async () => {
    const { url, broker } = await withTopic(7);
    const keys = ['a', 'user-42', '', 'ünïcödé', 'k'.repeat(100)];
    const res = await call(url, 'POST', '/v1/topics/t/records', {
      json: { records: keys.map((key) => ({ key, value: 'v' })) },
    });
    expect(res.status).toBe(200);
    expect(res.body.offsets.map((o: { partition: number }) => o.partition)).toEqual(
      keys.map((k) => partitionForKey(enc(k), 7)),
    );
    for (const p of res.body.offsets) {
      const fetched = await broker.fetch('t', p.partition, { offset: p.offset });
      expect(fetched.records[0]!.value).toEqual(enc('v'));
    }
  });

  it('sends keyless records round-robin and honours an explicit partition', async () => {
    const { url } = await withTopic(3);
    const res = await call(url, 'POST', '/v1/topics/t/records', {
      json: {
        records: [
          { value: 'a' },
          { value: 'b' },
          { value: 'c', partition: 2 },
          { value: 'd' },
          { value: 'e' },
        ],
      },
    });
    expect(res.body.offsets).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
      { partition: 2, offset: 0 },
      { partition: 2, offset: 1 },
      { partition: 0, offset: 1 },
    ]);
  });

  it('makes one broker.produce per partition and answers offsets in request order', async () => {
    const { url, broker } = await withTopic(2);
    const res = await call(url, 'POST', '/v1/topics/t/records', {
      json: {
        records: [
          { value: 'x', partition: 1 },
          { value: 'y', partition: 0 },
          { value: 'z', partition: 1 },
        ],
      },
    });
    expect(res.body.offsets).toEqual([
      { partition: 1, offset: 0 },
      { partition: 0, offset: 0 },
      { partition: 1, offset: 1 },
    ]);
    expect(
      broker.produces.map((p) => [p.partition, p.records.map((r) => new TextDecoder().decode(r.value))]),
    ).toEqual([
      [1, ['x', 'z']],
      [0, ['y']],
    ]);
  });

  it('answers 207 with the error in place of the offset for records whose partition failed', async () => {
    const { url, broker } = await withTopic(2);
    broker.fault = (c) => {
      if (c.op === 'produce' && c.partition === 1)
        throw new RaftlogError('COMMIT_TIMEOUT', 'no quorum in time');
    };
    const res = await call(url, 'POST', '/v1/topics/t/records', {
      json: {
        records: [
          { value: 'a', partition: 1 },
          { value: 'b', partition: 0 },
        ],
      },
    });
    expect(res.status).toBe(207);
    expect(res.body.offsets).toEqual([
      {
        partition: 1,
        error_code: 50401,
        code: 'COMMIT_TIMEOUT',
        message: 'no quorum in time',
        retriable: true,
      },
      { partition: 0, offset: 0 },
    ]);
  });

  it('an explicit partition outside the topic is 40402 and writes nothing', async () => {
    const { url, broker } = await withTopic(2);
    const res = await call(url, 'POST', '/v1/topics/t/records', {
      json: { records: [{ value: 'a' }, { value: 'b', partition: 2 }] },
    });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error_code: 40402, code: 'PARTITION_NOT_FOUND' });
    expect(broker.produces).toEqual([]);
  });

  it('an unknown topic is 40401', async () => {
    const { url } = await start();
    const res = await call(url, 'POST', '/v1/topics/nope/records', { json: { records: [{ value: 'a' }] } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('TOPIC_NOT_FOUND');
  });

  it.each([
    ['no records', { records: [] }],
    ['records not an array', { records: { value: 'a' } }],
    ['a record without value', { records: [{ key: 'k' }] }],
    ['a null value', { records: [{ value: null }] }],
    ['a numeric value', { records: [{ value: 1 }] }],
    ['an unknown record field', { records: [{ value: 'a', timestamp: 1 }] }],
    ['an unknown top-level field', { records: [{ value: 'a' }], acks: 'all' }],
    ['a producer (only the partition route takes one)', { records: [{ value: 'a' }], producer: {} }],
    ['a negative partition', { records: [{ value: 'a', partition: -1 }] }],
    ['a fractional partition', { records: [{ value: 'a', partition: 0.5 }] }],
    ['an unknown encoding', { records: [{ value: 'a' }], encoding: 'hex' }],
    ['invalid base64', { records: [{ value: 'a!b=' }], encoding: 'base64' }],
    ['unpadded base64', { records: [{ value: 'YQ' }], encoding: 'base64' }],
    ['headers as an object', { records: [{ value: 'a', headers: { h: 'v' } }] }],
    ['a header without name', { records: [{ value: 'a', headers: [{ value: 'v' }] }] }],
    ['a value with a lone surrogate', { records: [{ value: '\ud800' }] }],
  ])('a body with %s is 40001 and writes nothing', async (_what, body) => {
    const { url, broker } = await withTopic(2);
    const res = await call(url, 'POST', '/v1/topics/t/records', { json: body });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error_code: 40001, code: 'INVALID_REQUEST', retriable: false });
    expect(broker.produces).toEqual([]);
  });

  it('a record above maxRecordBytes is 413 RECORD_TOO_LARGE; one at the limit is accepted', async () => {
    const { url } = await withTopic(1, { maxRecordBytes: 100 });
    const at = await call(url, 'POST', '/v1/topics/t/records', {
      json: { records: [{ key: 'kk', value: 'v'.repeat(90), headers: [{ name: 'h', value: 'vvvvvvv' }] }] },
    });
    expect(at.status).toBe(200);
    const over = await call(url, 'POST', '/v1/topics/t/records', {
      json: { records: [{ key: 'kk', value: 'v'.repeat(90), headers: [{ name: 'h', value: 'vvvvvvvv' }] }] },
    });
    expect(over.status).toBe(413);
    expect(over.body).toMatchObject({ error_code: 41301, code: 'RECORD_TOO_LARGE', retriable: false });
  });

  it('a body above maxBodyBytes is 413 RECORD_TOO_LARGE', async () => {
    const { url, broker } = await withTopic(1, { maxBodyBytes: 1000 });
    const res = await call(url, 'POST', '/v1/topics/t/records', {
      json: { records: [{ value: 'v'.repeat(1000) }] },
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error_code: 41301, code: 'RECORD_TOO_LARGE' });
    expect(broker.produces).toEqual([]);
  });
});

describe('POST /v1/topics/{topic}/partitions/{p}/records', () => {
  it('appends the records as one batch: 200 {partition, base_offset, last_offset}', async () => {
    const { url, broker } = await withTopic(2);
    await broker.produce('t', 1, [{ value: enc('before') }]);
    const res = await call(url, 'POST', '/v1/topics/t/partitions/1/records', {
      json: { records: [{ value: 'a' }, { key: 'k', value: 'b' }] },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ partition: 1, base_offset: 1, last_offset: 2 });
    expect(broker.produces).toHaveLength(2);
  });

  it('deduplicates an idempotent producer: same sequence again is the first offsets with duplicate: true', async () => {
    const { url } = await withTopic(1);
    const send = (epoch: number, sequence: number) =>
      call(url, 'POST', '/v1/topics/t/partitions/0/records', {
        json: { records: [{ value: `s${sequence}` }], producer: { id: 'p-1', epoch, sequence } },
      });
    expect((await send(0, 0)).body).toEqual({ partition: 0, base_offset: 0, last_offset: 0 });
    expect((await send(0, 1)).body).toEqual({ partition: 0, base_offset: 1, last_offset: 1 });
    expect((await send(0, 0)).body).toEqual({
      partition: 0,
      base_offset: 0,
      last_offset: 0,
      duplicate: true,
    });
    const gap = await send(0, 3);
    expect(gap.status).toBe(409);
    expect(gap.body).toMatchObject({
      error_code: 40902,
      code: 'OUT_OF_ORDER_SEQUENCE',
      expected_sequence: 2,
    });
    expect((await send(1, 0)).status).toBe(200);
    const fenced = await send(0, 2);
    expect(fenced.status).toBe(409);
    expect(fenced.body).toMatchObject({
      error_code: 40902,
      code: 'PRODUCER_FENCED',
      current_epoch: 1,
      retriable: false,
    });
  });

  it.each([
    ['an empty producer id', { id: '', epoch: 0, sequence: 0 }],
    ['a producer id of 65 characters', { id: 'p'.repeat(65), epoch: 0, sequence: 0 }],
    ['a negative epoch', { id: 'p', epoch: -1, sequence: 0 }],
    ['a fractional sequence', { id: 'p', epoch: 0, sequence: 0.5 }],
    ['a missing sequence', { id: 'p', epoch: 0 }],
    ['an unknown producer field', { id: 'p', epoch: 0, sequence: 0, transactional: true }],
  ])('%s is 40001', async (_what, producer) => {
    const { url, broker } = await withTopic(1);
    const res = await call(url, 'POST', '/v1/topics/t/partitions/0/records', {
      json: { records: [{ value: 'a' }], producer },
    });
    expect(res.body.error_code).toBe(40001);
    expect(broker.produces).toEqual([]);
  });

  it('a producer id of 64 characters (code points) is accepted', async () => {
    const { url } = await withTopic(1);
    const res = await call(url, 'POST', '/v1/topics/t/partitions/0/records', {
      json: { records: [{ value: 'a' }], producer: { id: '😀'.repeat(64), epoch: 0, sequence: 0 } },
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ['-1', 400],
    ['1.5', 400],
    ['1e0', 400],
    ['99999999999999999999', 400],
    ['0x1', 400],
    ['2', 404],
  ])('partition %s in the path answers %i', async (p, status) => {
    const { url } = await withTopic(2);
    const res = await call(url, 'POST', `/v1/topics/t/partitions/${p}/records`, {
      json: { records: [{ value: 'a' }] },
    });
    expect(res.status).toBe(status);
    expect(res.body.error_code).toBe(status === 400 ? 40001 : 40402);
  });

  it("a record's partition field must match the path", async () => {
    const { url } = await withTopic(2);
    const res = await call(url, 'POST', '/v1/topics/t/partitions/0/records', {
      json: { records: [{ value: 'a', partition: 1 }] },
    });
    expect(res.body.error_code).toBe(40001);
  });
});

describe('GET /v1/topics/{topic}/partitions/{p}/records', () => {
  it('returns committed records with offsets, keys, values, headers and timestamps', async () => {
    const { url, broker } = await withTopic(1);
    await broker.produce('t', 0, [
      { key: enc('k'), value: enc('v0'), headers: [['h', enc('x')]] },
      { value: enc('v1') },
      { value: enc('v2') },
    ]);
    const res = await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=1&max_records=1');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      records: [{ offset: 1, key: null, value: 'v1', headers: [], timestamp: expect.any(Number) }],
      next_offset: 2,
      high_watermark: 3,
      log_start_offset: 0,
    });
    const first = await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0&max_records=1');
    expect(first.body.records[0]).toMatchObject({
      key: 'k',
      value: 'v0',
      headers: [{ name: 'h', value: 'x' }],
    });
  });

  it('passes offset, max_records, max_bytes, timeout_ms and min_records on to the broker', async () => {
    const { url, broker } = await withTopic(1);
    await broker.produce('t', 0, [{ value: enc('a') }]);
    await call(
      url,
      'GET',
      '/v1/topics/t/partitions/0/records?offset=0&max_records=10&max_bytes=4096&timeout_ms=250&min_records=1',
    );
    await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=1');
    expect(broker.fetches.map((f) => f.req)).toEqual([
      { offset: 0, maxRecords: 10, maxBytes: 4096, timeoutMs: 250, minRecords: 1 },
      { offset: 1 },
    ]);
    const zero = await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0&min_records=0');
    expect(zero.status).toBe(400);
  });

  it('a long poll at the high watermark answers as soon as a record is committed', async () => {
    const { url, broker } = await withTopic(1);
    const polling = call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0&timeout_ms=30000');
    await vi.waitFor(() => expect(broker.waitingFetches).toBe(1));
    await call(url, 'POST', '/v1/topics/t/partitions/0/records', { json: { records: [{ value: 'late' }] } });
    const res = await polling;
    expect(res.body.records.map((r: { value: string }) => r.value)).toEqual(['late']);
    expect(res.body.next_offset).toBe(1);
  });

  it('an offset outside the log is 416 OFFSET_OUT_OF_RANGE with log_start_offset and high_watermark', async () => {
    const { url, broker } = await withTopic(1);
    await broker.produce('t', 0, [{ value: enc('a') }, { value: enc('b') }, { value: enc('c') }]);
    broker.truncate('t', 0, 1);
    for (const offset of [0, 4]) {
      const res = await call(url, 'GET', `/v1/topics/t/partitions/0/records?offset=${offset}`);
      expect(res.status).toBe(416);
      expect(res.body).toEqual({
        error_code: 41601,
        code: 'OFFSET_OUT_OF_RANGE',
        message: expect.any(String),
        retriable: false,
        log_start_offset: 1,
        high_watermark: 3,
      });
    }
  });

  it.each([
    'offset=-1',
    'offset=1.5',
    'offset=1e400',
    'offset=1e3',
    'offset=abc',
    'offset=',
    'offset=%201',
    'offset=9007199254740992',
    'offset=0&offset=1',
    'max_records=1',
    'offset=0&max_records=0',
    'offset=0&max_bytes=-5',
    'offset=0&timeout_ms=60001',
    'offset=0&encoding=hex',
    'offset=0&limit=5',
  ])('?%s is 40001 and never reaches the broker', async (query) => {
    const { url, broker } = await withTopic(1);
    const res = await call(url, 'GET', `/v1/topics/t/partitions/0/records?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error_code: 40001, code: 'INVALID_REQUEST' });
    expect(broker.fetches).toEqual([]);
  });

  it('an unknown topic is 40401; a partition beyond the topic 40402', async () => {
    const { url } = await withTopic(1);
    expect((await call(url, 'GET', '/v1/topics/u/partitions/0/records?offset=0')).body.error_code).toBe(
      40401,
    );
    expect((await call(url, 'GET', '/v1/topics/t/partitions/1/records?offset=0')).body.error_code).toBe(
      40402,
    );
  });
});

describe('encodings', () => {
  const binary = Uint8Array.from([0, 0xff, 0xfe, 0x80, 10]);

  it('base64 in a produce body and ?encoding=base64 on fetch carry binary keys, values and headers', async () => {
    const { url, broker } = await withTopic(1);
    const b64 = Buffer.from(binary).toString('base64');
    const res = await call(url, 'POST', '/v1/topics/t/partitions/0/records', {
      json: { encoding: 'base64', records: [{ key: b64, value: b64, headers: [{ name: 'h', value: b64 }] }] },
    });
    expect(res.status).toBe(200);
    const stored = (await broker.fetch('t', 0, { offset: 0 })).records[0]!;
    expect([stored.key, stored.value, stored.headers[0]![1]]).toEqual([binary, binary, binary]);
    const fetched = await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0&encoding=base64');
    expect(fetched.body.records[0]).toMatchObject({
      key: b64,
      value: b64,
      headers: [{ name: 'h', value: b64 }],
    });
  });

  it('fetching non-UTF-8 data as UTF-8 is 40001 pointing at ?encoding=base64 (never silently mangled)', async () => {
    const { url, broker } = await withTopic(1);
    await broker.produce('t', 0, [{ value: binary }]);
    const res = await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0');
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('encoding=base64');
  });

  it('a UTF-8 byte order mark survives the round trip', async () => {
    const { url } = await withTopic(1);
    await call(url, 'POST', '/v1/topics/t/partitions/0/records', {
      json: { records: [{ value: '\ufeffbom' }] },
    });
    const res = await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0');
    expect(res.body.records[0].value).toBe('\ufeffbom');
  });

  it('msgpack bodies carry raw bytes both ways; the answer follows the request format', async () => {
    const { url, broker } = await withTopic(1);
    const res = await call(url, 'POST', '/v1/topics/t/partitions/0/records', {
      body: Buffer.from(
        packr.pack({ records: [{ key: binary, value: binary, headers: [{ name: 'h', value: binary }] }] }),
      ),
      headers: { 'content-type': MSGPACK },
    });
    expect(res.contentType).toBe(MSGPACK);
    expect(res.body).toEqual({ partition: 0, base_offset: 0, last_offset: 0 });
    expect((await broker.fetch('t', 0, { offset: 0 })).records[0]!.value).toEqual(binary);
    const fetched = await call(url, 'GET', '/v1/topics/t/partitions/0/records?offset=0', {
      headers: { accept: MSGPACK },
    });
    expect(fetched.contentType).toBe(MSGPACK);
    const record = fetched.body.records[0];
    expect([record.key, record.value, record.headers[0].value].map((b: Buffer) => [...b])).toEqual([
      [...binary],
      [...binary],
      [...binary],
    ]);
  });

  it('Accept chooses the answer format, by q-value, over the request format', async () => {
    const { url } = await withTopic(1);
    const body = Buffer.from(packr.pack({ records: [{ value: 'a' }] }));
    const asJson = await call(url, 'POST', '/v1/topics/t/records', {
      body,
      headers: { 'content-type': MSGPACK, accept: `${MSGPACK};q=0.5, application/json` },
    });
    expect(asJson.contentType).toBe('application/json; charset=utf-8');
    expect(asJson.body.offsets).toEqual([{ partition: 0, offset: 0 }]);
    const asMsgpack = await call(url, 'GET', '/v1/topics', { headers: { accept: `text/html, ${MSGPACK}` } });
    expect(asMsgpack.contentType).toBe(MSGPACK);
    expect(asMsgpack.body).toEqual({ topics: [{ name: 't', partitions: 1, replication_factor: 1 }] });
  });

  it('errors come in the negotiated format too; malformed msgpack is 40001', async () => {
    const { url } = await withTopic(1);
    const res = await call(url, 'POST', '/v1/topics/t/records', {
      body: Buffer.from([0x92, 0x01]),
      headers: { 'content-type': MSGPACK },
    });
    expect(res.status).toBe(400);
    expect(res.contentType).toBe(MSGPACK);
    expect(res.body).toMatchObject({ error_code: 40001, code: 'INVALID_REQUEST', retriable: false });
  });
});
