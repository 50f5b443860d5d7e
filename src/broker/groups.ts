import { randomUUID } from 'node:crypto';
import { RaftlogError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { RaftHost } from '../partition/host.js';
import { Role } from '../raft/types.js';
import type { TopicPartition } from '../statemachine/group-assignment.js';
import { GroupCoordinatorMachine } from '../statemachine/group-coordinator-machine.js';
import {
  type ConsumerGroup,
  encodeGroupCommand,
  type GroupCommand,
  type MemberAssignment,
  memberView,
  offsetKey,
  type PartitionCounts,
  staleGeneration,
  subscribedTopics,
} from '../statemachine/group-state.js';
import {
  encodeMetadataCommand,
  METADATA_GROUP,
  type MetadataState,
  type PartitionPlacement,
  placeReplicas,
} from '../statemachine/metadata.js';
import { murmur2, toPositive } from '../statemachine/partitioner.js';
import type { LogStore } from '../storage/log-store.js';
import {
  type CommitOffsetsRequest,
  DEFAULT_SESSION_TIMEOUT_MS,
  type GroupApi,
  type GroupDescription,
  type GroupLagRow,
  type GroupListing,
  type GroupOffset,
  type GroupPartitionDescription,
  type GroupSummary,
  type HeartbeatRequest,
  type JoinGroupRequest,
  MAX_SESSION_TIMEOUT_MS,
  type MemberState,
  MIN_SESSION_TIMEOUT_MS,
  type TopicAssignment,
} from './groups-api.js';

/** The internal topic whose partitions coordinate consumer groups. Hidden from topic lists. */
export const GROUPS_TOPIC = '__consumer_groups';
/** Partitions of {@link GROUPS_TOPIC}, fixed when the first group is created. */
export const GROUPS_TOPIC_PARTITIONS = 8;
/** Most replicas of each partition of {@link GROUPS_TOPIC}. */
const GROUPS_TOPIC_MAX_REPLICAS = 3;
/** How often the coordinators' leaders look for expired sessions and changed topics. */
const SWEEP_MS = 50;

const GROUP_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const MEMBER_ID = /^[a-zA-Z0-9._-]{1,128}$/;

/** What the coordinator needs of its broker. */
export interface GroupsHost {
  readonly id: number;
  readonly host: RaftHost;
  readonly store: LogStore;
  readonly logger?: Logger;
  metadata(): MetadataState;
  /** Apply every metadata change committed before now (ReadIndex on the metadata group). */
  catchUpMetadata(): Promise<void>;
  /** Broker ids that can hold replicas. */
  brokerIds(): number[];
  /** High watermark of a partition replica hosted here, or undefined. */
  highWatermark(topic: string, partition: number): number | undefined;
  /** Log start offset of a partition replica hosted here, or undefined. */
  logStartOffset(topic: string, partition: number): number | undefined;
}

/** Heartbeats seen by this broker as leader of one coordinator group, in one term. */
interface Sessions {
  readonly term: number;
  /** When this broker became leader: members not heard from since count from here (grace). */
  readonly since: number;
  /** `group\0member` → last heartbeat (ms since the epoch). */
  readonly seen: Map<string, number>;
}

/** True for a valid consumer group name (the rule of topic names). */
export function isGroupName(name: unknown): name is string {
  return typeof name === 'string' && GROUP_NAME.test(name) && name !== '.' && name !== '..';
}

/** True for a string that can be a member id. */
export function isMemberId(id: unknown): id is string {
  return typeof id === 'string' && MEMBER_ID.test(id);
}

/** Which partition of {@link GROUPS_TOPIC} coordinates `group`: a stable hash of its name. */
export function coordinatorPartition(group: string, partitions: number): number {
  return toPositive(murmur2(Buffer.from(group, 'utf8'))) % partitions;
}

/**
 * The broker's consumer-group coordinator: hosts the state machines of the partitions of
 * {@link GROUPS_TOPIC} placed on this broker, serves the requests of the groups they coordinate
 * where this broker leads, keeps members' heartbeats in memory, and proposes session expiry and
 * topic changes. Everything else (membership, generation, assignment, offsets) is in Raft.
 */
export class GroupCoordinator implements GroupApi {
  readonly #b: GroupsHost;
  readonly #log: Logger;
  readonly #machines = new Map<number, GroupCoordinatorMachine>();
  readonly #sessions = new Map<number, Sessions>();
  /** Housekeeping proposals in flight, so that each goes once. */
  readonly #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(b: GroupsHost) {
    this.#b = b;
    this.#log = b.logger ?? silentLogger;
    this.#timer = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#timer.unref();
  }

  /** True when `raftGroup` is a coordinator group hosted here. */
  hosts(raftGroup: number): boolean {
    return this.#machines.has(raftGroup);
  }

  /** Raft group ids of the coordinator groups hosted here. */
  hostedGroups(): number[] {
    return [...this.#machines.keys()];
  }

  /** The state machine for a new local replica of a partition of {@link GROUPS_TOPIC}. */
  addMachine(raftGroup: number): GroupCoordinatorMachine {
    const machine = new GroupCoordinatorMachine(this.#b.store, raftGroup);
    this.#machines.set(raftGroup, machine);
    return machine;
  }

  /** A hosted coordinator group's whole state as snapshot data (for log compaction). */
  snapshotData(raftGroup: number): Uint8Array | undefined {
    return this.#machines.get(raftGroup)?.snapshotData();
  }

  removeMachine(raftGroup: number): void {
    this.#machines.delete(raftGroup);
    this.#sessions.delete(raftGroup);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  // ---- requests ------------------------------------------------------------------------------

  async joinGroup(group: string, req: JoinGroupRequest): Promise<MemberState> {
    checkGroup(group);
    if (req.topics.length === 0) throw invalid('a member must subscribe to at least one topic');
    for (const t of req.topics) if (t === GROUPS_TOPIC) throw invalid(`${GROUPS_TOPIC} is internal`);
    const sessionTimeoutMs = req.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    if (
      !Number.isSafeInteger(sessionTimeoutMs) ||
      sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS ||
      sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS
    ) {
      throw invalid(`session_timeout_ms must be from ${MIN_SESSION_TIMEOUT_MS} to ${MAX_SESSION_TIMEOUT_MS}`);
    }
    if (req.memberId !== undefined && !isMemberId(req.memberId)) {
      throw invalid('member ids are 1 to 128 characters of [a-zA-Z0-9._-]');
    }
    await this.#ensureGroupsTopic();
    const { raftGroup, machine } = await this.#leaderFor(group);
    await this.#b.catchUpMetadata();
    const existing = machine.state.group(group);
    const topics = subscribedTopics([...(existing?.members.values() ?? []), { topics: req.topics }]);
    // The state machine answers a join whose id is already in with that member (a retry).
    const memberId = req.memberId ?? randomUUID();
    const result = (await this.#propose(raftGroup, {
      op: 'join',
      group,
      memberId,
      topics: [...new Set(req.topics)].sort(),
      sessionTimeoutMs,
      partitionCounts: this.#partitionCounts(topics),
      ...(req.confirmRevocations === true ? { confirmsRevocations: true } : {}),
    })) as MemberAssignment;
    this.#touch(raftGroup, group, memberId);
    return memberState(result);
  }

  async heartbeat(group: string, memberId: string, req: HeartbeatRequest = {}): Promise<MemberState> {
    checkGroup(group);
    const revoked = (req.revoked ?? []).flatMap((a) =>
      a.partitions.map((partition) => ({ topic: a.topic, partition })),
    );
    if (revoked.length > 0 && req.generation === undefined) {
      throw invalid('revoked partitions must come with the generation they were revoked in');
    }
    const { raftGroup, machine } = await this.#leaderFor(group);
    if (revoked.length > 0) {
      // Through Raft: once applied, the partitions may be granted to their new owners.
      const result = (await this.#propose(raftGroup, {
        op: 'release',
        group,
        memberId,
        generation: req.generation!,
        partitions: revoked,
      })) as MemberAssignment;
      this.#touch(raftGroup, group, memberId);
      return memberState(result);
    }
    // Fresh state: every membership change committed before this heartbeat is applied here.
    await this.#b.host.readIndex(raftGroup);
    const g = memberOf(machine, group, memberId);
    if (req.generation !== undefined && req.generation !== g.generation) {
      throw staleGeneration(group, req.generation, g.generation);
    }
    this.#touch(raftGroup, group, memberId);
    return memberState(memberView(g, memberId));
  }

  async leaveGroup(group: string, memberId: string): Promise<void> {
    checkGroup(group);
    const { raftGroup } = await this.#leaderFor(group);
    await this.#propose(raftGroup, { op: 'leave', group, memberId });
    this.#sessions.get(raftGroup)?.seen.delete(sessionKey(group, memberId));
  }

  async commitOffsets(group: string, req: CommitOffsetsRequest): Promise<void> {
    checkGroup(group);
    if (req.memberId === undefined && req.generation !== undefined) {
      throw invalid('generation is only meaningful with member_id');
    }
    if (req.memberId === undefined) await this.#ensureGroupsTopic();
    await this.#checkPartitions(req.offsets);
    const { raftGroup } = await this.#leaderFor(group);
    await this.#propose(raftGroup, {
      op: 'commit',
      group,
      ...(req.memberId === undefined ? {} : { memberId: req.memberId }),
      ...(req.generation === undefined ? {} : { generation: req.generation }),
      offsets: req.offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
    });
    if (req.memberId !== undefined) this.#touch(raftGroup, group, req.memberId);
  }

  async groupOffsets(group: string): Promise<GroupOffset[]> {
    const g = await this.#readGroup(group);
    return [...g.offsets.values()]
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
      .map((o) => {
        const hw = this.#b.highWatermark(o.topic, o.partition);
        return {
          topic: o.topic,
          partition: o.partition,
          offset: o.offset,
          lag: hw === undefined ? null : Math.max(0, hw - o.offset),
        };
      });
  }

  async describeGroup(group: string): Promise<GroupDescription> {
    const g = await this.#readGroup(group);
    const owners = new Map<string, string>();
    const all = new Map<string, TopicPartition>();
    for (const [id, list] of g.owned) {
      for (const tp of list) {
        owners.set(offsetKey(tp.topic, tp.partition), id);
        all.set(offsetKey(tp.topic, tp.partition), tp);
      }
    }
    for (const [k, o] of g.offsets) all.set(k, o);
    const partitions = [...all.entries()]
      .sort(([, a], [, b]) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
      .map(([k, tp]): GroupPartitionDescription => {
        const offset = g.offsets.get(k)?.offset ?? null;
        const hw = this.#b.highWatermark(tp.topic, tp.partition) ?? null;
        const start = this.#b.logStartOffset(tp.topic, tp.partition) ?? 0;
        return {
          topic: tp.topic,
          partition: tp.partition,
          memberId: owners.get(k) ?? null,
          offset,
          highWatermark: hw,
          lag: hw === null ? null : Math.max(0, hw - (offset ?? start)),
        };
      });
    return {
      group: g.name,
      generation: g.generation,
      members: [...g.members.values()]
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .map((m) => {
          const view = memberState(memberView(g, m.id));
          return {
            memberId: m.id,
            topics: m.topics,
            sessionTimeoutMs: m.sessionTimeoutMs,
            assignments: view.assignments,
            revoking: view.revoking,
          };
        }),
      partitions,
    };
  }

  /**
   * The groups of every coordinator partition hosted here (or of the `coordinators` given: indexes
   * of partitions of {@link GROUPS_TOPIC}), each read after a ReadIndex round so followers answer
   * as fresh as leaders; the coordinators hosted elsewhere are named with their replicas, for the
   * front end to ask them. NO_LEADER when a hosted coordinator cannot be read.
   */
  async listGroups(coordinators?: readonly number[]): Promise<GroupListing> {
    await this.#b.catchUpMetadata();
    const topic = this.#b.metadata().topics[GROUPS_TOPIC];
    if (topic === undefined) return { groups: [], elsewhere: [] };
    const wanted =
      coordinators === undefined ? topic.partitions : coordinators.map((i) => topic.partitions[i]);
    const groups: GroupSummary[] = [];
    const elsewhere: Array<{ coordinator: number; replicas: readonly number[] }> = [];
    await Promise.all(
      wanted.map(async (p) => {
        if (p === undefined) throw invalid(`${GROUPS_TOPIC} has ${topic.partitions.length} partitions`);
        const machine = this.#machines.get(p.group);
        if (machine === undefined) {
          elsewhere.push({ coordinator: p.partition, replicas: p.replicas });
          return;
        }
        await this.#b.host.readIndex(p.group);
        for (const g of machine.state.groups()) {
          groups.push({ group: g.name, generation: g.generation, members: g.members.size });
        }
      }),
    );
    groups.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    elsewhere.sort((a, b) => a.coordinator - b.coordinator);
    return { groups, elsewhere };
  }

  lagRows(): GroupLagRow[] {
    const rows: GroupLagRow[] = [];
    for (const [raftGroup, machine] of this.#machines) {
      if (this.#b.host.groupState(raftGroup)?.role !== Role.Leader) continue;
      for (const g of machine.state.groups()) {
        for (const o of g.offsets.values()) {
          const hw = this.#b.highWatermark(o.topic, o.partition);
          if (hw === undefined) continue;
          rows.push({
            group: g.name,
            topic: o.topic,
            partition: o.partition,
            offset: o.offset,
            lag: Math.max(0, hw - o.offset),
          });
        }
      }
    }
    return rows;
  }

  // ---- routing -------------------------------------------------------------------------------

  /** The placement of `group`'s coordinator, or undefined when no group was ever created. */
  async #placement(group: string): Promise<PartitionPlacement | undefined> {
    let topic = this.#b.metadata().topics[GROUPS_TOPIC];
    if (topic === undefined) {
      await this.#b.catchUpMetadata();
      topic = this.#b.metadata().topics[GROUPS_TOPIC];
    }
    return topic?.partitions[coordinatorPartition(group, topic.partitions.length)];
  }

  /** The local coordinator of `group`, which must lead; NOT_LEADER / NO_LEADER otherwise. */
  async #leaderFor(group: string): Promise<{ raftGroup: number; machine: GroupCoordinatorMachine }> {
    const p = await this.#placement(group);
    if (p === undefined) throw notFound(group);
    const machine = this.#machines.get(p.group);
    const s = this.#b.host.groupState(p.group);
    if (machine === undefined || s === undefined) throw notLeader(p.replicas[0]!, group);
    if (s.role !== Role.Leader) throw notLeader(s.leader, group);
    return { raftGroup: p.group, machine };
  }

  /** `group` as of now, read from any local replica of its coordinator after a ReadIndex round. */
  async #readGroup(group: string): Promise<ConsumerGroup> {
    checkGroup(group);
    const p = await this.#placement(group);
    if (p === undefined) throw notFound(group);
    const machine = this.#machines.get(p.group);
    if (machine === undefined) throw notLeader(p.replicas[0]!, group);
    await this.#b.host.readIndex(p.group);
    const g = machine.state.group(group);
    if (g === undefined) throw notFound(group);
    return g;
  }

  /** Create {@link GROUPS_TOPIC} if it does not exist (on the metadata leader; NOT_LEADER elsewhere). */
  async #ensureGroupsTopic(): Promise<void> {
    if (this.#b.metadata().topics[GROUPS_TOPIC]) return;
    await this.#b.catchUpMetadata();
    const meta = this.#b.metadata();
    if (meta.topics[GROUPS_TOPIC]) return;
    const s = this.#b.host.groupState(METADATA_GROUP);
    if (s?.role !== Role.Leader) throw notLeader(s?.leader ?? 0, 'the metadata group');
    const brokers = this.#b.brokerIds();
    const existing = Object.values(meta.topics).reduce((n, t) => n + t.partitions.length, 0);
    const rf = Math.min(GROUPS_TOPIC_MAX_REPLICAS, brokers.length);
    const result = await this.#b.host.propose(
      METADATA_GROUP,
      encodeMetadataCommand({
        op: 'create_topic',
        name: GROUPS_TOPIC,
        replicationFactor: rf,
        configs: {},
        replicas: placeReplicas(brokers, GROUPS_TOPIC_PARTITIONS, rf, existing),
      }),
    );
    if (result instanceof RaftlogError && result.code !== 'TOPIC_EXISTS') throw result;
    this.#log.info(
      { partitions: GROUPS_TOPIC_PARTITIONS, replicationFactor: rf },
      'created the consumer groups topic',
    );
  }

  /** Every offset names an existing partition, else TOPIC_NOT_FOUND / PARTITION_NOT_FOUND. */
  async #checkPartitions(offsets: CommitOffsetsRequest['offsets']): Promise<void> {
    if (offsets.some((o) => this.#b.metadata().topics[o.topic] === undefined))
      await this.#b.catchUpMetadata();
    const topics = this.#b.metadata().topics;
    for (const o of offsets) {
      const t = o.topic === GROUPS_TOPIC ? undefined : topics[o.topic];
      if (t === undefined) throw new RaftlogError('TOPIC_NOT_FOUND', `topic ${o.topic} does not exist`);
      if (o.partition >= t.partitions.length) {
        throw new RaftlogError('PARTITION_NOT_FOUND', `topic ${o.topic} has no partition ${o.partition}`);
      }
    }
  }

  #partitionCounts(topics: readonly string[]): PartitionCounts {
    const meta = this.#b.metadata();
    return [...topics]
      .sort()
      .map((t) => [t, t === GROUPS_TOPIC ? 0 : (meta.topics[t]?.partitions.length ?? 0)] as const);
  }

  async #propose(raftGroup: number, cmd: GroupCommand): Promise<unknown> {
    const result = await this.#b.host.propose(raftGroup, encodeGroupCommand(cmd));
    if (result instanceof RaftlogError) throw result;
    return result;
  }

  // ---- sessions ------------------------------------------------------------------------------

  /** This broker's heartbeat book of `raftGroup` for the current term, if it leads it. */
  #sessionsOf(raftGroup: number): Sessions | undefined {
    const s = this.#b.host.groupState(raftGroup);
    if (s?.role !== Role.Leader) {
      this.#sessions.delete(raftGroup);
      return undefined;
    }
    let sessions = this.#sessions.get(raftGroup);
    if (sessions === undefined || sessions.term !== s.term) {
      // A new leader gives every member a whole session timeout from now.
      sessions = { term: s.term, since: Date.now(), seen: new Map() };
      this.#sessions.set(raftGroup, sessions);
    }
    return sessions;
  }

  #touch(raftGroup: number, group: string, memberId: string): void {
    this.#sessionsOf(raftGroup)?.seen.set(sessionKey(group, memberId), Date.now());
  }

  /** On the leader of each coordinator group: expire silent members, follow topic changes. */
  #sweep(): void {
    if (this.#closed) return;
    const now = Date.now();
    for (const [raftGroup, machine] of this.#machines) {
      const sessions = this.#sessionsOf(raftGroup);
      // Only once this leader applied an entry of its own term is its state complete.
      if (sessions === undefined || machine.appliedTerm !== sessions.term) continue;
      for (const g of machine.state.groups()) {
        for (const m of g.members.values()) {
          const key = sessionKey(g.name, m.id);
          const last = Math.max(sessions.seen.get(key) ?? 0, sessions.since);
          if (now - last > m.sessionTimeoutMs) {
            this.#housekeep(
              raftGroup,
              `expire\0${key}`,
              async () => ({ op: 'expire', group: g.name, memberId: m.id }),
              () => sessions.seen.delete(key),
            );
          }
        }
        if (g.members.size === 0) continue;
        const counts = this.#partitionCounts([...g.partitionCounts.keys()]);
        if (counts.some(([t, c]) => g.partitionCounts.get(t) !== c)) {
          this.#housekeep(raftGroup, `topics\0${g.name}`, async () => {
            // This broker's metadata may lag (a new leader catching up): look again once it is
            // fresh, so that a topic is never taken away only because it was not seen yet.
            await this.#b.catchUpMetadata();
            const fresh = machine.state.group(g.name);
            if (fresh === undefined || fresh.members.size === 0) return undefined;
            const now = this.#partitionCounts([...fresh.partitionCounts.keys()]);
            const changed = now.some(([t, c]) => fresh.partitionCounts.get(t) !== c);
            return changed ? { op: 'topics', group: g.name, partitionCounts: now } : undefined;
          });
        }
      }
    }
  }

  /** Propose the command `build` makes (if any), once at a time per `key`; failures are retried by the next sweep. */
  #housekeep(
    raftGroup: number,
    key: string,
    build: () => Promise<GroupCommand | undefined>,
    done?: () => void,
  ): void {
    if (this.#pending.has(key)) return;
    this.#pending.add(key);
    build()
      .then(async (cmd) => {
        if (cmd === undefined || this.#closed) return;
        const result = await this.#b.host.propose(raftGroup, encodeGroupCommand(cmd));
        if (!(result instanceof RaftlogError)) {
          this.#log.info({ group: cmd.group, op: cmd.op }, 'consumer group housekeeping');
          done?.();
        }
      })
      .catch(() => {})
      .finally(() => this.#pending.delete(key));
  }
}

function sessionKey(group: string, memberId: string): string {
  return `${group}\0${memberId}`;
}

/** Partitions grouped by topic, as the API shows them. */
export function byTopic(partitions: readonly TopicPartition[]): TopicAssignment[] {
  const out = new Map<string, number[]>();
  for (const tp of partitions) {
    const list = out.get(tp.topic);
    if (list === undefined) out.set(tp.topic, [tp.partition]);
    else list.push(tp.partition);
  }
  return [...out]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a - b) }));
}

