import type { Progress } from './progress.js';
import { cloneMembership, isJoint, type MembershipConfig, type ProgressTracker } from './tracker.js';
import { type ConfChange, type ConfChangeSingle, ConfChangeTransition, ConfChangeType } from './types.js';

/** A membership change that cannot be made; the change is refused and nothing is modified. */
export class InvalidConfChange extends Error {
  override readonly name = 'InvalidConfChange';
}

/** The configuration and progress map a change leads to (the tracker is not modified). */
export interface ConfChangeResult {
  readonly config: MembershipConfig;
  readonly progress: Map<number, Progress>;
}

/** Whether `cc` enters a joint configuration, and whether it is left automatically. */
export function entersJoint(cc: ConfChange): { joint: boolean; autoLeave: boolean } {
  const joint = cc.transition !== ConfChangeTransition.Auto || cc.changes.length > 1;
  return { joint, autoLeave: cc.transition !== ConfChangeTransition.JointExplicit };
}

/** An empty change: the request to leave a joint configuration. */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

/**
 * Compute the result of applying `cc` to the tracker's membership (Raft §6 joint consensus, or a
 * single voter change at a time). New members start probing at `lastIndex`. Throws
 * {@link InvalidConfChange} when the change is not allowed from the current configuration.
 */
export function applyConfChangeTo(
  tracker: ProgressTracker,
  cc: ConfChange,
  lastIndex: number,
): ConfChangeResult {
  if (isLeaveJoint(cc)) return leaveJoint(tracker);
  const { joint, autoLeave } = entersJoint(cc);
  return joint
    ? enterJoint(tracker, autoLeave, cc.changes, lastIndex)
    : simple(tracker, cc.changes, lastIndex);
}

function working(tracker: ProgressTracker): { config: MembershipConfig; progress: Map<number, Progress> } {
  return { config: cloneMembership(tracker.config), progress: new Map(tracker.progress) };
}

function enterJoint(
  tracker: ProgressTracker,
  autoLeave: boolean,
  changes: readonly ConfChangeSingle[],
  lastIndex: number,
): ConfChangeResult {
  if (isJoint(tracker.config)) throw new InvalidConfChange('configuration is already joint');
  if (tracker.config.voters.incoming.size === 0)
    throw new InvalidConfChange('cannot make a zero-voter configuration joint');
  const w = working(tracker);
  for (const id of w.config.voters.incoming) w.config.voters.outgoing.add(id);
  applyChanges(tracker, w, changes, lastIndex);
  w.config.autoLeave = autoLeave;
  checkInvariants(w);
  return w;
}

function leaveJoint(tracker: ProgressTracker): ConfChangeResult {
  if (!isJoint(tracker.config)) throw new InvalidConfChange('configuration is not joint');
  const w = working(tracker);
  const { config, progress } = w;
  for (const id of config.learnersNext) {
    config.learners.add(id);
    const pr = progress.get(id)!;
    progress.set(id, withLearner(tracker, pr, true));
  }
  config.learnersNext.clear();
  for (const id of config.voters.outgoing) {
    if (!config.voters.incoming.has(id) && !config.learners.has(id)) progress.delete(id);
  }
  config.voters.outgoing.clear();
  config.autoLeave = false;
  checkInvariants(w);
  return w;
}

function simple(
  tracker: ProgressTracker,
  changes: readonly ConfChangeSingle[],
  lastIndex: number,
): ConfChangeResult {
  if (isJoint(tracker.config))
    throw new InvalidConfChange('cannot apply a simple change to a joint configuration');
  const w = working(tracker);
  applyChanges(tracker, w, changes, lastIndex);
  const before = tracker.config.voters.incoming;
  const after = w.config.voters.incoming;
  let changed = 0;
  for (const id of after) if (!before.has(id)) changed++;
  for (const id of before) if (!after.has(id)) changed++;
  if (changed > 1)
    throw new InvalidConfChange('more than one voter changed without entering a joint configuration');
  checkInvariants(w);
  return w;
}

// Progress objects are shared with the live tracker until the result is installed, so a change
// to a member's learner flag works on a copy.
function withLearner(tracker: ProgressTracker, pr: Progress, isLearner: boolean): Progress {
  if (pr.isLearner === isLearner) return pr;
  const copy = tracker.newProgress(pr.next, isLearner);
  copy.match = pr.match;
  copy.recentActive = pr.recentActive;
  return copy;
}

