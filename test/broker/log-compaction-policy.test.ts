import { describe, expect, it } from 'vitest';
import { LogCompaction } from '../../src/broker/log-compaction.js';
import type { RaftHost } from '../../src/partition/host.js';
import { PartitionState } from '../../src/statemachine/partition-state.js';
import { dataEntry, truncateEntry } from '../statemachine/entries.js';

/** The host as LogCompaction sees it: a log whose snapshot moves when it compacts. */
function fakeHost(appliedIndex: () => number) {
  const calls: number[] = [];
  let snapshotIndex = 0;
  const host = {
    logState: () => ({ snapshotIndex, appliedIndex: appliedIndex() }),
    compactLog: (_group: number, index: number, data: () => Uint8Array) => {
      expect(data().byteLength).toBeGreaterThan(0);
      calls.push(index);
      snapshotIndex = index;
      return true;
    },
  };
  return { host: host as unknown as RaftHost, calls };
}

describe('LogCompaction: when logs are compacted', () => {
  it('a partition, below its first retained entry once a tenth of its retained entries can go', () => {
    const state = new PartitionState();
    const size = dataEntry(1, 1).data.byteLength;
    for (let i = 1; i <= 200; i++) state.apply(dataEntry(i, 1));
    const { host, calls } = fakeHost(() => state.appliedIndex);
    const compaction = new LogCompaction(host, 1000);
    compaction.partition(7, state);
    expect(calls).toEqual([]); // nothing dropped: the first retained entry is entry 1
    const drop = (n: number) =>
      state.apply(
        truncateEntry(state.appliedIndex + 1, {
          fromOffset: state.logStartOffset,
          logStartOffset: state.logStartOffset + n,
          bytes: n * size,
        }),
      );
    drop(10); // 190 retained: 10 dead entries are not yet a tenth
    compaction.partition(7, state);
    expect(calls).toEqual([]);
    drop(10); // 180 retained, 20 dead
    compaction.partition(7, state);
    expect(calls).toEqual([20]);
    drop(180); // nothing retained: through the applied index
    compaction.partition(7, state);
    expect(calls).toEqual([20, 203]);
  });

  it('a group holding its whole state, through its applied index every N entries', () => {
    let applied = 1;
    const { host, calls } = fakeHost(() => applied);
    const compaction = new LogCompaction(host, 10);
    const data = () => new Uint8Array([1]);
    applied = 9;
    compaction.wholeState(0, data);
    expect(calls).toEqual([]);
    applied = 10;
    compaction.wholeState(0, data);
    applied = 19;
    compaction.wholeState(0, data);
    expect(calls).toEqual([10]);
    applied = 20;
    compaction.wholeState(0, data);
    expect(calls).toEqual([10, 20]);
  });
});
