import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { TEST_TIMING, waitFor } from '../broker/cluster-harness.js';

describe('consumer groups across a broker restart', () => {
  let dir: string | undefined;
  let broker: Broker | undefined;
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const open = async () => {
    broker = new Broker({ id: 1, store: await LevelLogStore.open(dir!), timing: TEST_TIMING });
    await broker.whenReady(10_000);
    return broker;
  };

  it('keeps members, generation and committed offsets (checkpoint plus the entries after it)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftlog-groups-restart-'));
    let b = await open();
    await b.createTopic({ name: 'jobs', partitions: 3, replicationFactor: 1 });
    const joined = await waitFor('the coordinator', () =>
      b.groups.joinGroup('workers', { topics: ['jobs'] }),
    );
    await b.groups.joinGroup('workers', { topics: ['jobs'], sessionTimeoutMs: 60_000 });
    const first = await b.groups.heartbeat('workers', joined.memberId);
    expect(first.generation).toBe(2);
    // More commits than entries between two checkpoints, so a restart replays some.
    for (let offset = 1; offset <= 100; offset++) {
      await b.groups.commitOffsets('workers', {
        memberId: joined.memberId,
        generation: 2,
        offsets: first.assignments.flatMap((a) =>
          a.partitions.map((partition) => ({ topic: a.topic, partition, offset })),
        ),
      });
    }
    const before = await b.groups.describeGroup('workers');
    await b.close();

    b = await open();
    const after = await waitFor('the coordinator after the restart', () => b.groups.describeGroup('workers'));
    expect(after).toEqual(before);
    expect(after.partitions.filter((p) => p.offset === 100)).toHaveLength(
      first.assignments[0]!.partitions.length,
    );
    // The new leader gave the members a session of grace: still there, and heartbeats work.
    expect((await b.groups.heartbeat('workers', joined.memberId)).generation).toBe(2);
  });
});