function memberState(view: MemberAssignment): MemberState {
  return {
    memberId: view.memberId,
    generation: view.generation,
    assignments: byTopic(view.partitions),
    revoking: byTopic(view.revoking),
  };
}

function memberOf(machine: GroupCoordinatorMachine, group: string, memberId: string): ConsumerGroup {
  const g = machine.state.group(group);
  if (g === undefined) throw notFound(group);
  if (!g.members.has(memberId)) {
    throw new RaftlogError('UNKNOWN_MEMBER', `consumer group ${group} has no member ${memberId}`);
  }
  return g;
}

function checkGroup(group: string): void {
  if (!isGroupName(group)) throw invalid('group names are 1 to 249 characters of [a-zA-Z0-9._-]');
}

function invalid(message: string): RaftlogError {
  return new RaftlogError('INVALID_REQUEST', message);
}

function notFound(group: string): RaftlogError {
  return new RaftlogError('GROUP_NOT_FOUND', `consumer group ${group} does not exist`);
}

function notLeader(leader: number, what: string): RaftlogError {
  if (leader === 0)
    return new RaftlogError('NO_LEADER', `the coordinator of ${what} has no leader right now`);
  return new RaftlogError('NOT_LEADER', `this broker is not the coordinator of ${what}`, {
    details: { leader },
  });
}
