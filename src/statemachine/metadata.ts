import { Packr } from 'msgpackr';
import { RaftlogError } from '../errors.js';
import { type GroupStateMachine, isBootstrapSnapshot } from '../partition/host.js';
import { type Entry, EntryType, type Snapshot } from '../raft/types.js';
import type { LogStore } from '../storage/log-store.js';
import {
  applyCancelMove,
  applyCompleteMove,
  applyStartMove,
  type PartitionPlacement,
  withInitialReplicas,
} from './placement.js';

export type { PartitionMove, PartitionPlacement } from './placement.js';

/** The Raft group holding cluster metadata. */
export const METADATA_GROUP = 0;

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface BrokerRecord {
  readonly id: number;
  /** Client (HTTP) URL, e.g. http://127.0.0.1:7001. */
  readonly url: string;
  /** Peer (Raft transport) address, host:port. */
  readonly peer: string;
}

export type TopicConfigs = Readonly<Record<string, string | number | boolean>>;

export interface TopicRecord {
  readonly name: string;
  readonly replicationFactor: number;
  readonly configs: TopicConfigs;
  readonly partitions: readonly PartitionPlacement[];
}

/** The whole metadata state: small, so it is persisted and snapshotted as one value. */
export interface MetadataState {
  readonly clusterId: string;
  readonly brokers: Readonly<Record<string, BrokerRecord>>;
  readonly topics: Readonly<Record<string, TopicRecord>>;
  /** Next Raft group id to hand out (0 is the metadata group itself). */
  readonly nextGroup: number;
  /** Brokers being drained: no new replicas go there, and their replicas move away. */
  readonly draining: readonly number[];
  /** Brokers removed from the cluster: never registered again, never given replicas. */
  readonly removed: readonly number[];
}

/** Commands carried by metadata entries. Placement is chosen by the proposer; apply only checks. */
export type MetadataCommand =
  | { readonly op: 'init'; readonly clusterId: string }
  | { readonly op: 'register_broker'; readonly broker: BrokerRecord }
  | {
      readonly op: 'create_topic';
      readonly name: string;
      readonly replicationFactor: number;
      readonly configs: TopicConfigs;
      readonly replicas: readonly (readonly number[])[];
    }
  | { readonly op: 'delete_topic'; readonly name: string }
  /** Begin moving a partition's replicas to `target` (refused while another move runs). */
  | { readonly op: 'start_move'; readonly group: number; readonly target: readonly number[] }
  /** The group's Raft membership now equals `target`: make it the placement. */
  | { readonly op: 'complete_move'; readonly group: number; readonly target: readonly number[] }
  /** Move back to the replicas the move started from. */
  | { readonly op: 'cancel_move'; readonly group: number }
  | { readonly op: 'drain_broker'; readonly id: number }
  | { readonly op: 'remove_broker'; readonly id: number };

export const EMPTY_METADATA: MetadataState = {
  clusterId: '',
  brokers: {},
  topics: {},
  nextGroup: 1,
  draining: [],
  removed: [],
};

export function encodeMetadataCommand(cmd: MetadataCommand): Uint8Array {
  return packr.pack(cmd);
}

const STATE_KEY = 'metadata';

/**
 * The metadata group's state machine: broker registry, topics and partition placement. Every
 * broker applies the same entries; `onChange` lets the broker create or drop its local partition
 * groups to match.
 */
export class MetadataStateMachine implements GroupStateMachine {
  private state: MetadataState;
  readonly durableApplied: number;

  constructor(
    private readonly store: LogStore,
    private readonly onChange: (state: MetadataState) => void,
  ) {
    const saved = store.getMeta(METADATA_GROUP, STATE_KEY);
    const { applied, state } = saved ? decodeSaved(saved) : { applied: 0, state: EMPTY_METADATA };
    this.state = state;
    this.durableApplied = applied;
  }

  get current(): MetadataState {
    return this.state;
  }

