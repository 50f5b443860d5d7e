import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { type Entry, EntryType } from '../../src/raft/types.js';
import { GroupCoordinatorMachine } from '../../src/statemachine/group-coordinator-machine.js';
import {
  encodeGroupCommand,
  type GroupCommand,
  GroupsState,
  type MemberAssignment,
} from '../../src/statemachine/group-state.js';
import { packTagged } from '../../src/statemachine/tagged-msgpack.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';

const GROUP = 7;

function entries(commands: readonly GroupCommand[], term = 1): Entry[] {
  return [
    { term, index: 1, type: EntryType.Normal, data: new Uint8Array() }, // a leader's no-op
    ...commands.map((cmd, i) => ({
      term,
      index: i + 2,
      type: EntryType.Normal,
      data: encodeGroupCommand(cmd),
    })),
  ];
}

const join = (memberId: string, topics = ['t']): GroupCommand => ({
  op: 'join',
  group: 'g',
  memberId,
  topics,
  sessionTimeoutMs: 1000,
  partitionCounts: [['t', 4]],
});

const commit = (
  memberId: string | undefined,
  generation: number | undefined,
  partition: number,
  offset: number,
): GroupCommand => ({
  op: 'commit',
  group: 'g',
  ...(memberId === undefined ? {} : { memberId }),
  ...(generation === undefined ? {} : { generation }),
  offsets: [{ topic: 't', partition, offset }],
});

function code(result: unknown): string | undefined {
  return result instanceof RaftlogError ? result.code : undefined;
}

describe('GroupCoordinatorMachine', () => {
  it('replicas applying the same entries hold the same state', () => {
    const commands = [
      join('a'),
      join('b'),
      commit('a', 2, 0, 5),
      { op: 'expire', group: 'g', memberId: 'b' } as const,
      join('c'),
    ];
    const one = new GroupCoordinatorMachine(new MemoryLogStore(), GROUP);
    const two = new GroupCoordinatorMachine(new MemoryLogStore(), GROUP);
    for (const e of entries(commands)) {
      one.apply(e);
      two.apply(e);
    }
    expect(Buffer.from(one.snapshotData())).toEqual(Buffer.from(two.snapshotData()));
    const g = one.state.group('g')!;
    expect(g.generation).toBe(4);
    expect([...g.members.keys()].sort()).toEqual(['a', 'c']);
    expect(g.offsets.get('t\u00000')?.offset).toBe(5);
  });

  it('fences: stale generations, unknown members and groups, partitions of others, outside commits while members exist', () => {
    const m = new GroupCoordinatorMachine(new MemoryLogStore(), GROUP);
    const results = entries([
      commit('a', 1, 0, 1), // no group yet
      join('a'), // generation 1: a has 0..3
      join('b'), // generation 2: a keeps 0, 1; b gets 2, 3
      commit('a', 1, 0, 3), // a zombie of generation 1
      commit('x', 2, 0, 3), // not a member
      commit('a', 2, 2, 3), // b's partition
      commit(undefined, undefined, 0, 9), // outside the group while it has members
      commit('a', 2, 0, 4), // fine
      { op: 'leave', group: 'g', memberId: 'x' },
    ]).map((e) => m.apply(e));
    expect(results.slice(1).map(code)).toEqual([
      'GROUP_NOT_FOUND',
      undefined,
      undefined,
      'STALE_GENERATION',
      'UNKNOWN_MEMBER',
      'STALE_GENERATION',
      'UNKNOWN_MEMBER',
      undefined,
      'UNKNOWN_MEMBER',
    ]);
    const joined = results[3] as MemberAssignment;
    expect(joined.generation).toBe(2);
    expect(joined.partitions.map((tp) => tp.partition)).toEqual([2, 3]);
    expect(m.state.group('g')!.offsets.get('t\u00000')?.offset).toBe(4);
  });

  it('an empty group keeps its offsets, and accepts commits from outside; a group without offsets goes away', () => {
    const m = new GroupCoordinatorMachine(new MemoryLogStore(), GROUP);
    const results = entries([
      join('a'),
      commit('a', 1, 1, 7),
      { op: 'leave', group: 'g', memberId: 'a' },
      commit(undefined, undefined, 2, 3),
      { op: 'join', group: 'h', memberId: 'z', topics: ['t'], sessionTimeoutMs: 500, partitionCounts: [] },
      { op: 'leave', group: 'h', memberId: 'z' },
    ]).map((e) => m.apply(e));
    expect(results.map(code)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    const g = m.state.group('g')!;
    expect(g.members.size).toBe(0);
    expect([...g.offsets.values()].map((o) => [o.partition, o.offset])).toEqual([
      [1, 7],
      [2, 3],
    ]);
    expect(m.state.group('h')).toBeUndefined();
  });

  it('resumes from its checkpoint after a restart, and from a snapshot', async () => {
    const store = new MemoryLogStore();
    const m = new GroupCoordinatorMachine(store, GROUP);
    const log = entries([join('a'), join('b'), commit('a', 2, 0, 11)]);
    for (const e of log) m.apply(e);
    m.checkpoint();
    await store.commit();
    const again = new GroupCoordinatorMachine(store, GROUP);
    expect(again.durableApplied).toBe(log.length);
    expect(again.appliedTerm).toBe(1);
    expect(Buffer.from(again.snapshotData())).toEqual(Buffer.from(m.snapshotData()));

    const fresh = new GroupCoordinatorMachine(new MemoryLogStore(), GROUP);
    fresh.restore({
      meta: {
        index: 40,
        term: 3,
        confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
      data: m.snapshotData(),
    });
    expect(fresh.appliedIndex).toBe(40);
    expect(fresh.state.group('g')!.offsets.get('t\u00000')?.offset).toBe(11);
    expect(() =>
      fresh.restore({
        meta: {
          index: 41,
          term: 3,
          confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        },
        data: new Uint8Array([9, 9]),
      }),
    ).toThrow(/corrupt/);
  });

  it('answers undecodable entries with INVALID_REQUEST and keeps going', () => {
    const m = new GroupCoordinatorMachine(new MemoryLogStore(), GROUP);
    const r = m.apply({ term: 1, index: 1, type: EntryType.Normal, data: new Uint8Array([1, 0xc1]) });
    expect(code(r)).toBe('INVALID_REQUEST');
    expect(m.appliedIndex).toBe(1);
  });

  it('reads state written before ownership (format 2): members own their assignment, confirm nothing', () => {
    const v2 = packTagged(2, [
      [
        'g',
        3,
        [['a', ['t'], 1000]],
        [['t', 2]],
        [
          [
            'a',
            [
              ['t', 0],
              ['t', 1],
            ],
          ],
        ],
        [['t', 0, 5]],
      ],
    ]);
    const state = new GroupsState();
    state.restore(v2);
    const g = state.group('g')!;
    expect(g.generation).toBe(3);
    expect(g.owned).toEqual(g.assignment);
    expect(g.assignment.get('a')).toHaveLength(2);
    expect(g.members.get('a')).toMatchObject({ topics: ['t'], confirmsRevocations: false });
    expect(g.offsets.get('t\u00000')?.offset).toBe(5);
    expect(state.encode()[0]).toBe(3);
  });
});
