import { Progress } from './progress.js';
import { type JointVoters, jointCommitted, jointVoteResult, VoteResult } from './quorum.js';
import type { ConfState } from './types.js';

/** The membership in force: (joint) voters, learners and what happens when a joint config is left. */
export interface MembershipConfig {
  readonly voters: { readonly incoming: Set<number>; readonly outgoing: Set<number> };
  readonly learners: Set<number>;
  /** Voters of the outgoing half that become learners when the joint configuration is left. */
  readonly learnersNext: Set<number>;
  autoLeave: boolean;
}

export function emptyMembership(): MembershipConfig {
  return {
    voters: { incoming: new Set(), outgoing: new Set() },
    learners: new Set(),
    learnersNext: new Set(),
    autoLeave: false,
  };
}

export function cloneMembership(c: MembershipConfig): MembershipConfig {
  return {
    voters: { incoming: new Set(c.voters.incoming), outgoing: new Set(c.voters.outgoing) },
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

const sorted = (s: Iterable<number>): number[] => [...s].sort((a, b) => a - b);

export function membershipToConfState(c: MembershipConfig): ConfState {
  return {
    voters: sorted(c.voters.incoming),
    learners: sorted(c.learners),
    votersOutgoing: sorted(c.voters.outgoing),
    learnersNext: sorted(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export function membershipFromConfState(cs: ConfState): MembershipConfig {
  return {
    voters: { incoming: new Set(cs.voters), outgoing: new Set(cs.votersOutgoing) },
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

export function isJoint(c: MembershipConfig): boolean {
  return c.voters.outgoing.size > 0;
}

/** Progress of every member, the membership, and the votes of the current election. */
export class ProgressTracker {
  config: MembershipConfig = emptyMembership();
  progress = new Map<number, Progress>();
  private readonly votes = new Map<number, boolean>();
  /** Member ids in ascending order, so that every walk over members is deterministic. */
  private ids: number[] = [];
  private voterIds: number[] = [];

  constructor(
    readonly maxInflightMsgs: number,
    readonly maxInflightBytes: number,
  ) {}

  newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(next, isLearner, this.maxInflightMsgs, this.maxInflightBytes);
  }

  /** Install a membership and the progress map that goes with it. */
  setConfig(config: MembershipConfig, progress: Map<number, Progress>): void {
    this.config = config;
    this.progress = progress;
    this.ids = sorted(progress.keys());
    this.voterIds = sorted(new Set([...config.voters.incoming, ...config.voters.outgoing]));
  }

  confState(): ConfState {
    return membershipToConfState(this.config);
  }

  /** One voter, not joint: decisions need nobody else. */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  get jointVoters(): JointVoters {
    return this.config.voters;
  }

  /** Ids of all voters (both halves), ascending. */
  voterNodes(): readonly number[] {
    return this.voterIds;
  }

  /** Ids of every member with progress (voters and learners), ascending. */
  memberIds(): readonly number[] {
    return this.ids;
  }

  isVoter(id: number): boolean {
    return this.config.voters.incoming.has(id) || this.config.voters.outgoing.has(id);
  }

  /** The highest index a quorum of voters has durably acknowledged. */
  committed(): number {
    return jointCommitted(this.config.voters, (id) => this.progress.get(id)?.match);
  }

  /** Whether a quorum of voters was recently active (CheckQuorum). */
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    for (const [id, pr] of this.progress) if (!pr.isLearner) votes.set(id, pr.recentActive);
    return jointVoteResult(this.config.voters, votes) === VoteResult.Won;
  }

  /** Tally of `acks` (ids that answered) as a quorum question. */
  ackResult(acks: ReadonlySet<number>): VoteResult {
    const votes = new Map<number, boolean>();
    for (const id of acks) votes.set(id, true);
    return jointVoteResult(this.config.voters, votes);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return jointVoteResult(this.config.voters, this.votes);
  }
}
