import type { ConfChange, ConfChangeSingle } from '../../../src/raft/types.js';
import { ConfChangeTransition, ConfChangeType } from '../../../src/raft/types.js';

export function addVoter(nodeId: number): ConfChangeSingle {
  return { type: ConfChangeType.AddVoter, nodeId };
}

export function addLearner(nodeId: number): ConfChangeSingle {
  return { type: ConfChangeType.AddLearner, nodeId };
}

export function removeNode(nodeId: number): ConfChangeSingle {
  return { type: ConfChangeType.Remove, nodeId };
}

/** A membership change; `Auto` applies one voter change directly and several by joint consensus. */
export function confChange(
  changes: readonly ConfChangeSingle[],
  transition: ConfChangeTransition = ConfChangeTransition.Auto,
): ConfChange {
  return { transition, changes };
}
