/**
 * Partition assignment of a consumer group: pure and deterministic (every replica of the group's
 * coordinator computes the same from the same inputs).
 *
 * Rules, in order of priority:
 * 1. every partition of every subscribed topic is assigned to exactly one member subscribed to
 *    its topic (a partition of a topic nobody subscribes to is not assigned);
 * 2. balance: no partition can move to an eligible member whose load is more than one below its
 *    owner's, so when all members subscribe to the same topics, loads differ by at most one;
 * 3. stickiness: a partition stays with its previous owner unless rule 2 moves it.
 */

/** One partition of one topic. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A member as the assignor sees it. */
export interface AssignorMember {
  readonly id: string;
  readonly topics: readonly string[];
}

/** Member id → its partitions, each list sorted by topic then partition. */
export type Assignment = ReadonlyMap<string, readonly TopicPartition[]>;

/** Total order on partitions: by topic, then by number. */
export function comparePartitions(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

function key(tp: TopicPartition): string {
  return `${tp.topic}\0${tp.partition}`;
}

/**
 * Assign the partitions of `partitionCounts` (topic → number of partitions; absent topics have
 * none) to `members`, keeping what `previous` gave each member where the rules allow.
 * Deterministic: depends only on the arguments, never on iteration order of inputs.
 */
export function assignPartitions(
  members: readonly AssignorMember[],
  partitionCounts: ReadonlyMap<string, number>,
  previous: Assignment = new Map(),
): Map<string, TopicPartition[]> {
  const ids = [...new Set(members.map((m) => m.id))].sort();
  const subscribers = new Map<string, string[]>();
  for (const m of [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    for (const topic of new Set(m.topics)) {
      const list = subscribers.get(topic);
      if (list === undefined) subscribers.set(topic, [m.id]);
      else if (!list.includes(m.id)) list.push(m.id);
    }
  }
  const owned = new Map<string, Map<string, TopicPartition>>(ids.map((id) => [id, new Map()]));
  const owner = new Map<string, string>();
  const load = (id: string) => owned.get(id)!.size;
  const give = (tp: TopicPartition, id: string) => {
    const previousOwner = owner.get(key(tp));
    if (previousOwner !== undefined) owned.get(previousOwner)!.delete(key(tp));
    owned.get(id)!.set(key(tp), tp);
    owner.set(key(tp), id);
  };

  // Every partition to assign, in order.
  const all: TopicPartition[] = [];
  for (const topic of [...subscribers.keys()].sort()) {
    const count = partitionCounts.get(topic) ?? 0;
    for (let partition = 0; partition < count; partition++) all.push({ topic, partition });
  }
  const wanted = new Set(all.map(key));

  // Stickiness: keep previous owners that are still members, subscribed, and the partition exists.
  for (const id of ids) {
    for (const tp of [...(previous.get(id) ?? [])].sort(comparePartitions)) {
      const k = key(tp);
      if (!wanted.has(k) || owner.has(k) || !subscribers.get(tp.topic)?.includes(id)) continue;
      give({ topic: tp.topic, partition: tp.partition }, id);
    }
  }

  /** The eligible member with the least load (ties: smallest id). */
  const leastLoaded = (topic: string): string => {
    let best: string | undefined;
    for (const id of subscribers.get(topic)!) if (best === undefined || load(id) < load(best)) best = id;
    return best!;
  };

  // Unowned partitions go to the least loaded eligible member.
  for (const tp of all) if (!owner.has(key(tp))) give(tp, leastLoaded(tp.topic));

  // Balance: move a partition from a member to an eligible one at least two below it, while any
  // such move exists. Each move lowers the sum of squared loads, so this ends.
  for (;;) {
    let moved = false;
    const byLoad = [...ids].sort((a, b) => load(b) - load(a) || (a < b ? -1 : 1));
    for (const from of byLoad) {
      // Give up the highest partitions first: the lowest stay where they were.
      const mine = [...owned.get(from)!.values()].sort(comparePartitions).reverse();
      for (const tp of mine) {
        const to = leastLoaded(tp.topic);
        if (load(to) + 1 < load(from)) {
          give(tp, to);
          moved = true;
          break;
        }
      }
      if (moved) break;
    }
    if (!moved) break;
  }

  return new Map(ids.map((id) => [id, [...owned.get(id)!.values()].sort(comparePartitions)]));
}
