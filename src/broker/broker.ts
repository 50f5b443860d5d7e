import { randomUUID } from 'node:crypto';
import { isErrorCode, RaftlogError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { type GroupStateMachine, type HostTiming, RaftHost } from '../partition/host.js';
import { LocalTransport } from '../partition/local-transport.js';
import type { PeerTransport, TransportStats } from '../partition/transport.js';
import { Role } from '../raft/types.js';
import {
  encodeMetadataCommand,
  METADATA_GROUP,
  type MetadataState,
  MetadataStateMachine,
  type PartitionPlacement,
  placeReplicas,
  type TopicRecord,
} from '../statemachine/metadata.js';
import { PartitionMachine } from '../statemachine/partition-machine.js';
import { type ApplyResult, rejectionError } from '../statemachine/partition-state.js';
import { bootstrapsGroup, goalReplicas, hostingBrokers } from '../statemachine/placement.js';
import { encodeRecordBatch } from '../statemachine/record-batch.js';
import { RecordBatchReader } from '../statemachine/record-batch-reader.js';
import type { LogStore } from '../storage/log-store.js';
import type { ClusterAdmin } from './admin.js';
import type {
  BatchSlice,
  BrokerApi,
  ClusterDescription,
  CreateTopicRequest,
  FetchedBatches,
  FetchRequest,
  FetchResult,
  PartitionDescription,
  PartitionStatus,
  ProduceRecord,
  ProduceResult,
  ProducerTag,
  TopicDescription,
  TopicSummary,
} from './api.js';
import { partitionCatchUpBytes } from './catch-up-bytes.js';
import { Elasticity } from './elasticity.js';
import { GROUPS_TOPIC, GroupCoordinator } from './groups.js';
import { LeaderBalancer } from './leader-balance.js';
import { LogCompaction } from './log-compaction.js';
import { ReadAhead } from './read-ahead.js';
import { RetentionEnforcer, type RetentionTarget } from './retention.js';
import { recordsOfSlices } from './slice-records.js';
import { checkTopicConfigs, retentionLimits } from './topic-configs.js';

/** Kafka's rule for topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const MAX_PARTITIONS = 10_000;
const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_MAX_BYTES = 1024 * 1024;
/** Bytes the reads ahead of catch-up readers may hold together, and how long one waits to be taken. */
const READ_AHEAD_BYTES = 64 * 1024 * 1024;
const READ_AHEAD_TTL_MS = 5000;
/** How often a broker checks that it is registered in the metadata (and the cluster has an id). */
const HOUSEKEEPING_MS = 250;
/** Default of {@link BrokerOptions.retentionCheckMs}. */
const RETENTION_CHECK_MS = 5000;
/** Default of {@link BrokerOptions.compactionEntries}. */
const COMPACTION_ENTRIES = 10_000;
/** A peer heard from within this many election timeouts counts as alive. */
const ALIVE_ELECTION_TIMEOUTS = 2;

export interface BrokerOptions {
  /** This broker's id (> 0): the number given to `--id`. */
  readonly id: number;
  /** The open store of this broker (one database for all of its groups). */
  readonly store: LogStore;
  /** The peer transport; omit for a single-node broker. */
  readonly transport?: PeerTransport;
  /**
   * Broker ids of the initial cluster, this one included: the voters of the metadata group.
   * Default: this broker alone.
   */
  readonly initialBrokers?: readonly number[];
  /** This broker's peer (transport) address, as registered in the metadata. */
  readonly peerAddress?: string;
  /** This broker's client URL; may also be set later with {@link Broker.setClientUrl}. */
  readonly clientUrl?: string;
  readonly timing?: Partial<HostTiming>;
  /** How long a write or read waits for its commit before COMMIT_TIMEOUT. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Most bytes of one produce request's entry. Default 8 MiB. */
  readonly maxEntryBytes?: number;
  /** How often partition leaders apply their topics' retention. Default 5 s. */
  readonly retentionCheckMs?: number;
  /**
   * Applied entries after which the logs of the metadata group and of the consumer-group
   * coordinators are compacted. Default 10,000. (Partition logs are compacted as retention moves
   * their log start.)
   */
  readonly compactionEntries?: number;
  readonly logger?: Logger;
  /**
   * This broker joins a running cluster (`raftlog start --join`): it does not create the metadata
   * group but waits to be added to it; `initialBrokers` is ignored.
   */
  readonly joining?: boolean;
  /**
   * Bytes per second this broker sends to replicas catching up (learners). Default 25 MiB/s, which
   * keeps produce latency during a move within 3× of steady (see `DEFAULT_MOVE_BANDWIDTH`).
   */
  readonly moveBandwidth?: number;
  /** Even out replicas and preferred leaders over the brokers automatically. Default off. */
  readonly autoRebalance?: boolean;
}

/**
 * One raftlog broker: hosts the metadata group and its replicas of partition groups on one
 * {@link RaftHost}, creates and drops partition groups as the metadata says, and serves topics,
 * produce and fetch ({@link BrokerApi}).
 */
export class Broker implements BrokerApi {
  readonly id: number;
  private readonly store: LogStore;
  private readonly transport: PeerTransport;
  readonly host: RaftHost;
  private readonly metadata: MetadataStateMachine;
  private readonly partitions = new Map<number, PartitionMachine>();
  private readonly readAhead = new ReadAhead<SlicedRead>(READ_AHEAD_BYTES, READ_AHEAD_TTL_MS);
  /** Every hosted group's preferred leader (its first replica), for leader balancing. */
  private readonly preferredLeaders = new Map<number, number>();
  private readonly balancer: LeaderBalancer;
  private readonly retention: RetentionEnforcer;
  private readonly compaction: LogCompaction;
  private readonly retentionTimer: NodeJS.Timeout;
  private readonly elasticity: Elasticity;
  /** Consumer groups: the partitions of the internal topic `__consumer_groups` hosted here. */
  readonly groups: GroupCoordinator;
  private readonly initialBrokers: readonly number[];
  private readonly peerAddress: string;
  private clientUrl: string;
  private readonly maxEntryBytes: number;
  private readonly log: Logger;
  private housekeeping: NodeJS.Timeout | undefined;
  private closed = false;
  private readyWaiters: Array<() => void> = [];

  constructor(o: BrokerOptions) {
    if (!Number.isSafeInteger(o.id) || o.id <= 0)
      throw new RaftlogError('INVALID_REQUEST', `invalid broker id ${o.id}`);
    this.id = o.id;
    this.store = o.store;
    this.transport = o.transport ?? new LocalTransport(o.id);
    this.initialBrokers = o.joining ? [] : [...(o.initialBrokers ?? [o.id])].sort((a, b) => a - b);
    if (!o.joining && !this.initialBrokers.includes(o.id)) {
      throw new RaftlogError('INVALID_REQUEST', `broker ${o.id} is not among the initial brokers`);
    }
    this.peerAddress = o.peerAddress ?? '';
    this.clientUrl = o.clientUrl ?? '';
    this.maxEntryBytes = o.maxEntryBytes ?? 8 * 1024 * 1024;
    this.log = o.logger ?? silentLogger;
    this.host = new RaftHost({
      nodeId: o.id,
      store: o.store,
      transport: this.transport,
      ...(o.timing ? { timing: o.timing } : {}),
      ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
      ...(o.moveBandwidth ? { learnerBandwidth: o.moveBandwidth } : {}),
      throttlesLearners: (group) => group !== METADATA_GROUP,
      holdsEmptyAppends: (group) => group !== METADATA_GROUP,
      logger: this.log,
      peers: () => this.brokerIds().filter((id) => id !== this.id),
      onSoftState: (group, state, term) => {
        if (state.role === Role.Leader) this.log.info({ group, term }, 'became leader');
        if (this.readyWaiters.length > 0 && this.isReady()) for (const w of this.readyWaiters.splice(0)) w();
      },
    });
    this.balancer = new LeaderBalancer(this.host, o.id);
    this.retention = new RetentionEnforcer({
      host: this.host,
      read: (group, lo, hi, maxBytes) => this.store.readEntries(group, lo, hi, maxBytes),
      logger: this.log,
    });
    this.compaction = new LogCompaction(this.host, o.compactionEntries ?? COMPACTION_ENTRIES);
    this.elasticity = new Elasticity({
      host: this.host,
      transport: this.transport,
      metadata: () => this.metadata.current,
      catchUpMetadata: () => this.catchUpMetadata(),
      isAlive: (id) => this.isAlive(id),
      catchUpBytes: (group, match) => {
        const machine = this.partitions.get(group);
        const log = this.host.logState(group);
        return machine && log ? partitionCatchUpBytes(machine.state, log, match) : undefined;
      },
      ...(o.autoRebalance ? { autoRebalance: true } : {}),
      logger: this.log,
    });
    this.groups = new GroupCoordinator({
      id: o.id,
      host: this.host,
      store: o.store,
      logger: this.log,
      metadata: () => this.metadata.current,
      catchUpMetadata: () => this.catchUpMetadata(),
      brokerIds: () => this.brokerIds(),
      highWatermark: (topic, partition) => this.localPartition(topic, partition)?.state.highWatermark,
      logStartOffset: (topic, partition) => this.localPartition(topic, partition)?.state.logStartOffset,
    });
    this.metadata = new MetadataStateMachine(o.store, (state) => this.reconcile(state));
    // A joining broker hosts the metadata group empty: the leader adds it as a learner.
    this.host.addGroup(
      METADATA_GROUP,
      this.metadata,
      o.joining ? {} : { voters: this.initialBrokers, campaignIfNew: this.initialBrokers[0] === this.id },
    );
    this.reconcile(this.metadata.current);
    this.housekeeping = setInterval(() => this.keepHouse(), HOUSEKEEPING_MS);
    this.retentionTimer = setInterval(
      () => this.retention.run(this.retentionTargets()),
      o.retentionCheckMs ?? RETENTION_CHECK_MS,
    );
    this.keepHouse();
  }

  /** Counters of the peer transport (frames, bytes, rejections). */
  transportStats(): TransportStats {
    return this.transport.stats();
  }

  /** Set the client URL this broker registers (once its HTTP server is bound). */
  setClientUrl(url: string): void {
    this.clientUrl = url;
    this.keepHouse();
  }

  // ---- metadata ------------------------------------------------------------------------------

  /**
   * Make the local partition groups match the metadata: create missing replicas, drop deleted
   * ones. A broker hosts a group while it is a replica or involved in the group's move; it drops
   * the group's data only once the move completed without it — completion is proposed only after
   * the group's committed membership no longer holds it.
   */
  private reconcile(state: MetadataState): void {
    if (this.closed) return;
    this.elasticity.syncPeers(state);
    const wanted = new Map<number, PartitionPlacement>();
    const coordinators = new Set(state.topics[GROUPS_TOPIC]?.partitions.map((p) => p.group));
    for (const topic of Object.values(state.topics)) {
      for (const p of topic.partitions) if (hostingBrokers(p).includes(this.id)) wanted.set(p.group, p);
    }
    this.preferredLeaders.clear();
    for (const [group, placement] of wanted) {
      // The preferred leader is the first replica the partition is heading to that is not draining.
      const goal = goalReplicas(placement);
      this.preferredLeaders.set(group, goal.find((id) => !state.draining.includes(id)) ?? goal[0]!);
    }
    for (const [group, placement] of wanted) {
      if (this.partitions.has(group) || this.groups.hosts(group)) continue;
      let machine: GroupStateMachine;
      if (coordinators.has(group)) machine = this.groups.addMachine(group);
      else {
        const partition = new PartitionMachine(this.store, group);
        this.partitions.set(group, partition);
        machine = partition;
      }
      // Only the initial replicas create the group, all with the same voters; a replica added
      // by a move starts empty and learns membership and state from the leader.
      this.host.addGroup(
        group,
        machine,
        bootstrapsGroup(placement, this.id)
          ? { voters: placement.initialReplicas, campaignIfNew: placement.initialReplicas[0] === this.id }
          : {},
      );
    }
    for (const [group, machine] of this.partitions) {
      if (wanted.has(group)) continue;
      this.partitions.delete(group);
      this.host.removeGroup(group, true);
      machine.wakeReaders();
    }
    for (const group of this.groups.hostedGroups()) {
      if (wanted.has(group)) continue;
      this.groups.removeMachine(group);
      this.host.removeGroup(group, true);
    }
  }

  /** The local replica of a partition (not of the internal groups topic), if hosted here. */
  private localPartition(topic: string, partition: number): PartitionMachine | undefined {
    const p = this.metadata.current.topics[topic]?.partitions[partition];
    return p === undefined ? undefined : this.partitions.get(p.group);
  }

  /** The local partitions whose topics limit retention. */
  private *retentionTargets(): Iterable<RetentionTarget> {
    for (const topic of Object.values(this.metadata.current.topics)) {
      const limits = retentionLimits(topic.configs);
      for (const p of topic.partitions) {
        const machine = this.partitions.get(p.group);
        if (machine) yield { group: p.group, state: machine.state, limits };
      }
    }
  }

  /** Compact the logs that are due (see {@link LogCompaction}). */
  private compactLogs(): void {
    try {
      for (const [group, machine] of this.partitions) this.compaction.partition(group, machine.state);
      this.compaction.wholeState(METADATA_GROUP, () => this.metadata.snapshotData());
      for (const group of this.groups.hostedGroups()) {
        this.compaction.wholeState(group, () => this.groups.snapshotData(group)!);
      }
    } catch (err) {
      // A bug, not a storage failure (compaction only stages writes): keep serving.
      this.log.error({ err }, 'log compaction failed');
    }
  }

  /**
   * Register this broker's addresses, and give a new cluster its id, until the metadata shows
   * them; balance leaders; compact logs.
   */
  private keepHouse(): void {
    if (this.closed) return;
    this.balancer.run(this.preferredLeaders);
    this.compactLogs();
    const meta = this.metadata.current;
    this.elasticity.run();
    const groupState = this.host.groupState(METADATA_GROUP);
    if (!groupState || groupState.leader === 0) return;
    if (meta.clusterId === '' && groupState.role === Role.Leader) {
      this.host.submit(METADATA_GROUP, encodeMetadataCommand({ op: 'init', clusterId: randomUUID() }));
    }
    const mine = meta.brokers[String(this.id)];
    if (!mine || mine.url !== this.clientUrl || mine.peer !== this.peerAddress) {
      this.host.submit(
        METADATA_GROUP,
        encodeMetadataCommand({
          op: 'register_broker',
          broker: { id: this.id, url: this.clientUrl, peer: this.peerAddress },
        }),
      );
    }
  }

  private requireMetadataLeader(): void {
    const s = this.host.groupState(METADATA_GROUP);
    if (s?.role === Role.Leader) return;
    throw notLeader(s?.leader ?? 0, 'the metadata group');
  }

  /** Broker ids of the cluster: the initial brokers and every registered one, less removed ones. */
  private brokerIds(): number[] {
    const meta = this.metadata.current;
    const ids = new Set(this.initialBrokers);
    for (const b of Object.values(meta.brokers)) ids.add(b.id);
    for (const id of meta.removed) ids.delete(id);
    return [...ids].sort((a, b) => a - b);
  }

  /** Eligible for new replicas: not draining. */
  private placementBrokers(): number[] {
    const draining = this.metadata.current.draining;
    return this.brokerIds().filter((id) => !draining.includes(id));
  }

  private isAlive(id: number): boolean {
    if (id === this.id) return !this.host.failed;
    const aliveWithin = ALIVE_ELECTION_TIMEOUTS * this.host.timing.electionTick * this.host.timing.tickMs;
    return Date.now() - this.host.lastHeardFrom(id) < aliveWithin;
  }

  /** Cluster administration: joining, draining, removing brokers; replica moves; rebalancing. */
  get admin(): ClusterAdmin {
    return this.elasticity.admin;
  }

  async createTopic(req: CreateTopicRequest): Promise<TopicDescription> {
    if (req.name === GROUPS_TOPIC) throw new RaftlogError('INVALID_REQUEST', `${GROUPS_TOPIC} is internal`);
    if (!TOPIC_NAME.test(req.name)) {
      throw new RaftlogError('INVALID_REQUEST', 'topic names are 1 to 249 characters of [a-zA-Z0-9._-]');
    }
    if (!Number.isSafeInteger(req.partitions) || req.partitions < 1 || req.partitions > MAX_PARTITIONS) {
      throw new RaftlogError('INVALID_REQUEST', `partitions must be an integer from 1 to ${MAX_PARTITIONS}`);
    }
    const configs = checkTopicConfigs(req.configs ?? {});
    const brokers = this.placementBrokers();
    if (!Number.isSafeInteger(req.replicationFactor) || req.replicationFactor < 1) {
      throw new RaftlogError('INVALID_REQUEST', 'replication_factor must be a positive integer');
    }
    if (req.replicationFactor > brokers.length) {
      throw new RaftlogError(
        'INVALID_REQUEST',
        `replication factor ${req.replicationFactor} is larger than the number of brokers (${brokers.length})`,
      );
    }
    this.requireMetadataLeader();
    if (this.metadata.current.topics[req.name])
      throw new RaftlogError('TOPIC_EXISTS', `topic ${req.name} already exists`);
    const existing = Object.values(this.metadata.current.topics).reduce((n, t) => n + t.partitions.length, 0);
    const result = await this.host.propose(
      METADATA_GROUP,
      encodeMetadataCommand({
        op: 'create_topic',
        name: req.name,
        replicationFactor: req.replicationFactor,
        configs,
        replicas: placeReplicas(brokers, req.partitions, req.replicationFactor, existing),
      }),
    );
    if (result instanceof RaftlogError) throw result;
    return this.describe(result as TopicRecord);
  }

  async deleteTopic(name: string): Promise<void> {
    if (name === GROUPS_TOPIC) throw new RaftlogError('INVALID_REQUEST', `${GROUPS_TOPIC} is internal`);
    await this.freshTopic(name);
    this.requireMetadataLeader();
    const result = await this.host.propose(
      METADATA_GROUP,
      encodeMetadataCommand({ op: 'delete_topic', name }),
    );
    if (result instanceof RaftlogError) throw result;
  }

  async listTopics(): Promise<TopicSummary[]> {
    await this.catchUpMetadata();
    return Object.values(this.metadata.current.topics)
      .filter((t) => t.name !== GROUPS_TOPIC)
      .map((t) => ({ name: t.name, partitions: t.partitions.length, replicationFactor: t.replicationFactor }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Linearizable for each partition it names a leader of: a ReadIndex round on every partition
   * hosted here confirms its leader and applies what it committed, so the high watermark counts
   * every record acknowledged before the call, whichever broker answers (a follower otherwise
   * learns a commit index a heartbeat later). A partition whose round fails or takes longer than
   * two election timeouts (a leader lost and not yet replaced) is described with leader null and
   * this replica's own view.
   */
  async describeTopic(name: string): Promise<TopicDescription> {
    const t = await this.freshTopic(name, true);
    const waitMs = 2 * this.host.timing.electionTick * this.host.timing.tickMs;
    const confirmed = new Set<number>();
    await Promise.all(
      t.partitions.map(async ({ group }) => {
        if (this.host.groupState(group) === undefined) return; // not hosted here
        if (await settlesWithin(this.host.readIndex(group), waitMs)) confirmed.add(group);
      }),
    );
    return this.describe(t, confirmed);
  }

  async partitionCount(topic: string): Promise<number> {
    return (await this.freshTopic(topic)).partitions.length;
  }

  /**
   * Apply every metadata change committed before now (a ReadIndex round on the metadata group,
   * through its leader), so that a topic created or deleted through another broker is seen here.
   * Without a metadata leader the local view is all there is.
   */
  private async catchUpMetadata(): Promise<void> {
    await this.host.readIndex(METADATA_GROUP).catch(() => undefined);
  }

  /**
   * The topic, after catching up with the metadata when this broker does not know it (or always,
   * with `catchUp`). Only metadata known to be current may say a topic does not exist: when the
   * read index cannot be had (no metadata leader, a leader change, a broker that just joined and
   * has no metadata yet), a topic unknown here is "not now" (NO_LEADER), not TOPIC_NOT_FOUND.
   */
  private async freshTopic(name: string, catchUp = false): Promise<TopicRecord> {
    if (!catchUp && this.metadata.current.topics[name]) return this.topic(name);
    try {
      await this.host.readIndex(METADATA_GROUP);
    } catch (err) {
      if (this.metadata.current.topics[name]) return this.topic(name);
      throw new RaftlogError('NO_LEADER', `broker ${this.id} cannot confirm the cluster metadata right now`, {
        cause: err,
      });
    }
    return this.topic(name);
  }

  private topic(name: string): TopicRecord {
    const t = this.metadata.current.topics[name];
    if (!t) throw new RaftlogError('TOPIC_NOT_FOUND', `topic ${name} does not exist`);
    return t;
  }

  private async placement(topic: string, partition: number): Promise<PartitionPlacement> {
    const t = await this.freshTopic(topic);
    const p = Number.isSafeInteger(partition) ? t.partitions[partition] : undefined;
    if (!p) throw new RaftlogError('PARTITION_NOT_FOUND', `topic ${topic} has no partition ${partition}`);
    return p;
  }

  /** `t` as this broker sees it; with `confirmed`, only the groups in it are said to have a leader. */
  private describe(t: TopicRecord, confirmed?: ReadonlySet<number>): TopicDescription {
    return {
      name: t.name,
      replicationFactor: t.replicationFactor,
      configs: t.configs,
      partitions: t.partitions.map((p): PartitionDescription => {
        const s = this.host.groupState(p.group);
        const machine = this.partitions.get(p.group);
        const led = s !== undefined && s.leader !== 0 && (confirmed === undefined || confirmed.has(p.group));
        return {
          partition: p.partition,
          leader: led ? s.leader : null,
          replicas: p.replicas,
          term: s?.term ?? 0,
          highWatermark: machine?.state.highWatermark ?? 0,
          logStartOffset: machine?.state.logStartOffset ?? 0,
        };
      }),
    };
  }

  // ---- produce and fetch -------------------------------------------------------------------

  /** The local replica of a partition, which must be its leader. */
  private async leaderReplica(
    topic: string,
    partition: number,
  ): Promise<{ group: number; machine: PartitionMachine }> {
    if (topic === GROUPS_TOPIC) throw new RaftlogError('INVALID_REQUEST', `${GROUPS_TOPIC} is internal`);
    const p = await this.placement(topic, partition);
    const machine = this.partitions.get(p.group);
    const s = this.host.groupState(p.group);
    // Not hosted here: the preferred leader is the best guess to forward to.
    if (!machine || !s) throw notLeader(p.replicas[0]!, `${topic}/${partition}`);
    if (s.role !== Role.Leader) throw notLeader(s.leader, `${topic}/${partition}`);
    return { group: p.group, machine };
  }

  async produce(
    topic: string,
    partition: number,
    records: readonly ProduceRecord[],
    producer?: ProducerTag,
  ): Promise<ProduceResult> {
    if (records.length === 0)
      throw new RaftlogError('INVALID_REQUEST', 'a produce request needs at least one record');
    const { group } = await this.leaderReplica(topic, partition);
    const data = encodeRecordBatch({ records, timestamp: Date.now(), ...(producer ? { producer } : {}) });
    if (data.byteLength > this.maxEntryBytes) {
      throw new RaftlogError(
        'RECORD_TOO_LARGE',
        `the records take ${data.byteLength} bytes; at most ${this.maxEntryBytes}`,
      );
    }
    const result = (await this.host.propose(group, data)) as ApplyResult;
    switch (result.outcome) {
      case 'appended':
        return { partition, baseOffset: result.baseOffset, lastOffset: result.lastOffset };
      case 'duplicate':
        return { partition, baseOffset: result.baseOffset, lastOffset: result.lastOffset, duplicate: true };
      case 'rejected':
        throw rejectionError(result);
      default:
        throw new RaftlogError('INVALID_REQUEST', 'the entry took no offsets');
    }
  }

  async fetch(topic: string, partition: number, req: FetchRequest): Promise<FetchResult> {
    const { slices, nextOffset, highWatermark, logStartOffset } = await this.fetchBatches(
      topic,
      partition,
      req,
    );
    return { records: recordsOfSlices(slices), nextOffset, highWatermark, logStartOffset };
  }

  async fetchBatches(topic: string, partition: number, req: FetchRequest): Promise<FetchedBatches> {
    const { group, machine } = await this.leaderReplica(topic, partition);
    const maxRecords = req.maxRecords ?? DEFAULT_MAX_RECORDS;
    const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES;
    const deadline = Date.now() + (req.timeoutMs ?? 0);
    const minRecords = Math.min(req.minRecords ?? 1, maxRecords);
    // Linearizable: confirm leadership with a quorum and apply everything committed before. The
    // records applied here already are committed and never change, so they are read while that
    // round is under way (or were read ahead after the previous fetch). The round decides whether
    // to answer at all, and what is taken after it: whether the offset is in range, where the
    // answer ends (a read that stopped short of its limits is done again if more was applied
    // meanwhile) and the high watermark it reports.
    const round = this.host.readIndex(group);
    const readKey = `${req.offset}/${maxRecords}/${maxBytes}`;
    let early = this.readAhead.take(group, machine, readKey);
    if (
      early === undefined &&
      req.offset >= machine.state.logStartOffset &&
      req.offset < machine.state.highWatermark
    ) {
      early = this.readSlices(group, machine, req.offset, maxRecords, maxBytes);
      early.catch(() => undefined); // met again below, unless the round failed
    }
    await round;
    for (;;) {
      const state = machine.state;
      const hw = state.highWatermark;
      const start = state.logStartOffset;
      if (req.offset < start || req.offset > hw) {
        throw new RaftlogError('OFFSET_OUT_OF_RANGE', `offset ${req.offset} is outside [${start}, ${hw}]`, {
          details: { log_start_offset: start, high_watermark: hw },
        });
      }
      const wait = deadline - Date.now();
      if (hw - req.offset >= minRecords || wait <= 0 || req.signal?.aborted || !this.partitions.has(group)) {
        const before = early;
        early = undefined;
        let read: SlicedRead;
        try {
          read = await (before ?? this.readSlices(group, machine, req.offset, maxRecords, maxBytes));
          // Read before the round up to an applied index the log has moved past, short of the
          // limits: read again, so that the answer holds all it would had it been read after.
          if (before && !read.full && read.applied < machine.state.appliedIndex)
            read = await this.readSlices(group, machine, req.offset, maxRecords, maxBytes);
        } catch (err) {
          // Retention moved the log start past `offset` while reading: answer with the new one.
          if (isErrorCode(err, 'LOG_COMPACTED') && req.offset < machine.state.logStartOffset) continue;
          throw err;
        }
        const nextOffset = req.offset + read.records;
        if (read.full && nextOffset < machine.state.highWatermark) {
          // Stopped at a limit: the reader is likely to ask for what follows next.
          this.readAhead.start(group, machine, `${nextOffset}/${maxRecords}/${maxBytes}`, maxBytes, () =>
            this.readSlices(group, machine, nextOffset, maxRecords, maxBytes),
          );
        }
        return {
          slices: read.slices,
          recordCount: read.records,
          nextOffset,
          highWatermark: machine.state.highWatermark,
          logStartOffset: machine.state.logStartOffset,
        };
      }
      await machine.waitForAppend(wait, req.signal);
    }
  }

  /**
   * Committed records from `offset`, left in their stored batches: at most `maxRecords`, about
   * `maxBytes` of keys and values (at least one record).
   */
  private async readSlices(
    group: number,
    machine: PartitionMachine,
    offset: number,
    maxRecords: number,
    maxBytes: number,
  ): Promise<SlicedRead> {
    const state = machine.state;
    const slices: BatchSlice[] = [];
    const applied = state.appliedIndex;
    let records = 0;
    const first = state.locate(offset);
    if (!first) return { slices, records, full: false, applied };
    let bytes = 0;
    let index = first.index;
    while (index <= applied) {
      // From the tail cache when the entries are still there, from disk otherwise (catch-up).
      const entries = await this.store.readEntries(group, index, applied + 1, maxBytes);
      if (entries.length === 0) break;
      for (const e of entries) {
        index = e.index + 1;
        const loc = state.entryAt(e.index);
        if (!loc) continue;
        const batch = new RecordBatchReader(e.data);
        const from = Math.max(0, offset - loc.baseOffset);
        batch.skipTo(from);
        let to = from;
        let full = false;
        while (to < loc.count && batch.next()) {
          const size = batch.valueEnd - batch.valueStart + (batch.keyEnd - batch.keyStart);
          if (records > 0 && (bytes + size > maxBytes || records >= maxRecords)) {
            full = true;
            break;
          }
          bytes += size;
          records++;
          to++;
        }
        if (to > from) slices.push({ data: e.data, baseOffset: loc.baseOffset, from, to });
        if (full || bytes >= maxBytes || records >= maxRecords)
          return { slices, records, full: true, applied };
      }
    }
    return { slices, records, full: false, applied };
  }

  // ---- cluster -------------------------------------------------------------------------------

  cluster(): ClusterDescription {
    const meta = this.metadata.current;
    const nodes = this.brokerIds().map((id) => ({
      id,
      url: meta.brokers[String(id)]?.url ?? '',
      alive: this.isAlive(id),
    }));
    const leader = this.host.groupState(METADATA_GROUP)?.leader ?? 0;
    return { clusterId: meta.clusterId, nodes, metadataLeader: leader === 0 ? null : leader };
  }

  partitionStatus(): PartitionStatus[] {
    const out: PartitionStatus[] = [];
    for (const topic of Object.values(this.metadata.current.topics)) {
      for (const p of topic.partitions) {
        const machine = this.partitions.get(p.group);
        const status = this.host.status(p.group);
        if (!machine || !status) continue;
        let replicaLag: Record<string, number> | undefined;
        if (status.progress) {
          replicaLag = {};
          for (const [id, pr] of status.progress)
            replicaLag[String(id)] = Math.max(0, status.lastIndex - pr.match);
        }
        out.push({
          topic: topic.name,
          partition: p.partition,
          leader: status.leader === 0 ? null : status.leader,
          term: status.hardState.term,
          commitIndex: status.hardState.commit,
          highWatermark: machine.state.highWatermark,
          ...(replicaLag ? { replicaLag } : {}),
        });
      }
    }
    return out;
  }

  isReady(): boolean {
    if (this.host.failed) return false;
    for (const group of [METADATA_GROUP, ...this.partitions.keys(), ...this.groups.hostedGroups()]) {
      if ((this.host.groupState(group)?.leader ?? 0) === 0) return false;
    }
    return true;
  }

  /**
   * Resolves once every group hosted here has a leader (see {@link isReady}); rejects with
   * NO_LEADER after `timeoutMs`.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        reject(
          new RaftlogError('NO_LEADER', `broker ${this.id}: no leader for every group after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.readyWaiters.push(done);
    });
  }

  brokerUrl(id: number): string | undefined {
    const url = this.metadata.current.brokers[String(id)]?.url;
    return url ? url : undefined;
  }

  /** Stop serving: the host, the transport and the store are closed, in that order. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.housekeeping);
    clearInterval(this.retentionTimer);
    this.readAhead.clear();
    this.groups.close();
    for (const machine of this.partitions.values()) machine.wakeReaders();
    await this.host.close();
    await this.transport.close();
    await this.store.close();
  }
}

/** What one read of a partition found: its records' slices, and how many records they hold. */
interface SlicedRead {
  readonly slices: BatchSlice[];
  readonly records: number;
  /** True when it stopped at its byte or record limit, not at the end of the log. */
  readonly full: boolean;
  /** The applied index it read up to (at most). */
  readonly applied: number;
}

function notLeader(leader: number, what: string): RaftlogError {
  if (leader === 0) return new RaftlogError('NO_LEADER', `${what} has no leader right now`);
  return new RaftlogError('NOT_LEADER', `this broker is not the leader of ${what}`, { details: { leader } });
}

/** Whether `p` resolves within `ms` (false when it rejects, or is still pending then). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(
      () => resolve(true),
      () => resolve(false),
    ).finally(() => clearTimeout(timer));
  });
}
