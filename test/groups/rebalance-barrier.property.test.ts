import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../src/statemachine/group-assignment.js';
import {
  type ConsumerGroup,
  type GroupCommand,
  GroupsState,
  type MemberAssignment,
  memberView,
} from '../../src/statemachine/group-state.js';

/**
 * The rebalance barrier as a property of the group state machine and of clients that follow its
 * protocol: members join, leave, expire, heartbeat and confirm revocations; topics change; answers
 * and confirmations are delayed, reordered and replayed (a retried request whose first attempt
 * lands late). After every step no partition is owned by two members, and no live member that
 * confirms revocations reads a partition it does not own. Once every member confirmed what it was
 * told to give up, ownership is the assignment: complete, and balanced within one.
 *
 * Replaying a failure: fast-check prints `{ seed, path }`; RAFTLOG_GROUPS_SEED reruns a seed.
 */

const TOPICS = ['a', 'b'];
const SLOTS = ['m0', 'm1', 'm2'];
const seed =
  process.env.RAFTLOG_GROUPS_SEED === undefined
    ? Date.now() % 2 ** 31
    : Number(process.env.RAFTLOG_GROUPS_SEED);

type Op =
  | { kind: 'join'; slot: number; confirms: boolean }
  | { kind: 'leave' | 'expire'; slot: number }
  | { kind: 'topic'; topic: string; count: number }
  /** The coordinator answers a heartbeat of `slot`; the answer is in flight. */
  | { kind: 'heartbeat'; slot: number }
  /** An answer in flight to `slot` arrives (the `pick`th, modulo). */
  | { kind: 'answer'; slot: number; pick: number }
  /** `slot` sends a confirmation of what it stopped reading; it is in flight. */
  | { kind: 'confirm'; slot: number }
  /** A confirmation in flight is applied; `replay` keeps it in flight for a retried copy. */
  | { kind: 'release'; pick: number; replay: boolean };

const slot = fc.integer({ min: 0, max: SLOTS.length - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('join' as const), slot, confirms: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('leave' as const, 'expire' as const), slot }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('topic' as const),
      topic: fc.constantFrom(...TOPICS),
      count: fc.integer({ min: 0, max: 5 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), slot }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('answer' as const), slot, pick: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('confirm' as const), slot }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat(7), replay: fc.boolean() }),
  },
);

const key = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

/** A member's client as `GroupConsumer` behaves: reads what the latest answer gives it. */
interface Client {
  readonly id: string;
  readonly confirms: boolean;
  generation: number;
  reading: Map<string, TopicPartition>;
  /** Stopped (and committed), not confirmed yet. */
  toConfirm: Map<string, TopicPartition>;
  inbox: MemberAssignment[];
}

class World {
  readonly state = new GroupsState();
  readonly counts = new Map<string, number>([['a', 4]]);
  readonly clients = new Map<number, Client>();
  readonly inFlight: Array<Extract<GroupCommand, { op: 'release' }>> = [];
  #serial = 0;

  constructor(readonly topics: readonly string[]) {}

  group(): ConsumerGroup | undefined {
    return this.state.group('g');
  }

