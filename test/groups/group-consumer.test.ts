import { describe, expect, it } from 'vitest';
import { coordinatorPartition, GROUPS_TOPIC } from '../../src/broker/groups.js';
import { type ConsumedRecord, type GroupConsumer, RaftlogClient } from '../../src/client/index.js';
import { waitFor } from '../broker/cluster-harness.js';
import { GroupTestCluster, produceUntilStopped } from './group-test-cluster.js';

const TOPIC = 'orders';
const PARTITIONS = 6;
const SESSION_MS = 2000;
const HEARTBEAT_MS = 300;

/** Offsets each consumer of a group received, per partition. */
class Received {
  readonly byPartition = Array.from({ length: PARTITIONS }, () => new Set<number>());
  add(r: ConsumedRecord) {
    this.byPartition[r.partition]!.add(r.offset);
  }
}

/** Iterates `consumer` in the background, recording what it gets, until it ends or is stopped. */
function drive(consumer: GroupConsumer, into: Received[]) {
  let stopped = false;
  const done = (async () => {
    for await (const r of consumer) {
      for (const set of into) set.add(r);
      if (stopped) break;
    }
  })();
  done.catch(() => {});
  return {
    done,
    stop() {
      stopped = true;
    },
  };
}

describe('consumer groups on a real cluster', () => {
  const t = GroupTestCluster.use(TOPIC, PARTITIONS);
  const { clients, consumers } = t;

  function consumer(group: string, client = t.admin): GroupConsumer {
    const c = client.consumer({
      group,
      topics: [TOPIC],
      sessionTimeoutMs: SESSION_MS,
      heartbeatIntervalMs: HEARTBEAT_MS,
      autoCommitIntervalMs: 100,
      pollTimeoutMs: 500,
    });
    consumers.push(c);
    return c;
  }

  it('manual commits, rebalance callbacks, and a member that leaves hands its partitions over at once', async () => {
    const events: string[] = [];
    const options = (name: string) => ({
      group: 'manual',
      topics: [TOPIC],
      autoCommit: false,
      sessionTimeoutMs: 30_000, // a departure below must not wait for a session to expire
      heartbeatIntervalMs: HEARTBEAT_MS,
      pollTimeoutMs: 500,
      onAssigned: (tps: readonly { partition: number }[]) => {
        events.push(`${name}+${tps.map((tp) => tp.partition).join(',')}`);
      },
      onRevoked: (tps: readonly { partition: number }[]) => {
        events.push(`${name}-${tps.map((tp) => tp.partition).join(',')}`);
      },
    });
    const first = t.admin.consumer(options('first'));
    consumers.push(first);
    await t.admin.produce(TOPIC, 0, [{ value: 'm0' }, { value: 'm1' }, { value: 'm2' }]);
    const got: string[] = [];
    for await (const r of first) {
      got.push(`${r.partition}@${r.offset}`);
      if (got.length === 2) await first.commit(); // commits m0 and m1, the record in hand included
      if (got.length === 3) break;
    }
    expect(got).toEqual(['0@0', '0@1', '0@2']);
    expect(events).toEqual(['first+0,1,2,3,4,5']);
    const offsets = (await t.admin.describeGroup('manual')).partitions.filter((p) => p.offset !== null);
    expect(offsets.map((p) => [p.partition, p.offset])).toEqual([[0, 2]]);

    const second = t.admin.consumer(options('second'));
    consumers.push(second);
    const reading = drive(second, []);
    const iterating = drive(first, []);
    await waitFor(
      'the partitions split between the two',
      () => first.assignment().length === 3 && second.assignment().length === 3,
    );
    expect(events.filter((e) => e.startsWith('first-'))).toHaveLength(1);
    reading.stop();
    const leftAt = Date.now();
    await second.close();
    await waitFor(
      'the first member to get every partition back',
      () => first.assignment().length === PARTITIONS,
    );
    expect(Date.now() - leftAt).toBeLessThan(5000); // well below the 30 s session timeout
    iterating.stop();
    await first.close();
    expect((await t.admin.describeGroup('manual')).members).toEqual([]);
  });

  it('two groups each read every record; a dead member’s partitions move within the session timeout; no committed offset is lost in a broker failover', async () => {
    // Continuous produce, round robin over the partitions, until told to stop.
    const producer = produceUntilStopped(t.admin, TOPIC, PARTITIONS);

    const groupA = new Received();
    const groupB = new Received();
    const perMember = [new Received(), new Received(), new Received()];
    // The doomed member gets a client of its own, to cut it off like a crashed process.
    const doomedClient = new RaftlogClient({
      urls: t.http.allUrls(),
      retryBackoff: { initialMs: 20, maxMs: 300 },
    });
    clients.push(doomedClient);
    const a = [consumer('group-a', doomedClient), consumer('group-a'), consumer('group-a')];
    const b = consumer('group-b');
    const drivers = a.map((c, i) => drive(c, [groupA, perMember[i]!]));
    drive(b, [groupB]);

    await waitFor(
      'group-a balanced over three members, group-b on one',
      () =>
        a.every((c) => c.assignment().length === 2) &&
        b.assignment().length === PARTITIONS &&
        new Set(a.flatMap((c) => c.assignment().map((tp) => tp.partition))).size === PARTITIONS,
      20_000,
    );
    await waitFor('every member to receive records', () =>
      perMember.every((m) => m.byPartition.some((s) => s.size > 0)),
    );

    // Kill the first member: no goodbye, no more heartbeats or commits.
    const doomed = a[0]!;
    const doomedPartitions = doomed.assignment().map((tp) => tp.partition);
    drivers[0]!.stop();
    await doomedClient.close();
    const killedAt = Date.now();
    const committedAtKill = new Map(
      (await t.admin.describeGroup('group-a')).partitions.map((p) => [p.partition, p.offset ?? 0]),
    );
    await waitFor('the survivors to take over every partition', () => {
      const owned = a.slice(1).flatMap((c) => c.assignment().map((tp) => tp.partition));
      return new Set(owned).size === PARTITIONS && owned.length === PARTITIONS;
    });
    const moveMs = Date.now() - killedAt;
    expect(moveMs).toBeLessThan(SESSION_MS + 3 * HEARTBEAT_MS + 1000);
    const afterMove = await t.admin.describeGroup('group-a');
    expect(afterMove.members).toHaveLength(2);

    // Fail over the coordinator of group-a: committed offsets must survive.
    const coordinator = coordinatorPartition('group-a', 8);
    const internal = await t.admin.describeTopic(GROUPS_TOPIC);
    expect(internal.partitions).toHaveLength(8);
    const coordinatorLeader = internal.partitions[coordinator]!.leader!;
    const before = await t.admin.describeGroup('group-a');
    await t.http.kill(coordinatorLeader);
    const after = await t.admin.describeGroup('group-a');
    for (const p of before.partitions) {
      const now = after.partitions.find((q) => q.partition === p.partition);
      expect(now?.offset ?? -1).toBeGreaterThanOrEqual(p.offset ?? 0);
    }
    expect(after.members).toHaveLength(2); // the new leader gave the members a session of grace

    const produced = await producer.stop();
    const highWatermarks = await waitFor('every partition to have a leader after the failover', async () => {
      const d = await t.admin.describeTopic(TOPIC);
      return d.partitions.every((p) => p.leader !== null)
        ? d.partitions.map((p) => p.highWatermark)
        : undefined;
    });
    expect(highWatermarks.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(produced);

    // Both groups consume and commit everything.
    for (const group of ['group-a', 'group-b']) {
      await waitFor(
        `${group} to commit every partition to its end`,
        async () => {
          const d = await t.admin.describeGroup(group);
          return highWatermarks.every((hw, p) => d.partitions.find((q) => q.partition === p)?.offset === hw);
        },
        20_000,
      );
    }
    for (const [name, got] of [
      ['group-a', groupA],
      ['group-b', groupB],
    ] as const) {
      highWatermarks.forEach((hw, p) => {
        const missing = Array.from({ length: hw }, (_, o) => o).filter((o) => !got.byPartition[p]!.has(o));
        expect(missing, `${name} partition ${p}`).toEqual([]);
      });
    }
    // No skip after the kill: the survivors read the dead member's partitions from its last commit.
    const survivors = new Received();
    for (const m of perMember.slice(1)) {
      m.byPartition.forEach((s, p) => {
        for (const o of s) survivors.byPartition[p]!.add(o);
      });
    }
    for (const p of doomedPartitions) {
      const from = committedAtKill.get(p) ?? 0;
      const missing = Array.from({ length: highWatermarks[p]! - from }, (_, i) => from + i).filter(
        (o) => !survivors.byPartition[p]!.has(o),
      );
      expect(missing, `partition ${p} after the kill`).toEqual([]);
    }
  });
});
