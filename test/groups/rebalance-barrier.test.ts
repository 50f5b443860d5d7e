import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { FetchResult } from '../../src/broker/api.js';
import { type GroupConsumer, RaftlogClient } from '../../src/client/index.js';
import { waitFor } from '../broker/cluster-harness.js';
import { GroupTestCluster, produceUntilStopped } from './group-test-cluster.js';

const TOPIC = 'payments';
const PARTITIONS = 6;
const GROUP = 'ledger';
const SESSION_MS = 2000;
const HEARTBEAT_MS = 300;

/** A time span on this process's monotonic clock; `end` is open while undefined. */
interface Span {
  start: number;
  end: number | undefined;
}

/**
 * One member's record of itself: when it was allowed to fetch each partition (from its
 * `onAssigned` to its `onRevoked`), when it actually started fetches, and what it received.
 */
class MemberLog {
  readonly allowed = Array.from({ length: PARTITIONS }, (): Span[] => []);
  readonly fetches = Array.from({ length: PARTITIONS }, (): number[] => []);
  readonly received = Array.from({ length: PARTITIONS }, (): Array<{ offset: number; at: number }> => []);

  constructor(readonly name: string) {}

  assigned(partitions: readonly { partition: number }[]) {
    for (const { partition } of partitions)
      this.allowed[partition]!.push({ start: performance.now(), end: undefined });
  }

  revoked(partitions: readonly { partition: number }[]) {
    for (const { partition } of partitions) {
      const open = this.allowed[partition]!.at(-1);
      expect(open?.end, `${this.name} revoked ${partition} it did not hold`).toBeUndefined();
      open!.end = performance.now();
    }
  }

  /** True when `at` falls inside one of the spans in which this member could fetch `partition`. */
  within(partition: number, at: number): boolean {
    return this.allowed[partition]!.some((s) => s.start <= at && (s.end === undefined || at <= s.end));
  }
}

/** A client that notes when each fetch starts, so the test can check it against the allowed spans. */
class RecordingClient extends RaftlogClient {
  closed = false;

  constructor(
    urls: string[],
    private readonly log: MemberLog,
  ) {
    super({ urls, retryBackoff: { initialMs: 20, maxMs: 300 } });
  }

  override close(): Promise<void> {
    this.closed = true;
    return super.close();
  }

  override fetch(...args: Parameters<RaftlogClient['fetch']>): Promise<FetchResult> {
    if (args[0] === TOPIC) this.log.fetches[args[1]]!.push(performance.now());
    return super.fetch(...args);
  }
}