  #counts(topics: Iterable<string>) {
    return [...new Set(topics)].sort().map((t) => [t, this.counts.get(t) ?? 0] as const);
  }

  #apply(cmd: GroupCommand): unknown {
    return this.state.apply(cmd);
  }

  step(op: Op): void {
    const g = this.group();
    switch (op.kind) {
      case 'join': {
        if (this.clients.has(op.slot)) return;
        const id = `${SLOTS[op.slot]}-${this.#serial++}`;
        const all = [...(g?.members.values() ?? [])].flatMap((m) => m.topics).concat(this.topics);
        const answer = this.#apply({
          op: 'join',
          group: 'g',
          memberId: id,
          topics: this.topics,
          sessionTimeoutMs: 1000,
          partitionCounts: this.#counts(all),
          confirmsRevocations: op.confirms,
        }) as MemberAssignment;
        const client: Client = {
          id,
          confirms: op.confirms,
          generation: -1,
          reading: new Map(),
          toConfirm: new Map(),
          inbox: [],
        };
        this.clients.set(op.slot, client);
        receive(client, answer);
        return;
      }
      case 'leave':
      case 'expire': {
        // A member expires only once its client stopped reading (it counts its session from
        // before the coordinator does), so the client is gone either way.
        const c = this.clients.get(op.slot);
        if (c === undefined) return;
        this.clients.delete(op.slot);
        expect(this.#apply({ op: op.kind, group: 'g', memberId: c.id })).not.toBeInstanceOf(Error);
        return;
      }
      case 'topic': {
        this.counts.set(op.topic, op.count);
        if (g === undefined || g.members.size === 0) return;
        this.#apply({ op: 'topics', group: 'g', partitionCounts: this.#counts(g.partitionCounts.keys()) });
        return;
      }
      case 'heartbeat': {
        const c = this.clients.get(op.slot);
        if (c === undefined || g === undefined) return;
        c.inbox.push(memberView(g, c.id));
        return;
      }
      case 'answer': {
        const c = this.clients.get(op.slot);
        if (c === undefined || c.inbox.length === 0) return;
        const [answer] = c.inbox.splice(op.pick % c.inbox.length, 1);
        receive(c, answer!);
        return;
      }
      case 'confirm': {
        const c = this.clients.get(op.slot);
        if (c === undefined || c.toConfirm.size === 0) return;
        this.inFlight.push({
          op: 'release',
          group: 'g',
          memberId: c.id,
          generation: c.generation,
          partitions: [...c.toConfirm.values()],
        });
        return;
      }
      case 'release': {
        if (this.inFlight.length === 0) return;
        const i = op.pick % this.inFlight.length;
        const cmd = this.inFlight[i]!;
        if (!op.replay) this.inFlight.splice(i, 1);
        this.#apply(cmd); // refusals (stale generation, member gone) are part of the game
        return;
      }
    }
  }

  /** Owned sets never overlap; members that confirm read only what they own. */
  check(): void {
    const g = this.group();
    const owner = new Map<string, string>();
    for (const [id, list] of g?.owned ?? []) {
      expect(g!.members.has(id)).toBe(true);
      for (const tp of list) {
        expect(owner.get(key(tp)), `${key(tp)} owned twice`).toBeUndefined();
        owner.set(key(tp), id);
      }
    }
    for (const c of this.clients.values()) {
      if (!c.confirms) continue;
      for (const k of c.reading.keys()) expect(owner.get(k), `${c.id} reads ${k}`).toBe(c.id);
    }
  }
}

/** What `GroupConsumer` does with an answer: ignore an older generation, read what it gives. */
function receive(c: Client, answer: MemberAssignment): void {
  if (answer.generation < c.generation) return;
  c.generation = answer.generation;
  const next = new Map(answer.partitions.map((tp) => [key(tp), tp] as const));
  for (const [k, tp] of c.reading) if (!next.has(k)) c.toConfirm.set(k, tp); // stopped, committed
  for (const k of next.keys()) c.toConfirm.delete(k);
  for (const tp of answer.revoking) if (!next.has(key(tp))) c.toConfirm.set(key(tp), tp);
  c.reading = next;
}