  apply(entry: Entry): unknown {
    let result: unknown;
    const before = this.state;
    if (entry.type === EntryType.Normal && entry.data.byteLength > 0) {
      try {
        result = this.execute(packr.unpack(entry.data) as MetadataCommand);
      } catch {
        result = new RaftlogError('INVALID_REQUEST', 'undecodable metadata command');
      }
    }
    // The state is small: persist it with its index on every entry, so a restart resumes here.
    this.save(entry.index);
    if (this.state !== before) this.onChange(this.state);
    return result;
  }

  restore(snapshot: Snapshot): void {
    this.state = isBootstrapSnapshot(snapshot) ? EMPTY_METADATA : decodeState(snapshot.data);
    this.save(snapshot.meta.index);
    this.onChange(this.state);
  }

  private save(applied: number): void {
    this.store.putMeta(METADATA_GROUP, STATE_KEY, packr.pack({ applied, state: this.state }));
  }

  /** Bytes of the current state, for a snapshot of the metadata group. */
  snapshotData(): Uint8Array {
    return packr.pack(this.state);
  }

  /** Apply one command; a refusal is returned (not thrown) so every replica refuses alike. */
  private execute(cmd: MetadataCommand): unknown {
    const s = this.state;
    switch (cmd.op) {
      case 'init':
        if (s.clusterId === '') this.state = { ...s, clusterId: cmd.clusterId };
        return this.state.clusterId;
      case 'register_broker':
        if (s.removed.includes(cmd.broker.id)) {
          return new RaftlogError('BROKER_NOT_FOUND', `broker ${cmd.broker.id} was removed from the cluster`);
        }
        this.state = { ...s, brokers: { ...s.brokers, [String(cmd.broker.id)]: cmd.broker } };
        return undefined;
      case 'create_topic': {
        if (s.topics[cmd.name]) return new RaftlogError('TOPIC_EXISTS', `topic ${cmd.name} already exists`);
        const partitions = cmd.replicas.map(
          (replicas, partition): PartitionPlacement => ({
            partition,
            group: s.nextGroup + partition,
            replicas: [...replicas],
            initialReplicas: [...replicas],
          }),
        );
        const topic: TopicRecord = {
          name: cmd.name,
          replicationFactor: cmd.replicationFactor,
          configs: cmd.configs,
          partitions,
        };
        this.state = {
          ...s,
          topics: { ...s.topics, [cmd.name]: topic },
          nextGroup: s.nextGroup + partitions.length,
        };
        return topic;
      }
      case 'delete_topic': {
        if (!s.topics[cmd.name])
          return new RaftlogError('TOPIC_NOT_FOUND', `topic ${cmd.name} does not exist`);
        const topics = { ...s.topics };
        delete topics[cmd.name];
        this.state = { ...s, topics };
        return undefined;
      }
      case 'start_move':
      case 'complete_move':
      case 'cancel_move':
        return this.changePlacement(cmd);
      case 'drain_broker': {
        if (!this.isMember(cmd.id)) return brokerNotFound(cmd.id);
        if (!s.draining.includes(cmd.id)) this.state = { ...s, draining: [...s.draining, cmd.id] };
        return undefined;
      }
      case 'remove_broker': {
        if (!this.isMember(cmd.id)) return brokerNotFound(cmd.id);
        const holding = placementsOn(s, cmd.id);
        if (holding.length > 0) {
          return new RaftlogError(
            'BROKER_NOT_EMPTY',
            `broker ${cmd.id} still holds ${holding.length} replica(s); drain it first`,
            { details: { replicas: holding.length } },
          );
        }
        const brokers = { ...s.brokers };
        delete brokers[String(cmd.id)];
        this.state = {
          ...s,
          brokers,
          draining: s.draining.filter((id) => id !== cmd.id),
          removed: [...s.removed, cmd.id],
        };
        return undefined;
      }
      default:
        return new RaftlogError('INVALID_REQUEST', 'unknown metadata command');
    }
  }

