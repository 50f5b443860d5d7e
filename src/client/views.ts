import type {
  ClusterDescription,
  FetchedRecord,
  FetchResult,
  PartitionDescription,
  PartitionStatus,
  ProduceResult,
  TopicDescription,
  TopicSummary,
} from '../broker/api.js';

/**
 * The contract's snake_case answers (issue 5) as the camelCase types the embedding API uses
 * (`src/broker/api.ts`), so code written against either reads the same. Answers come from a
 * broker and are trusted: these only rename fields.
 */

// biome-ignore lint/suspicious/noExplicitAny: wire bodies are read field by field.
type Wire = any;

function partitionFromWire(p: Wire): PartitionDescription {
  return {
    partition: p.partition,
    leader: p.leader ?? null,
    replicas: p.replicas,
    term: p.term,
    highWatermark: p.high_watermark,
    logStartOffset: p.log_start_offset,
  };
}

/** `GET /v1/topics/{topic}` and `POST /v1/topics`. */
export function topicFromWire(t: Wire): TopicDescription {
  return {
    name: t.name,
    replicationFactor: t.replication_factor,
    configs: t.configs ?? {},
    partitions: (t.partitions as Wire[]).map(partitionFromWire),
  };
}

/** `GET /v1/topics`. */
export function topicListFromWire(body: Wire): TopicSummary[] {
  return (body.topics as Wire[]).map((t) => ({
    name: t.name,
    partitions: t.partitions,
    replicationFactor: t.replication_factor,
  }));
}

/** `GET /v1/cluster`. */
export function clusterFromWire(c: Wire): ClusterDescription {
  return {
    clusterId: c.cluster_id,
    nodes: (c.nodes as Wire[]).map((n) => ({ id: n.id, url: n.url, alive: n.alive })),
    metadataLeader: c.metadata_leader ?? null,
  };
}

/** `POST /v1/topics/{topic}/partitions/{p}/records`. */
/** `GET /v1/status` of one broker. */
export function statusFromWire(body: Wire): PartitionStatus[] {
  return (body.partitions as Wire[]).map((p) => ({
    topic: p.topic,
    partition: p.partition,
    leader: p.leader,
    term: p.term,
    commitIndex: p.commit_index,
    highWatermark: p.high_watermark,
    ...(p.replica_lag ? { replicaLag: p.replica_lag } : {}),
  }));
}

export function produceResultFromWire(r: Wire): ProduceResult {
  return {
    partition: r.partition,
    baseOffset: r.base_offset,
    lastOffset: r.last_offset,
    ...(r.duplicate === true ? { duplicate: true } : {}),
  };
}

/** `GET /v1/topics/{topic}/partitions/{p}/records`, asked for in msgpack (raw bytes). */
export function fetchResultFromWire(r: Wire): FetchResult {
  return {
    records: (r.records as Wire[]).map(
      (rec): FetchedRecord => ({
        offset: rec.offset,
        key: rec.key ?? null,
        value: rec.value,
        headers: (rec.headers as Wire[]).map((h) => [h.name, h.value] as const),
        timestamp: rec.timestamp,
      }),
    ),
    nextOffset: r.next_offset,
    highWatermark: r.high_watermark,
    logStartOffset: r.log_start_offset,
  };
}
