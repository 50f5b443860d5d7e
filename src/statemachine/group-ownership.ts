import { type Assignment, comparePartitions, type TopicPartition } from './group-assignment.js';

/**
 * The rebalance barrier of consumer groups (cooperative, as Kafka's KIP-429): the assignor's
 * *target* says where each partition should go; *ownership* says which member may consume it now.
 * A partition enters a member's owned set only while no other member owns it, and leaves it only
 * when its owner confirms it stopped consuming it (or leaves, or its session expires). So owned
 * sets never overlap, and partitions that do not move are never interrupted. Pure and
 * deterministic, like the assignor.
 */

/** What ownership needs to know of a member. */
export interface OwnershipMember {
  readonly id: string;
  /**
   * The member confirms revocations (it joined with `confirm_revocations`). Partitions taken from
   * a member that does not are released at once: the behaviour of clients that predate the barrier.
   */
  readonly confirmsRevocations: boolean;
}

function key(tp: TopicPartition): string {
  return `${tp.topic}\0${tp.partition}`;
}

function keys(list: readonly TopicPartition[] | undefined): Set<string> {
  return new Set((list ?? []).map(key));
}

/**
 * Ownership after a change of `members`, `target` or `owned`: members that left own nothing,
 * members that do not confirm revocations give up what is no longer theirs at once, and every
 * target partition nobody owns goes to its target member. Lists are sorted.
 */
export function settleOwnership(
  members: readonly OwnershipMember[],
  target: Assignment,
  owned: Assignment,
): Map<string, TopicPartition[]> {
  const ids = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const next = new Map<string, TopicPartition[]>();
  const taken = new Set<string>();
  for (const m of ids) {
    const mine = keys(target.get(m.id));
    const kept = (owned.get(m.id) ?? []).filter((tp) => m.confirmsRevocations || mine.has(key(tp)));
    next.set(m.id, kept);
    for (const tp of kept) taken.add(key(tp));
  }
  for (const m of ids) {
    const list = next.get(m.id)!;
    for (const tp of target.get(m.id) ?? []) {
      if (taken.has(key(tp))) continue;
      taken.add(key(tp));
      list.push(tp);
    }
    list.sort(comparePartitions);
  }
  return next;
}

/** What a member may consume: owned and still targeted at it. */
export function effectivePartitions(target: Assignment, owned: Assignment, id: string): TopicPartition[] {
  const mine = keys(target.get(id));
  return (owned.get(id) ?? []).filter((tp) => mine.has(key(tp)));
}

/** What a member must stop consuming and confirm: owned, no longer targeted at it. */
export function revokingPartitions(target: Assignment, owned: Assignment, id: string): TopicPartition[] {
  const mine = keys(target.get(id));
  return (owned.get(id) ?? []).filter((tp) => !mine.has(key(tp)));
}

/** `owned` with the partitions of `released` that `id` is revoking taken from `id`. */
export function release(
  target: Assignment,
  owned: Assignment,
  id: string,
  released: readonly TopicPartition[],
): Map<string, readonly TopicPartition[]> {
  const mine = keys(target.get(id));
  const gone = keys(released);
  const next = new Map(owned);
  next.set(
    id,
    (owned.get(id) ?? []).filter((tp) => mine.has(key(tp)) || !gone.has(key(tp))),
  );
  return next;
}