  private isMember(id: number): boolean {
    return this.state.brokers[String(id)] !== undefined;
  }

  /** A move command: the partition's placement is replaced as a whole. */
  private changePlacement(
    cmd: Extract<MetadataCommand, { op: 'start_move' | 'complete_move' | 'cancel_move' }>,
  ): unknown {
    const s = this.state;
    const found = findPlacement(s, cmd.group);
    if (!found) return new RaftlogError('PARTITION_NOT_FOUND', `no partition has Raft group ${cmd.group}`);
    let next: PartitionPlacement | RaftlogError;
    if (cmd.op === 'start_move') {
      const unknown = cmd.target.find((id) => !this.isMember(id));
      next = unknown === undefined ? applyStartMove(found.placement, cmd.target) : brokerNotFound(unknown);
    } else if (cmd.op === 'complete_move') next = applyCompleteMove(found.placement, cmd.target);
    else next = applyCancelMove(found.placement);
    if (next instanceof RaftlogError) return next;
    if (next === found.placement) return next;
    const partitions = found.topic.partitions.map((p) => (p.group === cmd.group ? next : p));
    this.state = { ...s, topics: { ...s.topics, [found.topic.name]: { ...found.topic, partitions } } };
    return next;
  }
}

function brokerNotFound(id: number): RaftlogError {
  return new RaftlogError('BROKER_NOT_FOUND', `broker ${id} is not registered in the cluster`);
}

/** The placement of Raft group `group`, with its topic. */
export function findPlacement(
  s: MetadataState,
  group: number,
): { topic: TopicRecord; placement: PartitionPlacement } | undefined {
  for (const topic of Object.values(s.topics)) {
    const placement = topic.partitions.find((p) => p.group === group);
    if (placement) return { topic, placement };
  }
  return undefined;
}

/** Every placement that has (or may have, during a move) a replica on broker `id`. */
export function placementsOn(s: MetadataState, id: number): PartitionPlacement[] {
  return Object.values(s.topics).flatMap((t) =>
    t.partitions.filter((p) => p.replicas.includes(id) || (p.move?.involved.includes(id) ?? false)),
  );
}

function decodeSaved(bytes: Uint8Array): { applied: number; state: MetadataState } {
  const saved = packr.unpack(bytes) as { applied: number; state: MetadataState };
  if (typeof saved !== 'object' || saved === null || !Number.isSafeInteger(saved.applied)) {
    throw new RaftlogError('STORAGE_CORRUPT', 'metadata state is unreadable');
  }
  return { applied: saved.applied, state: checkState(saved.state) };
}

function decodeState(bytes: Uint8Array): MetadataState {
  return checkState(packr.unpack(bytes) as MetadataState);
}

function checkState(s: MetadataState): MetadataState {
  if (typeof s !== 'object' || s === null || typeof s.nextGroup !== 'number') {
    throw new RaftlogError('STORAGE_CORRUPT', 'metadata state is unreadable');
  }
  // States written before brokers could be drained or partitions moved lack these fields.
  const topics: Record<string, TopicRecord> = {};
  for (const [name, t] of Object.entries(s.topics ?? {}))
    topics[name] = { ...t, partitions: t.partitions.map(withInitialReplicas) };
  return { ...s, topics, draining: s.draining ?? [], removed: s.removed ?? [] };
}

/**
 * Spread `partitions` × `replicationFactor` replicas over `brokers` evenly: partition p's replicas
 * are consecutive brokers starting at an offset that rotates with p (and with the number of
 * existing partitions), so replicas and preferred leaders (the first replica) are balanced.
 */
export function placeReplicas(
  brokers: readonly number[],
  partitions: number,
  replicationFactor: number,
  start: number,
): number[][] {
  const sorted = [...brokers].sort((a, b) => a - b);
  const n = sorted.length;
  return Array.from({ length: partitions }, (_, p) =>
    Array.from({ length: replicationFactor }, (_, r) => sorted[(start + p + r) % n]!),
  );
}
