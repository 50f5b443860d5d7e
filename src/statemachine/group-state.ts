import { RaftlogError } from '../errors.js';
import {
  type Assignment,
  assignPartitions,
  comparePartitions,
  type TopicPartition,
} from './group-assignment.js';
import { effectivePartitions, release, revokingPartitions, settleOwnership } from './group-ownership.js';
import { isCount, packTagged, unpackTagged } from './tagged-msgpack.js';

/**
 * The consumer groups of one coordinator partition (one Raft group of the internal topic
 * `__consumer_groups`): members, generation, assignment and committed offsets of every group that
 * hashes to it. Changed only by {@link GroupCommand}s, applied in log order, deterministically:
 * every replica holds the same state at the same index. Heartbeats are not replicated (the
 * coordinator's leader keeps them in memory); session expiry is a command its leader proposes.
 *
 * Rebalances are cooperative with a barrier (see `group-ownership.ts`): the assignment is where
 * partitions should be; a partition that moves stays owned by its previous member, which keeps
 * consuming none of it, until that member confirms (a `release`), leaves or expires.
 */

/** A member of a consumer group. */
export interface GroupMember {
  readonly id: string;
  /** Subscribed topics, sorted, no duplicates. */
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  /** The member confirms revocations; without, what is taken from it moves at once (no barrier). */
  readonly confirmsRevocations: boolean;
}

/** A committed offset: the next record the group will read on that partition. */
export interface CommittedOffset extends TopicPartition {
  readonly offset: number;
}

/** One consumer group. */
export interface ConsumerGroup {
  readonly name: string;
  /** Bumped by every change of membership or assignment. 0 until the first member joins. */
  readonly generation: number;
  readonly members: ReadonlyMap<string, GroupMember>;
  /** Partition counts of the subscribed topics, as the coordinator's leader last saw them. */
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** Member id → the partitions the assignor gives it (sorted): the target of the rebalance. */
  readonly assignment: Assignment;
  /**
   * Member id → the partitions it may consume (sorted): granted and not yet released. Owned sets
   * never overlap; a member's partitions owned but no longer assigned are being revoked.
   */
  readonly owned: Assignment;
  /** `topic\0partition` → committed offset. */
  readonly offsets: ReadonlyMap<string, CommittedOffset>;
}

/** Topic → partition count pairs, sorted by topic. */
export type PartitionCounts = ReadonlyArray<readonly [string, number]>;

/** What entries of a coordinator group carry. Choices (member ids, partition counts) are the proposer's. */
export type GroupCommand =
  | {
      readonly op: 'join';
      readonly group: string;
      readonly memberId: string;
      readonly topics: readonly string[];
      readonly sessionTimeoutMs: number;
      /** Partition counts of every topic the group subscribes to once this member is in. */
      readonly partitionCounts: PartitionCounts;
      /** Absent: false (a client that predates the rebalance barrier). */
      readonly confirmsRevocations?: boolean;
    }
  | { readonly op: 'leave'; readonly group: string; readonly memberId: string }
  | { readonly op: 'expire'; readonly group: string; readonly memberId: string }
  | {
      readonly op: 'commit';
      readonly group: string;
      /** Absent: a commit from outside the group, allowed only while it has no members. */
      readonly memberId?: string;
      readonly generation?: number;
      readonly offsets: readonly CommittedOffset[];
    }
  | { readonly op: 'topics'; readonly group: string; readonly partitionCounts: PartitionCounts }
  | {
      /** The member stopped consuming these partitions (and committed what it processed of them). */
      readonly op: 'release';
      readonly group: string;
      readonly memberId: string;
      /** The generation the member saw them revoked in; another one is STALE_GENERATION. */
      readonly generation: number;
      readonly partitions: readonly TopicPartition[];
    };

/** A member's view after a join or in a heartbeat. */
export interface MemberAssignment {
  readonly memberId: string;
  readonly generation: number;
  /** What it may consume now. */
  readonly partitions: readonly TopicPartition[];
  /** What it must stop consuming, then confirm with a `release`. */
  readonly revoking: readonly TopicPartition[];
}

/** Tag bytes (format versions). */
const COMMAND_FORMAT = 1;
/** Format 2 predates ownership: read as every member owning its assignment, none confirming. */
const STATE_FORMAT_V2 = 2;
const STATE_FORMAT = 3;

export function offsetKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

