/**
 * What a broker offers to its front ends (the HTTP API, the embedding API). Every method validates
 * nothing about HTTP: front ends validate their own input and map errors; the broker throws
 * `RaftlogError`s with stable codes (`src/errors.ts`).
 *
 * Leadership: `produce`, `fetch`, `createTopic` and `deleteTopic` are served by the leader of the
 * Raft group involved (a partition's group, or the metadata group). On another broker they throw
 * `NOT_LEADER` with `details.leader` = the leader's broker id when one is known (`NO_LEADER`
 * otherwise); the front end may forward the request to `brokerUrl(leader)`.
 */

import type { ClusterAdminApi } from './admin-api.js';
import type { GroupApi } from './groups-api.js';

/** One record to append. Keys and values are bytes; headers are ordered (name, bytes) pairs. */
export interface ProduceRecord {
  readonly key?: Uint8Array;
  readonly value: Uint8Array;
  readonly headers?: ReadonlyArray<readonly [string, Uint8Array]>;
}

/** Kafka-style idempotent producer tag (see issue 5's contract). */
export interface ProducerTag {
  readonly id: string;
  readonly epoch: number;
  readonly sequence: number;
}

export interface ProduceResult {
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** True when this (producer, epoch, sequence) was already written: the original offsets. */
  readonly duplicate?: boolean;
}

export interface FetchedRecord {
  readonly offset: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
  readonly headers: ReadonlyArray<readonly [string, Uint8Array]>;
  /** Milliseconds since the epoch, set by the leader that accepted the batch. */
  readonly timestamp: number;
}

export interface FetchRequest {
  readonly offset: number;
  /** Default 500. */
  readonly maxRecords?: number;
  /** Default 1 MiB; at least one record is returned when one is available. */
  readonly maxBytes?: number;
  /** Long poll: wait up to this long for a record at `offset` when it is the high watermark. */
  readonly timeoutMs?: number;
  /**
   * With `timeoutMs`: wait until at least this many records (default 1, at most `maxRecords`)
   * follow `offset`, or the timeout, whichever comes first (Kafka's `fetch.min.bytes`, in
   * records). A tailing reader fetches fewer times, each taking more records.
   */
  readonly minRecords?: number;
  /** Ends a long poll early (its client went away): the fetch answers with what it has. */
  readonly signal?: AbortSignal;
}

export interface FetchResult {
  readonly records: readonly FetchedRecord[];
  readonly nextOffset: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

/**
 * Records `from` to `to - 1` (positions in the batch) of one stored record batch: `data` as
 * `encodeRecordBatch` wrote it (read it with `RecordBatchReader`), its first record at `baseOffset`.
 */
export interface BatchSlice {
  readonly data: Uint8Array;
  readonly baseOffset: number;
  readonly from: number;
  readonly to: number;
}

/** A fetch's records left in the stored batches they lie in, in offset order. */
export interface FetchedBatches {
  readonly slices: readonly BatchSlice[];
  /** Number of records in all slices. */
  readonly recordCount: number;
  readonly nextOffset: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export interface TopicSummary {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
}

export interface PartitionDescription {
  readonly partition: number;
  /** Broker id of the leader, or null while there is none. */
  readonly leader: number | null;
  readonly replicas: readonly number[];
  readonly term: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export interface TopicDescription {
  readonly name: string;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string | number | boolean>>;
  readonly partitions: readonly PartitionDescription[];
}

export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string | number | boolean>>;
}

export interface ClusterNode {
  readonly id: number;
  readonly url: string;
  readonly alive: boolean;
}

export interface ClusterDescription {
  readonly clusterId: string;
  readonly nodes: readonly ClusterNode[];
  readonly metadataLeader: number | null;
}

/** Per-partition replication state for `raftlog status` and `/metrics`. */
export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  readonly leader: number | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly highWatermark: number;
  /** On the leader: how many entries each replica is behind (broker id → entries). */
  readonly replicaLag?: Readonly<Record<string, number>>;
}

export interface BrokerApi {
  readonly id: number;
  createTopic(req: CreateTopicRequest): Promise<TopicDescription>;
  listTopics(): Promise<TopicSummary[]>;
  describeTopic(name: string): Promise<TopicDescription>;
  deleteTopic(name: string): Promise<void>;
  /** Number of partitions of a topic (for routing keyed records); TOPIC_NOT_FOUND if none. */
  partitionCount(topic: string): Promise<number>;
  /** Append records to one partition as ONE Raft entry: all or nothing. */
  produce(
    topic: string,
    partition: number,
    records: readonly ProduceRecord[],
    producer?: ProducerTag,
  ): Promise<ProduceResult>;
  /** Read committed records (linearizable: served by the leader after a ReadIndex round). */
  fetch(topic: string, partition: number, req: FetchRequest): Promise<FetchResult>;
  /**
   * The same read as {@link fetch}, its records left in their stored batches: for front ends that
   * copy the records' bytes into their answers without decoding them (the HTTP API).
   */
  fetchBatches(topic: string, partition: number, req: FetchRequest): Promise<FetchedBatches>;
  cluster(): ClusterDescription;
  /** Replication state of the partitions this broker hosts. */
  partitionStatus(): PartitionStatus[];
  /** Ready when every partition hosted here has a known leader. */
  isReady(): boolean;
  /** Client URL of a broker, for forwarding; undefined if unknown. */
  brokerUrl(id: number): string | undefined;
  /** Consumer groups (issue 8); absent on brokers that do not coordinate groups. */
  readonly groups?: GroupApi;
  /** Cluster administration (issue 9): brokers joining and draining, replica moves. */
  readonly admin?: ClusterAdminApi;
}
