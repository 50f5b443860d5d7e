import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
} from '../raft/types.js';

/**
 * The next membership change that brings a Raft group from what it is to what it should be, one
 * step at a time (at most one change in flight per group; the caller proposes the step, waits for
 * it to apply, then asks again). Pure: the leader's view in, one step out.
 *
 * A replica is added as a learner first and promoted only once it holds nearly the whole log, so
 * the group never waits for a new voter to copy the log. Promotion and removal go together in
 * one joint change ([AddVoter new, Remove old], left automatically): while both configurations
 * are in force a commit needs a majority of the old voters and one of the new, which the replicas
 * they share already give (for 3 → 3, the leader and one staying follower) — so writes cost what
 * they cost before. Two single steps would pass through 4 voters, where a commit needs 3 acks.
 */

/** What the group's membership should become. */
export interface MembershipGoal {
  readonly voters: readonly number[];
  /** Learners to keep (the metadata group's non-voting brokers); partitions have none. */
  readonly learners: readonly number[];
}

/** The leader's view of the group. */
export interface LeaderView {
  readonly self: number;
  readonly confState: ConfState;
  readonly lastIndex: number;
  /** Highest index known to be replicated on each member. */
  readonly match: ReadonlyMap<number, number>;
  /** Next index the leader sends each member (everything below it is on its way or there). */
  readonly next: ReadonlyMap<number, number>;
}

export type MembershipStep =
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 'change'; readonly change: ConfChange }
  | { readonly kind: 'transfer'; readonly to: number }
  | { readonly kind: 'done' };

/**
 * A learner this close to the leader's last index (in entries) has caught up and may vote, once
 * the leader has sent it every entry (see {@link caughtUp}).
 */
export const CAUGHT_UP_ENTRIES = 256;

export function nextMembershipStep(view: LeaderView, goal: MembershipGoal): MembershipStep {
  const cs = view.confState;
  if (cs.votersOutgoing.length > 0) {
    return cs.autoLeave
      ? { kind: 'wait', reason: 'leaving the joint configuration' }
      : { kind: 'change', change: { transition: ConfChangeTransition.Auto, changes: [] } };
  }
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  const goalVoters = new Set(goal.voters);
  const keep = new Set([...goal.voters, ...goal.learners]);

  const strayLearner = cs.learners.find((id) => !keep.has(id));
  if (strayLearner !== undefined) return single(ConfChangeType.Remove, strayLearner);

  const removes = cs.voters.filter((id) => !goalVoters.has(id));
  // Remove others before this leader; this leader leaves last, after handing leadership over.
  const leaving = removes.find((id) => id !== view.self) ?? removes[0];
  const add = goal.voters.find((id) => !voters.has(id));
  if (add !== undefined) {
    if (!learners.has(add)) return single(ConfChangeType.AddLearner, add);
    if (!caughtUp(view, add)) return { kind: 'wait', reason: `broker ${add} is catching up` };
    if (leaving === undefined) return single(ConfChangeType.AddVoter, add);
    if (leaving === view.self) {
      // Nobody stays to hand over to (a single replica moving): promote first, hand over next.
      const stays = cs.voters.some((id) => id !== view.self && goalVoters.has(id));
      return stays ? handOver(view, goalVoters) : single(ConfChangeType.AddVoter, add);
    }
    return {
      kind: 'change',
      change: {
        transition: ConfChangeTransition.JointImplicit,
        changes: [
          { type: ConfChangeType.AddVoter, nodeId: add },
          { type: ConfChangeType.Remove, nodeId: leaving },
        ],
      },
    };
  }
  if (leaving !== undefined) {
    return leaving === view.self ? handOver(view, goalVoters) : single(ConfChangeType.Remove, leaving);
  }
  const missingLearner = goal.learners.find((id) => !learners.has(id) && !voters.has(id));
  if (missingLearner !== undefined) return single(ConfChangeType.AddLearner, missingLearner);
  return { kind: 'done' };
}

function single(type: ConfChangeType, nodeId: number): MembershipStep {
  const changes: ConfChangeSingle[] = [{ type, nodeId }];
  return { kind: 'change', change: { transition: ConfChangeTransition.Auto, changes } };
}

/**
 * Caught up: it answered, holds all but the last few entries, and the leader has sent it the
 * rest. A few entries can be many bytes (256 entries of a megabyte): that the leader sent them
 * all means they fit in its in-flight limits, so what the new voter still lacks is bounded in
 * bytes too, and it copied the rest within the move bandwidth (appends to a voter are not
 * throttled).
 */
function caughtUp(view: LeaderView, id: number): boolean {
  const match = view.match.get(id) ?? 0;
  const next = view.next.get(id) ?? 0;
  return match > 0 && match >= view.lastIndex - CAUGHT_UP_ENTRIES && next > view.lastIndex;
}

/**
 * The leader is leaving: hand leadership to a caught-up staying voter (Raft's transfer sends it
 * the last entries, then TimeoutNow; thesis §3.10).
 */
function handOver(view: LeaderView, goalVoters: ReadonlySet<number>): MembershipStep {
  const heir = view.confState.voters.find(
    (id) => id !== view.self && goalVoters.has(id) && caughtUp(view, id),
  );
  return heir === undefined
    ? { kind: 'wait', reason: 'no staying voter has caught up yet' }
    : { kind: 'transfer', to: heir };
}
