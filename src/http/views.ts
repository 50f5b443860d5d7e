import type {
  ClusterDescription,
  PartitionDescription,
  PartitionStatus,
  ProduceResult,
  TopicDescription,
  TopicSummary,
} from '../broker/api.js';

/** The broker's answers as the contract's snake_case bodies. */

function partitionView(p: PartitionDescription) {
  return {
    partition: p.partition,
    leader: p.leader,
    replicas: p.replicas,
    term: p.term,
    high_watermark: p.highWatermark,
    log_start_offset: p.logStartOffset,
  };
}

/** `GET /v1/topics/{topic}` and `POST /v1/topics`. */
export function topicView(t: TopicDescription) {
  return {
    name: t.name,
    replication_factor: t.replicationFactor,
    configs: t.configs,
    partitions: t.partitions.map(partitionView),
  };
}

/** `GET /v1/topics`. */
export function topicListView(topics: readonly TopicSummary[]) {
  return {
    topics: topics.map((t) => ({
      name: t.name,
      partitions: t.partitions,
      replication_factor: t.replicationFactor,
    })),
  };
}

/** `GET /v1/cluster`. */
export function clusterView(c: ClusterDescription) {
  return {
    cluster_id: c.clusterId,
    nodes: c.nodes.map((n) => ({ id: n.id, url: n.url, alive: n.alive })),
    metadata_leader: c.metadataLeader,
  };
}

/** `GET /v1/status`: replication state of the partitions the answering broker hosts. */
export function statusView(partitions: readonly PartitionStatus[]) {
  return {
    partitions: partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      leader: p.leader,
      term: p.term,
      commit_index: p.commitIndex,
      high_watermark: p.highWatermark,
      ...(p.replicaLag ? { replica_lag: p.replicaLag } : {}),
    })),
  };
}

/** `POST /v1/topics/{topic}/partitions/{p}/records`. */
export function produceResultView(r: ProduceResult) {
  return {
    partition: r.partition,
    base_offset: r.baseOffset,
    last_offset: r.lastOffset,
    ...(r.duplicate === true ? { duplicate: true } : {}),
  };
}
