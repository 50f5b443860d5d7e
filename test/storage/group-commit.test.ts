import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/storage/group-commit.js';

/** A writer whose batches are arrays of numbers, recording every write and whether it synced. */
function recordingCommit() {
  const writes: Array<{ ops: number[]; sync: boolean }> = [];
  const commit = new GroupCommit<number[]>(
    {
      open: () => [],
      count: (b) => b.length,
      write: async (b, sync) => {
        writes.push({ ops: b, sync });
      },
      discard: () => {},
    },
    { batchStarted: () => {}, batchDurable: () => {} },
  );
  return { commit, writes };
}

describe('GroupCommit', () => {
  it('commits of one turn share one batch; it syncs if any of them asked for a sync', async () => {
    const { commit, writes } = recordingCommit();
    commit.staging().push(1);
    const a = commit.commit(false);
    commit.staging().push(2);
    const b = commit.commit(true);
    await Promise.all([a, b]);
    expect(writes).toEqual([{ ops: [1, 2], sync: true }]);
  });

  it('a batch of unsynced commits only is written without a sync', async () => {
    const { commit, writes } = recordingCommit();
    commit.staging().push(1);
    await commit.commit(false);
    commit.staging().push(2);
    await commit.commit();
    expect(writes).toEqual([
      { ops: [1], sync: false },
      { ops: [2], sync: true },
    ]);
  });

  it('a synced commit starts its batch at once; an unsynced one at the end of the event-loop turn', async () => {
    const { commit, writes } = recordingCommit();
    commit.staging().push(1);
    const unsynced = commit.commit(false);
    expect(writes).toEqual([]);
    await unsynced;
    expect(writes).toEqual([{ ops: [1], sync: false }]);
    commit.staging().push(2);
    const synced = commit.commit(true);
    expect(writes).toEqual([
      { ops: [1], sync: false },
      { ops: [2], sync: true },
    ]);
    await synced;
  });

  it('a synced commit asked for while a batch is in flight waits for it, then shares one batch', async () => {
    const { commit, writes } = recordingCommit();
    commit.staging().push(1);
    const first = commit.commit(true);
    commit.staging().push(2);
    const second = commit.commit(true);
    commit.staging().push(3);
    const third = commit.commit(false);
    expect(writes).toEqual([{ ops: [1], sync: true }]);
    await Promise.all([first, second, third]);
    expect(writes).toEqual([
      { ops: [1], sync: true },
      { ops: [2, 3], sync: true },
    ]);
  });
});
