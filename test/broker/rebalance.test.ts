import { describe, expect, it } from 'vitest';
import { metadataGoal } from '../../src/broker/metadata-membership.js';
import { planReassignments } from '../../src/broker/rebalance.js';
import { EMPTY_METADATA, type MetadataState } from '../../src/statemachine/metadata.js';
import type { PartitionPlacement } from '../../src/statemachine/placement.js';

function state(brokers: number[], lists: number[][], extra: Partial<MetadataState> = {}): MetadataState {
  const partitions: PartitionPlacement[] = lists.map((replicas, partition) => ({
    partition,
    group: partition + 1,
    replicas,
    initialReplicas: replicas,
  }));
  return {
    ...EMPTY_METADATA,
    brokers: Object.fromEntries(brokers.map((id) => [String(id), { id, url: '', peer: '' }])),
    topics: { t: { name: 't', replicationFactor: lists[0]?.length ?? 1, configs: {}, partitions } },
    ...extra,
  };
}

/** Replicas and preferred leaders per broker once `plan` is applied to `s`. */
function counts(s: MetadataState, plan: ReturnType<typeof planReassignments>) {
  const replicas = new Map<number, number>();
  const leaders = new Map<number, number>();
  for (const p of s.topics.t!.partitions) {
    const list = plan.find((m) => m.group === p.group)?.to ?? p.replicas;
    for (const id of list) replicas.set(id, (replicas.get(id) ?? 0) + 1);
    leaders.set(list[0]!, (leaders.get(list[0]!) ?? 0) + 1);
  }
  return { replicas, leaders };
}

describe('planReassignments', () => {
  it('spreads replicas onto a new broker, every broker within one of the others, leaders too', () => {
    const s = state(
      [1, 2, 3, 4],
      [
        [1, 2, 3],
        [2, 3, 1],
        [3, 1, 2],
        [1, 2, 3],
        [2, 3, 1],
        [3, 1, 2],
      ],
    );
    const plan = planReassignments(s, [1, 2, 3, 4], { even: true });
    const { replicas, leaders } = counts(s, plan);
    expect([...replicas.values()].sort()).toEqual([4, 5, 5, 4].sort());
    expect(replicas.get(4)).toBeGreaterThanOrEqual(4);
    expect(
      Math.max(...leaders.values()) - Math.min(...[1, 2, 3, 4].map((b) => leaders.get(b) ?? 0)),
    ).toBeLessThanOrEqual(1);
    for (const m of plan) expect(new Set(m.to).size).toBe(m.to.length);
  });

  it('moves only what a draining broker holds when not evening out', () => {
    const s = state(
      [1, 2, 3, 4],
      [
        [1, 2, 3],
        [2, 3, 4],
      ],
      { draining: [1] },
    );
    const plan = planReassignments(s, [2, 3, 4], { even: false });
    expect(plan).toEqual([{ topic: 't', partition: 0, group: 1, from: [1, 2, 3], to: [4, 2, 3] }]);
  });

  it('leaves moving partitions alone, and a balanced cluster unchanged', () => {
    const s = state(
      [1, 2, 3],
      [
        [1, 2, 3],
        [2, 3, 1],
        [3, 1, 2],
      ],
    );
    expect(planReassignments(s, [1, 2, 3], { even: true })).toEqual([]);
  });
});

describe('metadataGoal: the metadata group keeps 3 (or 5) voters, other brokers learn', () => {
  const conf = (voters: number[], learners: number[] = []) => ({
    voters,
    learners,
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  });
  it('makes a fourth broker a learner, and replaces a draining voter by it', () => {
    const s = state([1, 2, 3, 4], []);
    expect(metadataGoal(s, conf([1, 2, 3]))).toEqual({ voters: [1, 2, 3], learners: [4] });
    expect(metadataGoal({ ...s, draining: [1] }, conf([1, 2, 3], [4]))).toEqual({
      voters: [2, 3, 4],
      learners: [1],
    });
  });
  it('keeps a voter that has not registered yet, and drops removed brokers', () => {
    expect(metadataGoal(state([1, 2], []), conf([1, 2, 3]))).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(metadataGoal({ ...state([2, 3, 4], []), removed: [1] }, conf([2, 3, 4], [1]))).toEqual({
      voters: [2, 3, 4],
      learners: [],
    });
  });
  it('grows to 5 voters from five brokers', () => {
    expect(metadataGoal(state([1, 2, 3, 4, 5], []), conf([1, 2, 3], [4, 5])).voters).toEqual([1, 2, 3, 4, 5]);
  });
});
