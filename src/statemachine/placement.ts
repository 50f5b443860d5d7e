import { RaftlogError } from '../errors.js';

/**
 * A move of a partition's replicas in progress: the group's Raft membership is being changed,
 * one step at a time, until its voters are `target` (see `src/broker/reassign.ts`).
 */
export interface PartitionMove {
  /** The replica list the move ends with; its first broker becomes the preferred leader. */
  readonly target: readonly number[];
  /**
   * Every broker that may hold a replica until the move completes: the replicas it started from
   * and every target it has had (a cancelled move may have made a target broker a voter already).
   * Only once the move completes may brokers outside the new replica list drop their data.
   */
  readonly involved: readonly number[];
}

/** Where one partition's replicas live. */
export interface PartitionPlacement {
  readonly partition: number;
  /** The Raft group of this partition: unique in the cluster, never reused. */
  readonly group: number;
  /** Broker ids; the first is the preferred leader. Changes only when a move completes. */
  readonly replicas: readonly number[];
  /**
   * The replicas the partition was created with, never changed: only these brokers bootstrap the
   * group, all with exactly this voter list. A broker added later starts empty and receives the
   * membership and the state from the leader.
   */
  readonly initialReplicas: readonly number[];
  /** Set while the replicas move. */
  readonly move?: PartitionMove;
}

/** The replica list the partition is heading to: the move's target, or its replicas. */
export function goalReplicas(p: PartitionPlacement): readonly number[] {
  return p.move?.target ?? p.replicas;
}

/** Brokers that host the partition's group now: its replicas, and during a move every broker involved. */
export function hostingBrokers(p: PartitionPlacement): readonly number[] {
  return p.move ? union(p.replicas, p.move.involved) : p.replicas;
}

/** Whether broker `id` creates the group with its initial voters (it is an initial replica). */
export function bootstrapsGroup(p: PartitionPlacement, id: number): boolean {
  return p.initialReplicas.includes(id);
}

/** A placement saved before moves existed: its replicas are its initial replicas. */
export function withInitialReplicas(p: PartitionPlacement): PartitionPlacement {
  return p.initialReplicas ? p : { ...p, initialReplicas: p.replicas };
}

/** Begin a move to `target`; a move that only reorders the replicas (the preferred leader) is done at once. */
export function applyStartMove(
  p: PartitionPlacement,
  target: readonly number[],
): PartitionPlacement | RaftlogError {
  if (p.move) {
    return new RaftlogError('MOVE_IN_PROGRESS', `partition ${p.partition} is already moving`, {
      details: { target: p.move.target },
    });
  }
  if (target.length === 0 || new Set(target).size !== target.length) {
    return new RaftlogError('INVALID_REQUEST', 'a move target is a non-empty list of distinct broker ids');
  }
  if (sameList(target, p.replicas)) {
    return new RaftlogError('INVALID_REQUEST', `partition ${p.partition} is already on ${target.join(',')}`);
  }
  if (sameSet(target, p.replicas)) return { ...p, replicas: [...target] };
  return { ...p, move: { target: [...target], involved: union(p.replicas, target) } };
}

/**
 * The group's membership now equals the move's target: it becomes the replica list. Stale or
 * repeated completions (another target, no move) change nothing, so the mover may retry freely.
 */
export function applyCompleteMove(
  p: PartitionPlacement,
  target: readonly number[],
): PartitionPlacement | RaftlogError {
  if (!p.move || !sameList(p.move.target, target)) {
    return new RaftlogError('MOVE_NOT_FOUND', `partition ${p.partition} has no move to ${target.join(',')}`);
  }
  const { move: _done, ...rest } = p;
  return { ...rest, replicas: [...target] };
}

/** Head back to the replicas the move started from (the mover undoes what it did, then completes). */
export function applyCancelMove(p: PartitionPlacement): PartitionPlacement | RaftlogError {
  if (!p.move) return new RaftlogError('MOVE_NOT_FOUND', `partition ${p.partition} is not moving`);
  return { ...p, move: { target: [...p.replicas], involved: p.move.involved } };
}

export function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function sameSet(a: readonly number[], b: readonly number[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

function union(a: readonly number[], b: readonly number[]): number[] {
  return [...new Set([...a, ...b])];
}
