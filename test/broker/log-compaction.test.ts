import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/broker/broker.js';
import { Role } from '../../src/raft/types.js';
import { METADATA_GROUP } from '../../src/statemachine/metadata.js';
import { InProcessCluster, TEST_TIMING, waitFor } from './cluster-harness.js';

describe('log compaction of the metadata and consumer-group coordinator groups', () => {
  let cluster: InProcessCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('every replica compacts them every N entries; a broker stopped meanwhile catches up from a snapshot', async () => {
    const c = await InProcessCluster.start(3, TEST_TIMING, { compactionEntries: 10 });
    cluster = c;
    const admin = await c.metadataLeader();
    await admin.createTopic({ name: 'jobs', partitions: 1, replicationFactor: 3 });
    /** Through whichever broker coordinates the group. */
    const onCoordinator = <T>(what: string, call: (b: Broker) => Promise<T>) =>
      waitFor(what, async () => {
        for (const b of c.running()) {
          const result = await call(b).catch(() => undefined);
          if (result !== undefined) return result;
        }
        return undefined;
      });
    const member = await onCoordinator('a join', (b) => b.groups.joinGroup('workers', { topics: ['jobs'] }));
    await waitFor('every broker to host the coordinators', () =>
      c.running().every((b) => b.groups.hostedGroups().length > 0),
    );
    const stopped = 3;
    const applied = (id: number, group: number) => c.broker(id).host.logState(group)?.appliedIndex ?? 0;
    const coordinators = c.broker(stopped).groups.hostedGroups();
    const hadApplied = new Map([METADATA_GROUP, ...coordinators].map((g) => [g, applied(stopped, g)]));
    await c.kill(stopped);

    const live = await c.metadataLeader();
    for (let i = 0; i < 15; i++)
      await live.createTopic({ name: `t${i}`, partitions: 1, replicationFactor: 2 });
    for (let offset = 1; offset <= 30; offset++) {
      await onCoordinator('a commit', async (b) => {
        await b.groups.commitOffsets('workers', {
          memberId: member.memberId,
          generation: member.generation,
          offsets: [{ topic: 'jobs', partition: 0, offset }],
        });
        return true;
      });
    }
    // The live replicas' logs no longer hold what the stopped broker needs next.
    const busy = coordinators.filter((g) =>
      c.running().some((b) => applied(b.id, g) > hadApplied.get(g)! + 20),
    );
    expect(busy.length).toBeGreaterThan(0);
    for (const group of [METADATA_GROUP, ...busy]) {
      await waitFor(`group ${group} compacted past the stopped replica on every live broker`, () =>
        c.running().every((b) => (b.host.logState(group)?.snapshotIndex ?? 0) > hadApplied.get(group)! + 1),
      );
    }

    await c.restart(stopped);
    const back = c.broker(stopped);
    await waitFor('the metadata on the restarted broker', async () =>
      (await back.listTopics()).some((t) => t.name === 't14'),
    );
    expect(back.host.logState(METADATA_GROUP)!.snapshotIndex).toBeGreaterThan(
      hadApplied.get(METADATA_GROUP)!,
    );
    for (const group of busy) {
      await waitFor(`group ${group} to catch up on the restarted broker`, () => {
        const leader = c.running().find((b) => b.host.groupState(group)?.role === Role.Leader);
        return leader !== undefined && applied(stopped, group) === applied(leader.id, group);
      });
      const leader = c.running().find((b) => b.host.groupState(group)?.role === Role.Leader)!;
      expect(back.host.logState(group)!.snapshotIndex).toBeGreaterThan(hadApplied.get(group)!);
      expect(back.groups.snapshotData(group)).toEqual(leader.groups.snapshotData(group));
    }
  });
});
