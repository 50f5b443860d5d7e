import type { Rng } from './rng.js';

/**
 * The choices of the membership nemesis, as a pure function of what the cluster looks like: which
 * broker joins, drains or leaves, which replica moves where. The bounds keep the cluster able to
 * serve: never fewer active (not draining) brokers than the replication factor and the metadata
 * group's three voters need, never more brokers than the scenario allows, one drain at a time.
 */

/** The membership operations the nemesis draws from. */
export const MembershipKinds = ['join', 'drain-remove', 'move', 'rebalance'] as const;

/** One membership operation. */
export type MembershipKind = (typeof MembershipKinds)[number];

/** What the cluster looks like to the nemesis at the start of an operation. */
export interface MembershipView {
  /** Brokers the harness runs and has not removed (joining ones included). */
  readonly running: readonly number[];
  /** Of those, the ones the metadata lists (registered), with their state. */
  readonly registered: readonly number[];
  readonly draining: readonly number[];
  /** Replicas of each partition of the test topic, by partition. */
  readonly replicas: ReadonlyMap<number, readonly number[]>;
}

/** Limits on the cluster's size. */
export interface MembershipBounds {
  /** Active (registered, not draining) brokers never drop below this (default use: 3). */
  readonly minActive: number;
  /** Brokers running never exceed this. */
  readonly maxBrokers: number;
}

/** One step to take, or why none is taken. */
export type MembershipStep =
  | { readonly op: 'join' }
  /** Drain `broker`, then remove it once it holds nothing. */
  | { readonly op: 'drain'; readonly broker: number }
  /** Finish an earlier drain that did not complete: remove `broker` once it holds nothing. */
  | { readonly op: 'remove'; readonly broker: number }
  | {
      readonly op: 'move';
      readonly partition: number;
      readonly from: readonly number[];
      readonly to: readonly number[];
    }
  | { readonly op: 'rebalance' }
  | { readonly op: 'skip'; readonly why: string };

/** The brokers that can take replicas: registered, running, not draining. */
export function activeBrokers(view: MembershipView): number[] {
  return view.registered.filter((id) => view.running.includes(id) && !view.draining.includes(id));
}

/**
 * Choose the next step: the kinds in a seeded order, the first that the bounds allow (a drawn
 * kind that cannot be taken does not waste the round); `skip` with every reason when none can.
 */
export function planMembership(
  kinds: readonly MembershipKind[],
  view: MembershipView,
  bounds: MembershipBounds,
  rng: Rng,
): { readonly kind: MembershipKind; readonly step: MembershipStep } | { readonly skipped: string } {
  const reasons: string[] = [];
  for (const kind of rng.shuffle(kinds)) {
    const step = planKind(kind, view, bounds, rng);
    if (step.op !== 'skip') return { kind, step };
    reasons.push(`${kind}: ${step.why}`);
  }
  return { skipped: reasons.join('; ') };
}

/** The step for `kind`, or why it cannot be taken now. */
export function planKind(
  kind: MembershipKind,
  view: MembershipView,
  bounds: MembershipBounds,
  rng: Rng,
): MembershipStep {
  const active = activeBrokers(view);
  switch (kind) {
    case 'join':
      if (view.running.length >= bounds.maxBrokers)
        return { op: 'skip', why: `${view.running.length} brokers already (at most ${bounds.maxBrokers})` };
      return { op: 'join' };
    case 'drain-remove': {
      const unfinished = view.draining.find((id) => view.running.includes(id));
      if (unfinished !== undefined) return { op: 'remove', broker: unfinished };
      if (active.length <= bounds.minActive)
        return { op: 'skip', why: `${active.length} active brokers (at least ${bounds.minActive} stay)` };
      return { op: 'drain', broker: rng.pick(active) };
    }
    case 'move': {
      const partitions = [...view.replicas.keys()];
      if (partitions.length === 0) return { op: 'skip', why: 'no partition placement known' };
      const partition = rng.pick(partitions);
      const from = view.replicas.get(partition)!;
      const candidates = active.filter((id) => !from.includes(id));
      if (candidates.length === 0)
        return { op: 'skip', why: `no active broker outside p${partition}'s replicas [${from}]` };
      // A target may not name a draining broker: a draining replica is the one to go.
      const draining = from.filter((id) => view.draining.includes(id));
      if (draining.length > 1)
        return { op: 'skip', why: `p${partition} has ${draining.length} draining replicas [${draining}]` };
      const leaving = draining[0] ?? rng.pick(from);
      const joining = rng.pick(candidates);
      return { op: 'move', partition, from, to: from.map((id) => (id === leaving ? joining : id)) };
    }
    case 'rebalance':
      return { op: 'rebalance' };
  }
}