function applyChanges(
  tracker: ProgressTracker,
  w: { config: MembershipConfig; progress: Map<number, Progress> },
  changes: readonly ConfChangeSingle[],
  lastIndex: number,
): void {
  for (const cc of changes) {
    if (!Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0)
      throw new InvalidConfChange(`invalid node id ${cc.nodeId}`);
    switch (cc.type) {
      case ConfChangeType.AddVoter:
        makeVoter(tracker, w, cc.nodeId, lastIndex);
        break;
      case ConfChangeType.AddLearner:
        makeLearner(tracker, w, cc.nodeId, lastIndex);
        break;
      case ConfChangeType.Remove:
        remove(w, cc.nodeId);
        break;
      default:
        throw new InvalidConfChange(`unknown change type ${String(cc.type)}`);
    }
  }
  if (w.config.voters.incoming.size === 0) throw new InvalidConfChange('removed all voters');
}

function initProgress(
  tracker: ProgressTracker,
  w: { config: MembershipConfig; progress: Map<number, Progress> },
  id: number,
  isLearner: boolean,
  lastIndex: number,
): void {
  // A new member starts probing at the leader's last index; it is considered active so that
  // CheckQuorum does not depose the leader before the member had a chance to answer.
  w.progress.set(id, tracker.newProgress(Math.max(lastIndex, 1), isLearner));
  if (isLearner) w.config.learners.add(id);
  else w.config.voters.incoming.add(id);
}

function makeVoter(
  tracker: ProgressTracker,
  w: { config: MembershipConfig; progress: Map<number, Progress> },
  id: number,
  lastIndex: number,
): void {
  const pr = w.progress.get(id);
  if (!pr) {
    initProgress(tracker, w, id, false, lastIndex);
    return;
  }
  w.progress.set(id, withLearner(tracker, pr, false));
  w.config.learners.delete(id);
  w.config.learnersNext.delete(id);
  w.config.voters.incoming.add(id);
}

function makeLearner(
  tracker: ProgressTracker,
  w: { config: MembershipConfig; progress: Map<number, Progress> },
  id: number,
  lastIndex: number,
): void {
  const pr = w.progress.get(id);
  if (!pr) {
    initProgress(tracker, w, id, true, lastIndex);
    return;
  }
  if (pr.isLearner) return;
  remove(w, id);
  w.progress.set(id, pr);
  // A voter of the outgoing half keeps voting there until the joint configuration is left.
  if (w.config.voters.outgoing.has(id)) {
    w.config.learnersNext.add(id);
  } else {
    w.progress.set(id, withLearner(tracker, pr, true));
    w.config.learners.add(id);
  }
}

function remove(w: { config: MembershipConfig; progress: Map<number, Progress> }, id: number): void {
  if (!w.progress.has(id)) return;
  w.config.voters.incoming.delete(id);
  w.config.learners.delete(id);
  w.config.learnersNext.delete(id);
  if (!w.config.voters.outgoing.has(id)) w.progress.delete(id);
}

function checkInvariants(w: { config: MembershipConfig; progress: Map<number, Progress> }): void {
  const { config, progress } = w;
  for (const id of [
    ...config.voters.incoming,
    ...config.voters.outgoing,
    ...config.learners,
    ...config.learnersNext,
  ]) {
    if (!progress.has(id)) throw new InvalidConfChange(`no progress for member ${id}`);
  }
  for (const id of config.learnersNext) {
    if (!config.voters.outgoing.has(id))
      throw new InvalidConfChange(`${id} is in learnersNext but not an outgoing voter`);
    if (progress.get(id)!.isLearner)
      throw new InvalidConfChange(`${id} is in learnersNext but already a learner`);
  }
  for (const id of config.learners) {
    if (config.voters.incoming.has(id) || config.voters.outgoing.has(id)) {
      throw new InvalidConfChange(`${id} is both a learner and a voter`);
    }
    if (!progress.get(id)!.isLearner)
      throw new InvalidConfChange(`${id} is a learner without the learner flag`);
  }
  if (!isJoint(config) && (config.learnersNext.size > 0 || config.autoLeave)) {
    throw new InvalidConfChange('learnersNext or autoLeave set outside a joint configuration');
  }
}
