/**
 * Quorum arithmetic over majority and joint configurations (Raft §6: while a joint configuration
 * is in force, every decision needs a majority of the old voters AND of the new voters).
 */

/** Outcome of an election so far. */
export const VoteResult = { Pending: 0, Lost: 1, Won: 2 } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/**
 * The highest index that a majority of `voters` have acknowledged, given each voter's
 * acknowledged index (`undefined` counts as 0). An empty set places no constraint (+Infinity), so
 * that a non-joint configuration can be treated as joint with an empty outgoing half.
 */
export function majorityCommitted(
  voters: ReadonlySet<number>,
  acked: (id: number) => number | undefined,
): number {
  const n = voters.size;
  if (n === 0) return Number.POSITIVE_INFINITY;
  const indexes: number[] = [];
  for (const id of voters) indexes.push(acked(id) ?? 0);
  indexes.sort((a, b) => b - a);
  // The (n/2 + 1)-th highest index is held by a majority.
  return indexes[Math.floor(n / 2)]!;
}

/** Tally of `votes` (true = granted) among `voters`; voters who have not answered may still win it. */
export function majorityVoteResult(
  voters: ReadonlySet<number>,
  votes: ReadonlyMap<number, boolean>,
): VoteResult {
  const n = voters.size;
  if (n === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const quorum = Math.floor(n / 2) + 1;
  if (granted >= quorum) return VoteResult.Won;
  if (granted + missing >= quorum) return VoteResult.Pending;
  return VoteResult.Lost;
}

/** Both halves of a (possibly joint) voter configuration: incoming (new) and outgoing (old). */
export interface JointVoters {
  readonly incoming: ReadonlySet<number>;
  readonly outgoing: ReadonlySet<number>;
}

export function jointCommitted(voters: JointVoters, acked: (id: number) => number | undefined): number {
  return Math.min(majorityCommitted(voters.incoming, acked), majorityCommitted(voters.outgoing, acked));
}

export function jointVoteResult(voters: JointVoters, votes: ReadonlyMap<number, boolean>): VoteResult {
  const a = majorityVoteResult(voters.incoming, votes);
  const b = majorityVoteResult(voters.outgoing, votes);
  if (a === b) return a;
  if (a === VoteResult.Lost || b === VoteResult.Lost) return VoteResult.Lost;
  return VoteResult.Pending;
}
