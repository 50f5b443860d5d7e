import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { FakeBroker } from './fake-broker.js';
import { decodeAnswer, serverPool } from './harness.js';

const start = serverPool();
const MSGPACK = 'application/vnd.msgpack';
const RECORDS = 12;
const SIZE = 1024 * 1024;

/** Record `i`'s value: SIZE bytes that no other record has at any position. */
const recordValue = (i: number) => {
  const v = Buffer.alloc(SIZE);
  for (let k = 0; k < SIZE; k += 4) v.writeUInt32BE((i * SIZE + k) >>> 0, k);
  return new Uint8Array(v);
};

/** A server whose topic `t` holds RECORDS records of 1 MiB. */
async function withLargeRecords() {
  const running = await start(new FakeBroker());
  await running.broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1 });
  for (let i = 0; i < RECORDS; i++) await running.broker.produce('t', 0, [{ value: recordValue(i) }]);
  return running;
}

describe('answers of megabytes (written into reused buffers)', () => {
  it('are each intact while many are under way at once, in both formats', async () => {
    const { url } = await withLargeRecords();
    // Every answer (6 MiB and more) is under way before any body is read, so the server's writes
    // wait on the clients while it writes the next answers: a buffer reused too early would show.
    const started = await Promise.all(
      Array.from({ length: 6 }, async (_, n) => {
        const offset = (n * 5) % RECORDS;
        const msgpack = n % 2 === 0;
        const query = `offset=${offset}&max_records=6${msgpack ? '' : '&encoding=base64'}`;
        const res = await request(`${url}/v1/topics/t/partitions/0/records?${query}`, {
          headers: msgpack ? { accept: MSGPACK } : {},
        });
        return { offset, msgpack, res };
      }),
    );
    for (const { offset, msgpack, res } of started) {
      expect(res.statusCode).toBe(200);
      const body = decodeAnswer(
        String(res.headers['content-type']),
        Buffer.from(await res.body.arrayBuffer()),
      ) as {
        records: { offset: number; value: Uint8Array | string }[];
      };
      const want = Array.from({ length: Math.min(6, RECORDS - offset) }, (_, i) => offset + i);
      expect(body.records.map((r) => r.offset)).toEqual(want);
      for (const r of body.records) {
        const got = msgpack ? Buffer.from(r.value as Uint8Array) : Buffer.from(r.value as string, 'base64');
        expect(got.equals(recordValue(r.offset))).toBe(true);
      }
    }
  });

  it('stay intact after answers whose clients went away before reading them', async () => {
    const { url } = await withLargeRecords();
    const path = '/v1/topics/t/partitions/0/records?offset=0&max_records=8';
    for (let n = 0; n < 5; n++) {
      const gone = new AbortController();
      const res = await request(`${url}${path}`, { headers: { accept: MSGPACK }, signal: gone.signal });
      gone.abort();
      await res.body.dump().catch(() => undefined);
    }
    const res = await request(`${url}${path}`, { headers: { accept: MSGPACK } });
    const body = decodeAnswer(MSGPACK, Buffer.from(await res.body.arrayBuffer())) as {
      records: { offset: number; value: Uint8Array }[];
    };
    expect(body.records).toHaveLength(8);
    for (const r of body.records) expect(Buffer.from(r.value).equals(recordValue(r.offset))).toBe(true);
  });
});