function countsMap(counts: PartitionCounts): Map<string, number> {
  return new Map(counts.map(([t, c]) => [t, c]));
}

/** The partitions `memberId` may consume in `group` (empty when it is not a member). */
export function memberPartitions(group: ConsumerGroup, memberId: string): readonly TopicPartition[] {
  return effectivePartitions(group.assignment, group.owned, memberId);
}

/** The partitions `memberId` must stop consuming and confirm. */
export function memberRevoking(group: ConsumerGroup, memberId: string): readonly TopicPartition[] {
  return revokingPartitions(group.assignment, group.owned, memberId);
}

/** `memberId`'s view of `group`. */
export function memberView(group: ConsumerGroup, memberId: string): MemberAssignment {
  return {
    memberId,
    generation: group.generation,
    partitions: memberPartitions(group, memberId),
    revoking: memberRevoking(group, memberId),
  };
}

/** Every topic some member of `group` subscribes to (sorted). */
export function subscribedTopics(members: Iterable<{ readonly topics: readonly string[] }>): string[] {
  const topics = new Set<string>();
  for (const m of members) for (const t of m.topics) topics.add(t);
  return [...topics].sort();
}

/** The groups of one coordinator partition and the deterministic transitions between them. */
export class GroupsState {
  #groups = new Map<string, ConsumerGroup>();

  group(name: string): ConsumerGroup | undefined {
    return this.#groups.get(name);
  }

  /** Every group, by name. */
  groups(): ConsumerGroup[] {
    return [...this.#groups.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Apply one command. Refusals are returned (not thrown), the same on every replica. */
  apply(cmd: GroupCommand): MemberAssignment | { generation: number } | RaftlogError | undefined {
    switch (cmd.op) {
      case 'join':
        return this.#join(cmd);
      case 'release':
        return this.#release(cmd);
      case 'leave':
      case 'expire':
        return this.#remove(cmd.group, cmd.memberId);
      case 'commit':
        return this.#commit(cmd);
      case 'topics': {
        const g = this.#groups.get(cmd.group);
        if (g === undefined) return notFound(cmd.group);
        const next = rebalance(g, g.members, countsMap(cmd.partitionCounts));
        this.#groups.set(g.name, next);
        return { generation: next.generation };
      }
      default:
        return new RaftlogError('INVALID_REQUEST', 'unknown group command');
    }
  }

  #join(cmd: Extract<GroupCommand, { op: 'join' }>): MemberAssignment | RaftlogError {
    const g = this.#groups.get(cmd.group) ?? emptyGroup(cmd.group);
    const member: GroupMember = {
      id: cmd.memberId,
      topics: [...new Set(cmd.topics)].sort(),
      sessionTimeoutMs: cmd.sessionTimeoutMs,
      confirmsRevocations: cmd.confirmsRevocations === true,
    };
    const existing = g.members.get(cmd.memberId);
    if (existing !== undefined) {
      // A retried join (the client chose the id): the member it made, not a second one.
      if (sameMember(existing, member)) return memberView(g, cmd.memberId);
      return new RaftlogError(
        'INVALID_REQUEST',
        `member ${cmd.memberId} is already in the group with another subscription`,
      );
    }
    const members = new Map(g.members);
    members.set(cmd.memberId, member);
    const next = rebalance(g, members, countsMap(cmd.partitionCounts), true);
    this.#groups.set(g.name, next);
    return memberView(next, cmd.memberId);
  }

  #release(cmd: Extract<GroupCommand, { op: 'release' }>): MemberAssignment | RaftlogError {
    const g = this.#groups.get(cmd.group);
    if (g === undefined) return notFound(cmd.group);
    if (!g.members.has(cmd.memberId)) return unknownMember(cmd.group, cmd.memberId);
    // Within one generation a revoked partition stays revoked (only a new assignment, which
    // bumps the generation, can give it back), so a confirmation of this generation cannot
    // release a partition the member was told to consume again.
    if (cmd.generation !== g.generation) return staleGeneration(cmd.group, cmd.generation, g.generation);
    const owned = settleOwnership(
      [...g.members.values()],
      g.assignment,
      release(g.assignment, g.owned, cmd.memberId, cmd.partitions),
    );
    const next = { ...g, owned };
    this.#groups.set(g.name, next);
    return memberView(next, cmd.memberId);
  }

