import { describe, expect, it } from 'vitest';
import { type LeaderView, nextMembershipStep } from '../../src/broker/membership-step.js';
import { ConfChangeTransition, ConfChangeType, type ConfState } from '../../src/raft/types.js';

function conf(voters: number[], learners: number[] = [], votersOutgoing: number[] = []): ConfState {
  return { voters, learners, votersOutgoing, learnersNext: [], autoLeave: votersOutgoing.length > 0 };
}

/** The leader's view; every member was sent every entry unless `next` says otherwise. */
function view(
  self: number,
  confState: ConfState,
  match: Record<number, number>,
  lastIndex = 1000,
  next: Record<number, number> = {},
): LeaderView {
  const members = [...confState.voters, ...confState.learners, ...confState.votersOutgoing];
  return {
    self,
    confState,
    lastIndex,
    match: new Map(Object.entries(match).map(([k, v]) => [Number(k), v])),
    next: new Map(members.map((id) => [id, next[id] ?? lastIndex + 1])),
  };
}

const goal = (voters: number[], learners: number[] = []) => ({ voters, learners });
const all = { 1: 1000, 2: 1000, 3: 1000 };

describe('nextMembershipStep: moving a replica 3 → 4 (Raft §6, one change at a time)', () => {
  it('adds the target as a learner first', () => {
    expect(nextMembershipStep(view(1, conf([1, 2, 3]), all), goal([1, 2, 4]))).toEqual({
      kind: 'change',
      change: {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }],
      },
    });
  });

  it('waits while the learner catches up, and never promotes one that has not answered', () => {
    expect(nextMembershipStep(view(1, conf([1, 2, 3], [4]), { ...all, 4: 10 }), goal([1, 2, 4])).kind).toBe(
      'wait',
    );
    expect(nextMembershipStep(view(1, conf([1, 2, 3], [4]), all, 5), goal([1, 2, 4])).kind).toBe('wait');
  });

  it('waits for the leader to have sent the learner every entry: a few entries may be many bytes', () => {
    // 990 of 1,000 entries, but the leader's in-flight limits held back entries from 995 on.
    const v = view(1, conf([1, 2, 3], [4]), { ...all, 4: 990 }, 1000, { 4: 995 });
    expect(nextMembershipStep(v, goal([1, 2, 4]))).toEqual({
      kind: 'wait',
      reason: 'broker 4 is catching up',
    });
  });

  it('promotes the caught-up learner and removes the old replica in one joint change', () => {
    expect(nextMembershipStep(view(1, conf([1, 2, 3], [4]), { ...all, 4: 990 }), goal([1, 2, 4]))).toEqual({
      kind: 'change',
      change: {
        transition: ConfChangeTransition.JointImplicit,
        changes: [
          { type: ConfChangeType.AddVoter, nodeId: 4 },
          { type: ConfChangeType.Remove, nodeId: 3 },
        ],
      },
    });
  });

  it('waits while the joint configuration is left automatically', () => {
    expect(nextMembershipStep(view(1, conf([1, 2, 4], [], [1, 2, 3]), all), goal([1, 2, 4])).kind).toBe(
      'wait',
    );
  });

  it('hands leadership to a caught-up staying voter when the leader itself is leaving', () => {
    expect(
      nextMembershipStep(view(3, conf([1, 2, 3], [4]), { ...all, 1: 500, 4: 1000 }), goal([1, 2, 4])),
    ).toEqual({
      kind: 'transfer',
      to: 2,
    });
  });

  it('is done once the voters are the goal and no stray learner is left', () => {
    expect(nextMembershipStep(view(1, conf([1, 2, 4]), all), goal([1, 2, 4]))).toEqual({ kind: 'done' });
  });

  it('removes a learner that is no longer wanted (a cancelled move)', () => {
    const step = nextMembershipStep(view(1, conf([1, 2, 3], [4]), all), goal([1, 2, 3]));
    expect(step).toEqual({
      kind: 'change',
      change: {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.Remove, nodeId: 4 }],
      },
    });
  });

  it('moves a single replica by promoting first, then handing over, then leaving', () => {
    const promote = nextMembershipStep(view(1, conf([1], [2]), { 1: 1000, 2: 1000 }), goal([2]));
    expect(promote).toMatchObject({
      kind: 'change',
      change: { changes: [{ type: ConfChangeType.AddVoter, nodeId: 2 }] },
    });
    expect(nextMembershipStep(view(1, conf([1, 2]), { 1: 1000, 2: 1000 }), goal([2]))).toEqual({
      kind: 'transfer',
      to: 2,
    });
    expect(nextMembershipStep(view(2, conf([1, 2]), { 1: 1000, 2: 1000 }), goal([2]))).toMatchObject({
      kind: 'change',
      change: { changes: [{ type: ConfChangeType.Remove, nodeId: 1 }] },
    });
  });

  it("keeps the metadata group's non-voting brokers as learners", () => {
    expect(nextMembershipStep(view(1, conf([1, 2, 3]), all), goal([1, 2, 3], [4]))).toMatchObject({
      kind: 'change',
      change: { changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }] },
    });
  });
});
