import { describe, expect, it } from 'vitest';
import { type ReadEntries, retentionCut } from '../../src/broker/retention.js';
import { checkTopicConfigs, retentionLimits, UNLIMITED } from '../../src/broker/topic-configs.js';
import { RaftlogError } from '../../src/errors.js';
import type { Entry } from '../../src/raft/types.js';
import { PartitionState } from '../../src/statemachine/partition-state.js';
import { dataEntry, noopEntry, truncateEntry } from '../statemachine/entries.js';

/** A partition state and its log: a no-op, then data entries at the given timestamps. */
function partition(timestamps: number[], extra: (index: number) => Entry | undefined = () => undefined) {
  const state = new PartitionState();
  const log: Entry[] = [];
  const append = (e: Entry) => {
    log.push(e);
    state.apply(e);
  };
  append(noopEntry(1));
  for (const ts of timestamps) {
    const more = extra(log.length + 1);
    if (more) append(more);
    append(dataEntry(log.length + 1, 2, undefined, ts));
  }
  // One entry per read, to walk the log the slow way.
  const read: ReadEntries = async (lo, hi) => log.slice(lo - 1, Math.min(hi - 1, lo));
  return { state, log, append, read };
}

const limits = (ms: number, bytes: number) => ({ ms, bytes });

describe('retentionCut: how far retention moves the log start', () => {
  it('drops the entries older than retention.ms, up to the first younger one', async () => {
    const p = partition([1000, 2000, 3000, 1500, 4000]);
    const cut = await retentionCut(p.state, limits(2000, UNLIMITED), 4500, p.read);
    // 1000 and 2000 are older than 2500; 3000 is not, so 1500 after it stays too.
    const size = p.log[1]!.data.byteLength;
    expect(cut).toEqual({ fromOffset: 0, logStartOffset: 4, bytes: 2 * size });
    expect(p.state.apply(truncateEntry(7, cut!))).toMatchObject({ outcome: 'truncated', logStartOffset: 4 });
    expect(p.state.retainedBytes).toBe(3 * size);
    expect(await retentionCut(p.state, limits(2000, UNLIMITED), 4500, p.read)).toBeUndefined();
    expect(await retentionCut(p.state, limits(0, UNLIMITED), 4500, p.read)).toEqual({
      fromOffset: 4,
      logStartOffset: 10,
      bytes: 3 * size,
    });
  });

  it('drops the oldest entries until the rest fits in retention.bytes, skipping entries without records', async () => {
    const p = partition([1, 2, 3, 4, 5], (index) => (index % 3 === 0 ? noopEntry(index) : undefined));
    const size = p.log[1]!.data.byteLength;
    expect(p.state.retainedBytes).toBe(5 * size);
    expect(await retentionCut(p.state, limits(UNLIMITED, 5 * size), 10, p.read)).toBeUndefined();
    expect(await retentionCut(p.state, limits(UNLIMITED, 3 * size - 1), 10, p.read)).toEqual({
      fromOffset: 0,
      logStartOffset: 6,
      bytes: 3 * size,
    });
    expect(await retentionCut(p.state, limits(UNLIMITED, 0), 10, p.read)).toMatchObject({
      logStartOffset: 10,
    });
    // Either limit drops an entry.
    expect(await retentionCut(p.state, limits(7, 4 * size), 10, p.read)).toMatchObject({ logStartOffset: 4 });
    expect(await retentionCut(p.state, limits(8, 2 * size), 10, p.read)).toMatchObject({ logStartOffset: 6 });
  });

  it('a cut computed before another truncation landed changes nothing', async () => {
    const p = partition([1, 2, 3]);
    const size = p.log[1]!.data.byteLength;
    const stale = await retentionCut(p.state, limits(UNLIMITED, size), 10, p.read);
    p.append(truncateEntry(5, { fromOffset: 0, logStartOffset: 2, bytes: size }));
    expect(p.state.apply(truncateEntry(6, stale!))).toEqual({ outcome: 'empty', index: 6 });
    expect(p.state.logStartOffset).toBe(2);
  });

  it('nothing retained, or no limit: nothing to do, nothing read', async () => {
    const none: ReadEntries = async () => {
      throw new Error('read');
    };
    expect(await retentionCut(new PartitionState(), limits(0, 0), 10, none)).toBeUndefined();
    const p = partition([1, 2]);
    expect(await retentionCut(p.state, limits(UNLIMITED, UNLIMITED), 10, none)).toBeUndefined();
    expect(await retentionCut(p.state, limits(UNLIMITED, 10_000), 10, none)).toBeUndefined();
  });
});

describe('topic configs: retention.ms and retention.bytes', () => {
  it('are unlimited by default and taken as numbers or decimal strings', () => {
    expect(retentionLimits({})).toEqual({ ms: UNLIMITED, bytes: UNLIMITED });
    const configs = checkTopicConfigs({ 'retention.ms': '60000', 'retention.bytes': -1, other: 'kept' });
    expect(configs).toEqual({ 'retention.ms': 60000, 'retention.bytes': -1, other: 'kept' });
    expect(retentionLimits(configs)).toEqual({ ms: 60000, bytes: UNLIMITED });
    expect(retentionLimits(checkTopicConfigs({ 'retention.bytes': 0 }))).toEqual({ ms: UNLIMITED, bytes: 0 });
  });

  it.each([-2, 1.5, '1e3', '', 'forever', true, 2 ** 53, ' 5'])(
    'refuses %j with INVALID_REQUEST',
    (value) => {
      for (const name of ['retention.ms', 'retention.bytes']) {
        let thrown: unknown;
        try {
          checkTopicConfigs({ [name]: value });
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(RaftlogError);
        expect(thrown).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining(name) });
      }
    },
  );
});