  #remove(name: string, memberId: string): { generation: number } | RaftlogError {
    const g = this.#groups.get(name);
    if (g === undefined) return notFound(name);
    if (!g.members.has(memberId)) return unknownMember(name, memberId);
    const members = new Map(g.members);
    members.delete(memberId);
    const next = rebalance(g, members, g.partitionCounts, true);
    if (members.size === 0 && next.offsets.size === 0) this.#groups.delete(name);
    else this.#groups.set(name, next);
    return { generation: next.generation };
  }

  #commit(cmd: Extract<GroupCommand, { op: 'commit' }>): undefined | RaftlogError {
    let g = this.#groups.get(cmd.group);
    if (cmd.memberId === undefined) {
      if (g !== undefined && g.members.size > 0) {
        return new RaftlogError(
          'UNKNOWN_MEMBER',
          `group ${cmd.group} has members: only they may commit (give member_id and generation)`,
        );
      }
      g ??= emptyGroup(cmd.group);
    } else {
      if (g === undefined) return notFound(cmd.group);
      if (!g.members.has(cmd.memberId)) return unknownMember(cmd.group, cmd.memberId);
      if (cmd.generation !== undefined && cmd.generation !== g.generation) {
        return staleGeneration(cmd.group, cmd.generation, g.generation);
      }
      // Owned, revoking included: a member commits what it processed before it confirms.
      const mine = new Set((g.owned.get(cmd.memberId) ?? []).map((tp) => offsetKey(tp.topic, tp.partition)));
      const foreign = cmd.offsets.find((o) => !mine.has(offsetKey(o.topic, o.partition)));
      if (foreign !== undefined) {
        return new RaftlogError(
          'STALE_GENERATION',
          `${foreign.topic}/${foreign.partition} is not owned by member ${cmd.memberId} in generation ${g.generation}`,
          { details: { generation: g.generation } },
        );
      }
    }
    const offsets = new Map(g.offsets);
    for (const o of cmd.offsets) {
      offsets.set(offsetKey(o.topic, o.partition), {
        topic: o.topic,
        partition: o.partition,
        offset: o.offset,
      });
    }
    this.#groups.set(g.name, { ...g, offsets });
    return undefined;
  }

  /** The whole state as bytes (checkpoints and snapshots). */
  encode(): Uint8Array {
    return packTagged(STATE_FORMAT, encodeGroups(this.groups()));
  }

  /** Replace the whole state by {@link encode}'s bytes; STORAGE_CORRUPT when they are not that. */
  restore(bytes: Uint8Array): void {
    this.#groups = decodeGroups(bytes);
  }
}

function emptyGroup(name: string): ConsumerGroup {
  return {
    name,
    generation: 0,
    members: new Map(),
    partitionCounts: new Map(),
    assignment: new Map(),
    owned: new Map(),
    offsets: new Map(),
  };
}

function sameMember(a: GroupMember, b: GroupMember): boolean {
  return (
    a.sessionTimeoutMs === b.sessionTimeoutMs &&
    a.confirmsRevocations === b.confirmsRevocations &&
    a.topics.length === b.topics.length &&
    a.topics.every((t, i) => t === b.topics[i])
  );
}

/**
 * `g` with `members` and `counts`, assignment recomputed from the previous one and ownership
 * settled. The generation is bumped when membership changed (`membershipChanged`) or the
 * assignment did; grants and releases within one assignment do not bump it.
 */
function rebalance(
  g: ConsumerGroup,
  members: ReadonlyMap<string, GroupMember>,
  counts: ReadonlyMap<string, number>,
  membershipChanged = false,
): ConsumerGroup {
  const topics = subscribedTopics(members.values());
  const partitionCounts = new Map(topics.map((t) => [t, counts.get(t) ?? 0]));
  const assignment = assignPartitions([...members.values()], partitionCounts, g.assignment);
  const changed = membershipChanged || !sameAssignment(g.assignment, assignment);
  return {
    ...g,
    members,
    partitionCounts,
    assignment,
    owned: settleOwnership([...members.values()], assignment, g.owned),
    generation: changed ? g.generation + 1 : g.generation,
  };
}

function sameAssignment(a: Assignment, b: Assignment): boolean {
  if (a.size !== b.size) return false;
  for (const [id, list] of a) {
    const other = b.get(id);
    if (other === undefined || other.length !== list.length) return false;
    for (let i = 0; i < list.length; i++) if (comparePartitions(list[i]!, other[i]!) !== 0) return false;
  }
  return true;
}