describe('the rebalance barrier (property)', () => {
  it(`no partition is owned twice, nor read by a member that does not own it (seed ${seed})`, () => {
    console.log(`rebalance barrier property: seed ${seed} (RAFTLOG_GROUPS_SEED=${seed} replays it)`);
    fc.assert(
      fc.property(
        fc.subarray(TOPICS, { minLength: 1 }),
        fc.array(opArb, { minLength: 20, maxLength: 120 }),
        (topics, ops) => {
          const world = new World(topics);
          for (const op of ops) {
            world.step(op);
            world.check();
          }

          // Everyone hears the latest word and confirms what it stopped reading: ownership
          // becomes the assignment.
          if (world.group() === undefined) return;
          for (const c of world.clients.values()) {
            receive(c, memberView(world.group()!, c.id));
            if (c.toConfirm.size === 0) continue;
            const result = world.state.apply({
              op: 'release',
              group: 'g',
              memberId: c.id,
              generation: c.generation,
              partitions: [...c.toConfirm.values()],
            });
            expect(result).not.toBeInstanceOf(Error);
            c.toConfirm.clear();
            world.check();
          }
          for (const c of world.clients.values()) receive(c, memberView(world.group()!, c.id));
          const g = world.group()!;
          expect(g.members.size).toBe(world.clients.size);
          const expected = topics.flatMap((t) =>
            Array.from({ length: world.counts.get(t) ?? 0 }, (_, p) => `${t}/${p}`),
          );
          const owned = [...g.owned.values()].flat().map(key);
          expect(owned.sort()).toEqual(expected.sort());
          for (const id of g.members.keys()) {
            expect(g.owned.get(id)).toEqual(g.assignment.get(id));
            expect(memberView(g, id).revoking).toEqual([]);
          }
          if (g.members.size > 0) {
            const loads = [...g.members.keys()].map((id) => g.owned.get(id)?.length ?? 0);
            expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1);
          }
          world.check();
        },
      ),
      { numRuns: 1000, seed },
    );
  });

  it('a late confirmation cannot release a partition that was given back and taken again', () => {
    // A owns a/0..3; B joins and A gives up a/2 and a/3, confirming in generation 2, but the
    // confirmation is slow. B leaves, A reads all four again (it never let go); C joins, and A is
    // asked for a/2 and a/3 once more, but has not heard yet. The old confirmation lands now: it
    // must not hand a/2 and a/3 to C while A still reads them.
    const world = new World(['a']);
    const script: Op[] = [
      { kind: 'join', slot: 0, confirms: true },
      { kind: 'join', slot: 1, confirms: true },
      { kind: 'heartbeat', slot: 0 },
      { kind: 'answer', slot: 0, pick: 0 },
      { kind: 'confirm', slot: 0 },
      { kind: 'leave', slot: 1 },
      { kind: 'heartbeat', slot: 0 },
      { kind: 'answer', slot: 0, pick: 0 },
      { kind: 'join', slot: 2, confirms: true },
      { kind: 'release', pick: 0, replay: false },
    ];
    for (const op of script) {
      world.step(op);
      world.check();
    }
    expect(world.clients.get(0)!.reading.size).toBe(4);
  });

  it('a retried join makes no second member; the same id with another subscription is refused', () => {
    const state = new GroupsState();
    const join = (topics: string[]): GroupCommand => ({
      op: 'join',
      group: 'g',
      memberId: 'client-chosen',
      topics,
      sessionTimeoutMs: 1000,
      partitionCounts: [['a', 3]],
      confirmsRevocations: true,
    });
    const first = state.apply(join(['a']));
    const replay = state.apply(join(['a']));
    expect(replay).toEqual(first);
    expect([...state.group('g')!.members.keys()]).toEqual(['client-chosen']);
    expect(state.group('g')!.generation).toBe(1);
    expect(state.apply(join(['a', 'b']))).toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('a member that does not confirm revocations loses them at once (clients that predate the barrier)', () => {
    const state = new GroupsState();
    const join = (memberId: string, confirmsRevocations: boolean): GroupCommand => ({
      op: 'join',
      group: 'g',
      memberId,
      topics: ['a'],
      sessionTimeoutMs: 1000,
      partitionCounts: [['a', 4]],
      confirmsRevocations,
    });
    state.apply(join('old', false));
    state.apply(join('new', true));
    const g = state.group('g')!;
    expect(g.owned.get('old')).toEqual(g.assignment.get('old'));
    expect(memberView(g, 'new').partitions).toHaveLength(2);

    // The other way round: the confirming member keeps what it gives up until it confirms.
    const other = new GroupsState();
    other.apply(join('new', true));
    other.apply(join('old', false));
    const h = other.group('g')!;
    expect(memberView(h, 'new').revoking).toHaveLength(2);
    expect(memberView(h, 'old').partitions).toEqual([]);
    const released = other.apply({
      op: 'release',
      group: 'g',
      memberId: 'new',
      generation: h.generation,
      partitions: memberView(h, 'new').revoking,
    }) as MemberAssignment;
    expect(released.revoking).toEqual([]);
    expect(memberView(other.group('g')!, 'old').partitions).toHaveLength(2);
  });

  it('a confirmation of an older generation is refused with the current one', () => {
    const state = new GroupsState();
    const join = (memberId: string): GroupCommand => ({
      op: 'join',
      group: 'g',
      memberId,
      topics: ['a'],
      sessionTimeoutMs: 1000,
      partitionCounts: [['a', 2]],
      confirmsRevocations: true,
    });
    state.apply(join('x'));
    state.apply(join('y'));
    const result = state.apply({
      op: 'release',
      group: 'g',
      memberId: 'x',
      generation: 1,
      partitions: [{ topic: 'a', partition: 1 }],
    });
    expect(result).toMatchObject({ code: 'STALE_GENERATION', details: { generation: 2 } });
  });
});
