import type { ConfState } from '../raft/types.js';
import type { MetadataState } from '../statemachine/metadata.js';
import type { MembershipGoal } from './membership-step.js';

/** The metadata group keeps an odd number of voters: 5 from five brokers on, 3 from three, else 1. */
function voterCount(brokers: number): number {
  return brokers >= 5 ? 5 : brokers >= 3 ? 3 : Math.min(brokers, 1);
}

/**
 * The membership the metadata group should have: a few voters, every other broker a learner (it
 * needs the metadata, not a vote). Current voters stay voters unless they are draining or gone;
 * a voter that is never registered is kept (a broker of the initial cluster still starting).
 * Removed brokers leave the group.
 */
export function metadataGoal(state: MetadataState, current: ConfState): MembershipGoal {
  const removed = new Set(state.removed);
  const registered = Object.values(state.brokers).map((b) => b.id);
  const candidates = [...new Set([...current.voters, ...registered])].filter((id) => !removed.has(id));
  const voters = new Set(current.voters);
  const draining = new Set(state.draining);
  const rank = (id: number) => (draining.has(id) ? 2 : 0) + (voters.has(id) ? 0 : 1);
  candidates.sort((a, b) => rank(a) - rank(b) || a - b);
  const n = voterCount(candidates.length);
  return { voters: candidates.slice(0, n), learners: candidates.slice(n) };
}
