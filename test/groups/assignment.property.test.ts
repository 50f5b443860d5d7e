import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignPartitions } from '../../src/statemachine/group-assignment.js';
import { type ConsumerGroup, type GroupCommand, GroupsState } from '../../src/statemachine/group-state.js';

const TOPICS = ['a', 'b', 'c'];
const MEMBERS = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];

type Op =
  | { kind: 'join'; member: string; topics: string[]; timeout: number }
  | { kind: 'leave' | 'expire'; member: string }
  | { kind: 'topic'; topic: string; count: number };

function opArb(topics: fc.Arbitrary<string[]>): fc.Arbitrary<Op> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('join' as const),
        member: fc.constantFrom(...MEMBERS),
        topics,
        timeout: fc.integer({ min: 100, max: 5000 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constantFrom('leave' as const, 'expire' as const),
        member: fc.constantFrom(...MEMBERS),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('topic' as const),
        topic: fc.constantFrom(...TOPICS),
        count: fc.integer({ min: 0, max: 12 }),
      }),
    },
  );
}

/** Runs ops against a GroupsState the way the coordinator's leader would propose them. */
function run(ops: readonly Op[], check: (g: ConsumerGroup | undefined, world: Map<string, number>) => void) {
  const state = new GroupsState();
  const world = new Map<string, number>([['a', 6]]);
  const counts = (topics: Iterable<string>) =>
    [...new Set(topics)].sort().map((t) => [t, world.get(t) ?? 0] as const);
  const ids = new Map<string, string>();
  let serial = 0;
  const commands: GroupCommand[] = [];
  for (const op of ops) {
    const g = state.group('g');
    let cmd: GroupCommand;
    if (op.kind === 'join') {
      if (ids.has(op.member)) continue;
      const id = `${op.member}-${serial++}`;
      ids.set(op.member, id);
      const all = [...(g?.members.values() ?? [])].flatMap((m) => m.topics).concat(op.topics);
      cmd = {
        op: 'join',
        group: 'g',
        memberId: id,
        topics: op.topics,
        sessionTimeoutMs: op.timeout,
        partitionCounts: counts(all),
      };
    } else if (op.kind === 'topic') {
      world.set(op.topic, op.count);
      if (g === undefined || g.members.size === 0) continue;
      cmd = { op: 'topics', group: 'g', partitionCounts: counts(g.partitionCounts.keys()) };
    } else {
      const id = ids.get(op.member);
      if (id === undefined) continue;
      ids.delete(op.member);
      cmd = { op: op.kind, group: 'g', memberId: id };
    }
    const before = g?.generation ?? 0;
    const result = state.apply(cmd);
    expect(result).not.toBeInstanceOf(Error);
    commands.push(cmd);
    const after = state.group('g');
    if (cmd.op !== 'topics') expect(after?.generation ?? before + 1).toBe(before + 1);
    check(after, world);
  }
  return { state, commands };
}

/** Every partition of a subscribed topic exactly once, to a live member subscribed to it. */
function checkCoverage(g: ConsumerGroup | undefined, world: Map<string, number>) {
  if (g === undefined) return;
  const owners = new Map<string, string[]>();
  for (const [id, list] of g.assignment) {
    const member = g.members.get(id);
    expect(member).toBeDefined();
    for (const tp of list) {
      expect(member!.topics).toContain(tp.topic);
      const k = `${tp.topic}/${tp.partition}`;
      owners.set(k, [...(owners.get(k) ?? []), id]);
    }
  }
  const subscribed = new Set([...g.members.values()].flatMap((m) => m.topics));
  let expected = 0;
  for (const t of subscribed) {
    for (let p = 0; p < (world.get(t) ?? 0); p++) {
      expected++;
      expect(owners.get(`${t}/${p}`)?.length, `${t}/${p}`).toBe(1);
    }
  }
  expect(owners.size).toBe(expected);
}

function loads(g: ConsumerGroup): number[] {
  return [...g.members.keys()].map((id) => g.assignment.get(id)?.length ?? 0);
}

describe('consumer group assignment (property)', () => {
  it('covers every partition exactly once among live subscribed members, with no improving move left', () => {
    fc.assert(
      fc.property(fc.array(opArb(fc.subarray(TOPICS, { minLength: 1 })), { maxLength: 40 }), (ops) => {
        run(ops, (g, world) => {
          checkCoverage(g, world);
          if (g === undefined) return;
          // Balance: no partition could move to an eligible member two or more below its owner.
          for (const [id, list] of g.assignment) {
            for (const tp of list) {
              for (const other of g.members.values()) {
                if (!other.topics.includes(tp.topic)) continue;
                expect((g.assignment.get(other.id)?.length ?? 0) + 1).toBeGreaterThanOrEqual(list.length);
              }
              void id;
            }
          }
        });
      }),
      { numRuns: 300 },
    );
  });

  it('with one subscription for all, member loads differ by at most one', () => {
    fc.assert(
      fc.property(
        fc.subarray(TOPICS, { minLength: 1 }),
        fc.array(opArb(fc.constant([])), { maxLength: 40 }),
        (topics, raw) => {
          const ops = raw.map((op) => (op.kind === 'join' ? { ...op, topics } : op));
          run(ops, (g, world) => {
            checkCoverage(g, world);
            if (g === undefined || g.members.size === 0) return;
            const l = loads(g);
            expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(1);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is deterministic, and the state survives encode and restore', () => {
    fc.assert(
      fc.property(fc.array(opArb(fc.subarray(TOPICS, { minLength: 1 })), { maxLength: 30 }), (ops) => {
        const { state, commands } = run(ops, () => {});
        const replica = new GroupsState();
        for (const cmd of commands) replica.apply(cmd);
        expect(Buffer.from(replica.encode())).toEqual(Buffer.from(state.encode()));
        const restored = new GroupsState();
        restored.restore(state.encode());
        expect(Buffer.from(restored.encode())).toEqual(Buffer.from(state.encode()));
      }),
      { numRuns: 200 },
    );
  });

  it('is sticky: a join moves only what balance needs', () => {
    const counts = new Map([['a', 6]]);
    const two = assignPartitions(
      [
        { id: 'x', topics: ['a'] },
        { id: 'y', topics: ['a'] },
      ],
      counts,
    );
    const three = assignPartitions(
      [
        { id: 'x', topics: ['a'] },
        { id: 'y', topics: ['a'] },
        { id: 'z', topics: ['a'] },
      ],
      counts,
      two,
    );
    const kept = (id: string) =>
      three.get(id)!.filter((tp) => two.get(id)!.some((o) => o.partition === tp.partition)).length;
    expect(three.get('z')).toHaveLength(2);
    expect(kept('x') + kept('y')).toBe(4);
  });
});