describe('the rebalance barrier on a real cluster', () => {
  const t = GroupTestCluster.use(TOPIC, PARTITIONS);
  const { clients, consumers } = t;

  /** Revoked partitions whose committed offset, as `onRevoked` saw it, lagged what was received. */
  const uncommittedAtRevoke: string[] = [];

  /** A member with a client of its own, iterated in the background. */
  function member(name: string) {
    const log = new MemberLog(name);
    const client = new RecordingClient(t.http.allUrls(), log);
    clients.push(client);
    const consumer = client.consumer({
      group: GROUP,
      topics: [TOPIC],
      sessionTimeoutMs: SESSION_MS,
      heartbeatIntervalMs: HEARTBEAT_MS,
      autoCommitIntervalMs: 5000, // rare: the commits that count here are the ones made on revocation
      pollTimeoutMs: 500,
      maxRecords: 20,
      onAssigned: (tps) => log.assigned(tps),
      onRevoked: async (tps) => {
        log.revoked(tps);
        // Auto commit: what was processed of a revoked partition is committed before onRevoked.
        if (client.closed) return; // the killed member: its partitions were lost, not revoked
        const d = await t.admin.describeGroup(GROUP);
        for (const { partition } of tps) {
          const last = log.received[partition]!.at(-1)?.offset;
          const committed = d.partitions.find((p) => p.partition === partition)?.offset ?? null;
          if (last !== undefined && (committed ?? 0) <= last) {
            uncommittedAtRevoke.push(`${name} ${partition}: received ${last}, committed ${committed}`);
          }
        }
      },
    });
    consumers.push(consumer);
    const done = (async () => {
      for await (const r of consumer)
        log.received[r.partition]!.push({ offset: r.offset, at: performance.now() });
    })();
    done.catch(() => {}); // the killed member's iteration ends with its closed client
    return { log, client, consumer };
  }

  it('never lets two members fetch the same partition at once while members join and one dies, and every record arrives', async () => {
    const producer = produceUntilStopped(t.admin, TOPIC, PARTITIONS);
    const holdsAll = (ms: Array<{ consumer: GroupConsumer }>) => {
      const held = ms.flatMap((m) => m.consumer.assignment().map((tp) => tp.partition));
      return held.length === PARTITIONS && new Set(held).size === PARTITIONS;
    };
    const received = (ms: Array<{ log: MemberLog }>) =>
      ms.every((m) => m.log.received.some((r) => r.length > 0));

    const members = [member('first')];
    await waitFor('the first member to hold every partition', () => holdsAll(members), 20_000);
    await waitFor('records to flow', () => received(members));

    // Members join one by one under load: each rebalance moves partitions through the barrier.
    const joinMs: number[] = [];
    for (const name of ['second', 'third', 'fourth']) {
      const joinedAt = performance.now();
      members.push(member(name));
      await waitFor(
        `${name} to get its share`,
        () => holdsAll(members) && members.every((m) => m.consumer.assignment().length >= 1),
        20_000,
      );
      joinMs.push(Math.round(performance.now() - joinedAt));
      await waitFor(`${name} to receive records`, () => received(members));
    }

    // Kill the second member: no goodbye; its client is gone, so it cannot fetch, heartbeat or commit.
    const doomed = members[1]!;
    await doomed.client.close();
    const killedAt = performance.now();
    const survivors = members.filter((m) => m !== doomed);
    await waitFor(
      'the survivors to hold every partition',
      () => holdsAll(survivors),
      SESSION_MS * 5 + 10_000,
    );
    const takeoverMs = Math.round(performance.now() - killedAt);
    members.push(member('fifth'));
    await waitFor('fifth to get its share', () => holdsAll([...survivors, members.at(-1)!]), 20_000);

    const produced = await producer.stop();
    const highWatermarks = (await t.admin.describeTopic(TOPIC)).partitions.map((p) => p.highWatermark);
    expect(highWatermarks.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(produced);
    await waitFor(
      'the group to commit every partition to its end',
      async () => {
        const d = await t.admin.describeGroup(GROUP);
        return highWatermarks.every((hw, p) => d.partitions.find((q) => q.partition === p)?.offset === hw);
      },
      20_000,
    );

    expect(uncommittedAtRevoke).toEqual([]);
    // Every record arrived (at least once), in the group as a whole.
    let deliveries = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      deliveries += members.reduce((n, m) => n + m.log.received[p]!.length, 0);
      const got = new Set(members.flatMap((m) => m.log.received[p]!.map((r) => r.offset)));
      const missing = Array.from({ length: highWatermarks[p]! }, (_, o) => o).filter((o) => !got.has(o));
      expect(missing, `partition ${p}`).toEqual([]);
    }

    // Each member fetched and received a partition only while it was allowed to...
    for (const m of members) {
      for (let p = 0; p < PARTITIONS; p++) {
        for (const at of m.log.fetches[p]!)
          expect(m.log.within(p, at), `${m.log.name} fetched ${p}`).toBe(true);
        for (const r of m.log.received[p]!) {
          expect(m.log.within(p, r.at), `${m.log.name} received ${p}@${r.offset}`).toBe(true);
        }
      }
    }
    // ...and the spans of two members on one partition never overlap. The dead member's spans
    // end when it noticed its session was lost, before the group gave its partitions away.
    let moves = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const spans = members.flatMap((m) => m.log.allowed[p]!.map((s) => ({ ...s, who: m.log.name })));
      spans.sort((a, b) => a.start - b.start);
      for (let i = 1; i < spans.length; i++) {
        const [before, after] = [spans[i - 1]!, spans[i]!];
        expect(
          before.end,
          `partition ${p}: ${before.who} still held it when ${after.who} got it`,
        ).toBeDefined();
        expect(
          before.end!,
          `partition ${p}: ${before.who} until ${before.end}, ${after.who} from ${after.start}`,
        ).toBeLessThanOrEqual(after.start);
        if (before.who !== after.who) moves++;
      }
    }
    expect(moves).toBeGreaterThanOrEqual(PARTITIONS); // the test did exercise the barrier
    console.log(
      `rebalance barrier: ${produced} records, ${deliveries - highWatermarks.reduce((x, y) => x + y, 0)} redelivered (at least once), ${moves} partition moves, ${members.length} members (one killed); ` +
        `join to balanced ${joinMs.join('/')} ms, kill to takeover ${takeoverMs} ms ` +
        `(session ${SESSION_MS} ms, heartbeat ${HEARTBEAT_MS} ms)`,
    );
  });
});