function notFound(group: string): RaftlogError {
  return new RaftlogError('GROUP_NOT_FOUND', `consumer group ${group} does not exist`);
}

function unknownMember(group: string, member: string): RaftlogError {
  return new RaftlogError('UNKNOWN_MEMBER', `consumer group ${group} has no member ${member}`);
}

/** STALE_GENERATION, with the current generation in its details (and the HTTP error body). */
export function staleGeneration(group: string, given: number, current: number): RaftlogError {
  return new RaftlogError(
    'STALE_GENERATION',
    `generation ${given} of group ${group} is stale; the current generation is ${current}`,
    { details: { generation: current } },
  );
}

// ---- wire formats -----------------------------------------------------------------------------

/** A command as the bytes of one Raft entry. */
export function encodeGroupCommand(cmd: GroupCommand): Uint8Array {
  return packTagged(COMMAND_FORMAT, cmd);
}

/** The command in an entry, or undefined when the bytes are not one. */
export function decodeGroupCommand(bytes: Uint8Array): GroupCommand | undefined {
  if (bytes.length === 0 || bytes[0] !== COMMAND_FORMAT) return undefined;
  const cmd = unpackTagged(bytes) as GroupCommand | undefined;
  if (
    typeof cmd !== 'object' ||
    cmd === null ||
    typeof cmd.op !== 'string' ||
    typeof cmd.group !== 'string'
  ) {
    return undefined;
  }
  return cmd;
}

type AssignmentWire = Array<[id: string, partitions: Array<[topic: string, partition: number]>]>;

type GroupWire = [
  name: string,
  generation: number,
  /** `confirms` is absent in format 2. */
  members: Array<[id: string, topics: string[], sessionTimeoutMs: number, confirms?: boolean]>,
  counts: Array<[topic: string, count: number]>,
  assignment: AssignmentWire,
  offsets: Array<[topic: string, partition: number, offset: number]>,
  /** Absent in format 2. */
  owned?: AssignmentWire,
];

function assignmentToWire(a: Assignment): AssignmentWire {
  return [...a].map(([id, list]) => [id, list.map((tp) => [tp.topic, tp.partition])]);
}

function assignmentFromWire(wire: AssignmentWire): Assignment {
  return new Map(
    wire.map(([id, list]) => [id, list.map(([topic, partition]) => ({ topic, partition }))] as const),
  );
}

function encodeGroups(groups: readonly ConsumerGroup[]): GroupWire[] {
  return groups.map((g) => [
    g.name,
    g.generation,
    [...g.members.values()].map((m) => [m.id, [...m.topics], m.sessionTimeoutMs, m.confirmsRevocations]),
    [...g.partitionCounts],
    assignmentToWire(g.assignment),
    [...g.offsets.values()].map((o) => [o.topic, o.partition, o.offset]),
    assignmentToWire(g.owned),
  ]);
}

function decodeGroups(bytes: Uint8Array): Map<string, ConsumerGroup> {
  const corrupt = (why: string) =>
    new RaftlogError('STORAGE_CORRUPT', `corrupt consumer group state: ${why}`);
  const format = bytes[0];
  if (bytes.length === 0 || (format !== STATE_FORMAT && format !== STATE_FORMAT_V2)) {
    throw corrupt('unknown format');
  }
  const fields = format === STATE_FORMAT ? 7 : 6;
  const wire = unpackTagged(bytes);
  if (!Array.isArray(wire)) throw corrupt('malformed');
  const out = new Map<string, ConsumerGroup>();
  for (const g of wire as GroupWire[]) {
    if (!Array.isArray(g) || g.length !== fields || typeof g[0] !== 'string' || !isCount(g[1])) {
      throw corrupt('malformed group');
    }
    const [name, generation, members, counts, assignment, offsets, owned] = g;
    out.set(name, {
      name,
      generation,
      members: new Map(
        members.map(
          ([id, topics, sessionTimeoutMs, confirms]) =>
            [id, { id, topics, sessionTimeoutMs, confirmsRevocations: confirms === true }] as const,
        ),
      ),
      partitionCounts: new Map(counts),
      assignment: assignmentFromWire(assignment),
      owned: assignmentFromWire(owned ?? assignment),
      offsets: new Map(
        offsets.map(
          ([topic, partition, offset]) =>
            [offsetKey(topic, partition), { topic, partition, offset }] as const,
        ),
      ),
    });
  }
  return out;
}
