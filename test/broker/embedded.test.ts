import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/index.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');

describe('RaftLog (embedded, single node)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftlog-embedded-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends and reads back, and keeps everything across a reopen', async () => {
    const log = await RaftLog.open({ dataDir: dir });
    try {
      await log.createTopic('orders', { partitions: 2 });
      const a = await log.append('orders', 0, [{ value: 'a' }, { value: 'b', key: 'k' }]);
      expect(a).toEqual({ partition: 0, baseOffset: 0, lastOffset: 1 });
      const b = await log.append('orders', 0, [{ value: 'c', headers: [['h', 'v']] }]);
      expect(b.baseOffset).toBe(2);
      const other = await log.append('orders', 1, [{ value: 'x' }]);
      expect(other.baseOffset).toBe(0);
      const { records, highWatermark, nextOffset } = await log.read('orders', 0, 1);
      expect(records.map((r) => [r.offset, text(r.value)])).toEqual([
        [1, 'b'],
        [2, 'c'],
      ]);
      expect(records[0]!.key && text(records[0]!.key)).toBe('k');
      expect(records[1]!.headers.map(([k, v]) => [k, text(v)])).toEqual([['h', 'v']]);
      expect(highWatermark).toBe(3);
      expect(nextOffset).toBe(3);
    } finally {
      await log.close();
    }
    const again = await RaftLog.open({ dataDir: dir });
    try {
      const { records } = await again.read('orders', 0, 0);
      expect(records.map((r) => text(r.value))).toEqual(['a', 'b', 'c']);
      const next = await again.append('orders', 0, [{ value: 'd' }]);
      expect(next.baseOffset).toBe(3);
    } finally {
      await again.close();
    }
  });

  it('answers typed errors for unknown topics, partitions and offsets', async () => {
    const log = await RaftLog.open({ dataDir: dir });
    try {
      await expect(log.append('nope', 0, [{ value: 'a' }])).rejects.toMatchObject({
        code: 'TOPIC_NOT_FOUND',
      });
      await log.createTopic('t');
      await expect(log.createTopic('t')).rejects.toMatchObject({ code: 'TOPIC_EXISTS' });
      await expect(log.append('t', 5, [{ value: 'a' }])).rejects.toMatchObject({
        code: 'PARTITION_NOT_FOUND',
      });
      await expect(log.read('t', 0, 1)).rejects.toMatchObject({
        code: 'OFFSET_OUT_OF_RANGE',
        details: { log_start_offset: 0, high_watermark: 0 },
      });
    } finally {
      await log.close();
    }
  });

  it('a read at the end of the log waits for the next append (long poll)', async () => {
    const log = await RaftLog.open({ dataDir: dir });
    try {
      await log.createTopic('t');
      const pending = log.read('t', 0, 0, { waitMs: 5000 });
      await log.append('t', 0, [{ value: 'late' }]);
      const { records } = await pending;
      expect(records.map((r) => text(r.value))).toEqual(['late']);
    } finally {
      await log.close();
    }
  });

  it('an idempotent producer retry returns the first offsets', async () => {
    const log = await RaftLog.open({ dataDir: dir });
    try {
      await log.createTopic('t');
      const producer = { id: 'p1', epoch: 0, sequence: 0 };
      const first = await log.append('t', 0, [{ value: 'once' }], { producer });
      const retry = await log.append('t', 0, [{ value: 'once' }], { producer });
      expect(retry).toEqual({ ...first, duplicate: true });
      await expect(
        log.append('t', 0, [{ value: 'gap' }], { producer: { ...producer, sequence: 5 } }),
      ).rejects.toMatchObject({
        code: 'OUT_OF_ORDER_SEQUENCE',
      });
      expect((await log.read('t', 0, 0)).records).toHaveLength(1);
    } finally {
      await log.close();
    }
  });
});
