import { RaftlogError } from '../errors.js';
import {
  type Assignment,
  assignPartitions,
  comparePartitions,
  type TopicPartition,
} from './group-assignment.js';
import { isCount, packTagged, unpackTagged } from './tagged-msgpack.js';

/**
 * The consumer groups of one coordinator partition (one Raft group of the internal topic
 * `__consumer_groups`): members, generation, assignment and committed offsets of every group that
 * hashes to it. Changed only by {@link GroupCommand}s, applied in log order, deterministically:
 * every replica holds the same state at the same index. Heartbeats are not replicated (the
 * coordinator's leader keeps them in memory); session expiry is a command its leader proposes.
 */

/** A member of a consumer group. */
export interface GroupMember {
  readonly id: string;
  /** Subscribed topics, sorted, no duplicates. */
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
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
  /** Member id → its partitions (sorted). */
  readonly assignment: Assignment;
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
  | { readonly op: 'topics'; readonly group: string; readonly partitionCounts: PartitionCounts };

/** A member's view after a join or in a heartbeat. */
export interface MemberAssignment {
  readonly memberId: string;
  readonly generation: number;
  readonly partitions: readonly TopicPartition[];
}

/** Tag bytes (format versions). */
const COMMAND_FORMAT = 1;
const STATE_FORMAT = 2;

export function offsetKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

function countsMap(counts: PartitionCounts): Map<string, number> {
  return new Map(counts.map(([t, c]) => [t, c]));
}

/** The partitions `memberId` holds in `group` (empty when it is not a member). */
export function memberPartitions(group: ConsumerGroup, memberId: string): readonly TopicPartition[] {
  return group.assignment.get(memberId) ?? [];
}

/** Every topic some member of `group` subscribes to (sorted). */
export function subscribedTopics(members: Iterable<GroupMember>): string[] {
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
    if (g.members.has(cmd.memberId)) {
      return new RaftlogError('INVALID_REQUEST', `member ${cmd.memberId} is already in the group`);
    }
    const members = new Map(g.members);
    members.set(cmd.memberId, {
      id: cmd.memberId,
      topics: [...new Set(cmd.topics)].sort(),
      sessionTimeoutMs: cmd.sessionTimeoutMs,
    });
    const next = rebalance(g, members, countsMap(cmd.partitionCounts), true);
    this.#groups.set(g.name, next);
    return {
      memberId: cmd.memberId,
      generation: next.generation,
      partitions: memberPartitions(next, cmd.memberId),
    };
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
      const mine = new Set(memberPartitions(g, cmd.memberId).map((tp) => offsetKey(tp.topic, tp.partition)));
      const foreign = cmd.offsets.find((o) => !mine.has(offsetKey(o.topic, o.partition)));
      if (foreign !== undefined) {
        return new RaftlogError(
          'STALE_GENERATION',
          `${foreign.topic}/${foreign.partition} is not assigned to member ${cmd.memberId} in generation ${g.generation}`,
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
    offsets: new Map(),
  };
}

/**
 * `g` with `members` and `counts`, assignment recomputed from the previous one. The generation is
 * bumped when membership changed (`membershipChanged`) or the assignment did.
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

function staleGeneration(group: string, given: number, current: number): RaftlogError {
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

type GroupWire = [
  name: string,
  generation: number,
  members: Array<[id: string, topics: string[], sessionTimeoutMs: number]>,
  counts: Array<[topic: string, count: number]>,
  assignment: Array<[id: string, partitions: Array<[topic: string, partition: number]>]>,
  offsets: Array<[topic: string, partition: number, offset: number]>,
];

function encodeGroups(groups: readonly ConsumerGroup[]): GroupWire[] {
  return groups.map((g) => [
    g.name,
    g.generation,
    [...g.members.values()].map((m) => [m.id, [...m.topics], m.sessionTimeoutMs]),
    [...g.partitionCounts],
    [...g.assignment].map(([id, list]) => [id, list.map((tp) => [tp.topic, tp.partition])]),
    [...g.offsets.values()].map((o) => [o.topic, o.partition, o.offset]),
  ]);
}

function decodeGroups(bytes: Uint8Array): Map<string, ConsumerGroup> {
  const corrupt = (why: string) =>
    new RaftlogError('STORAGE_CORRUPT', `corrupt consumer group state: ${why}`);
  if (bytes.length === 0 || bytes[0] !== STATE_FORMAT) throw corrupt('unknown format');
  const wire = unpackTagged(bytes);
  if (!Array.isArray(wire)) throw corrupt('malformed');
  const out = new Map<string, ConsumerGroup>();
  for (const g of wire as GroupWire[]) {
    if (!Array.isArray(g) || g.length !== 6 || typeof g[0] !== 'string' || !isCount(g[1])) {
      throw corrupt('malformed group');
    }
    const [name, generation, members, counts, assignment, offsets] = g;
    out.set(name, {
      name,
      generation,
      members: new Map(
        members.map(([id, topics, sessionTimeoutMs]) => [id, { id, topics, sessionTimeoutMs }] as const),
      ),
      partitionCounts: new Map(counts),
      assignment: new Map(
        assignment.map(
          ([id, list]) => [id, list.map(([topic, partition]) => ({ topic, partition }))] as const,
        ),
      ),
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
