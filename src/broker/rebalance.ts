import type { MetadataState } from '../statemachine/metadata.js';
import { goalReplicas, sameList } from '../statemachine/placement.js';

/** One partition's replica list, as planned: `from` now, `to` once moved. */
export interface PlannedMove {
  readonly topic: string;
  readonly partition: number;
  readonly group: number;
  readonly from: readonly number[];
  readonly to: readonly number[];
}

/** What a plan may do. */
export interface PlanOptions {
  /**
   * Also even out replicas (every broker within one of the others) and preferred leaders; without
   * it, the plan only moves replicas off brokers that may not hold them (draining or removed).
   */
  readonly even: boolean;
}

/**
 * A reassignment plan over `brokers` (those that may hold replicas: registered, not draining).
 * Pure and deterministic. Partitions already moving are left alone (and counted where they are
 * heading). A replaced broker's successor takes its position in the list, so preferred leaders
 * only change when leaders are evened out.
 */
export function planReassignments(
  state: MetadataState,
  brokers: readonly number[],
  options: PlanOptions,
): PlannedMove[] {
  const eligible = new Set(brokers);
  const load = new Map<number, number>(brokers.map((b) => [b, 0]));
  const lists: Array<{
    topic: string;
    partition: number;
    group: number;
    from: readonly number[];
    to: number[];
  }> = [];
  for (const topic of Object.values(state.topics)) {
    for (const p of topic.partitions) {
      for (const b of goalReplicas(p)) if (load.has(b)) load.set(b, load.get(b)! + 1);
      if (!p.move)
        lists.push({
          topic: topic.name,
          partition: p.partition,
          group: p.group,
          from: p.replicas,
          to: [...p.replicas],
        });
    }
  }
  const leastLoaded = (exclude: readonly number[]) =>
    [...load].filter(([b]) => !exclude.includes(b)).sort((a, b) => a[1] - b[1] || a[0] - b[0])[0]?.[0];

  // Replicas on brokers that may not hold them go to the least loaded eligible broker.
  for (const l of lists) {
    l.to.forEach((b, i) => {
      if (eligible.has(b)) return;
      const to = leastLoaded(l.to);
      if (to === undefined) return;
      l.to[i] = to;
      load.set(to, load.get(to)! + 1);
    });
  }
  if (options.even) {
    evenOut(
      lists,
      load,
      (l) => l.to,
      (l, from, to) => {
        l.to[l.to.indexOf(from)] = to;
      },
    );
    const leaders = new Map<number, number>(brokers.map((b) => [b, 0]));
    for (const l of lists) if (leaders.has(l.to[0]!)) leaders.set(l.to[0]!, leaders.get(l.to[0]!)! + 1);
    evenOut(
      lists,
      leaders,
      (l) => l.to.slice(0, 1),
      (l, _from, to) => {
        l.to.splice(l.to.indexOf(to), 1);
        l.to.unshift(to);
      },
      (l, to) => l.to.includes(to),
    );
  }
  return lists
    .filter((l) => !sameList(l.from, l.to))
    .map((l) => ({ topic: l.topic, partition: l.partition, group: l.group, from: l.from, to: l.to }));
}

/**
 * Move one unit at a time from the most to the least counted broker until every count is within
 * one of the others (or no partition allows a move).
 */
function evenOut<L>(
  lists: L[],
  counts: Map<number, number>,
  on: (l: L) => readonly number[],
  move: (l: L, from: number, to: number) => void,
  canTake: (l: L, to: number) => boolean = (l, to) => !on(l).includes(to),
): void {
  for (let guard = lists.length * counts.size + 1; guard > 0; guard--) {
    const sorted = [...counts].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const [min, minCount] = sorted[0] ?? [0, 0];
    const [max, maxCount] = sorted[sorted.length - 1] ?? [0, 0];
    if (maxCount - minCount <= 1) return;
    const l = lists.find((x) => on(x).includes(max) && canTake(x, min));
    if (l === undefined) return;
    move(l, max, min);
    counts.set(max, maxCount - 1);
    counts.set(min, minCount + 1);
  }
}
