import type { IncomingHttpHeaders } from 'node:http';
import type { BrokerApi, ProduceRecord } from '../broker/api.js';
import { RaftlogError } from '../errors.js';
import { DefaultPartitioner } from '../statemachine/partitioner.js';
import { buildAdminRoutes, moveView } from './admin-routes.js';
import type { BufferPool } from './buffer-pool.js';
import { checkEncoding } from './byte-strings.js';
import { type BrokerUrlLookup, replyForError } from './error-response.js';
import { fetchBody } from './fetch-body.js';
import { FORWARDED_HEADER, type Forwarder } from './forwarder.js';
import { forwardTarget } from './forwarding.js';
import { buildGroupRoutes } from './group-routes.js';
import { CONTENT_TYPES, MSGPACK_TYPE, type ParsedBody, serialize, type WireFormat } from './media.js';
import type { HttpMetrics, Operation } from './metrics.js';
import { parseProduceBody } from './produce-body.js';
import {
  type BatchOutcome,
  groupByPartition,
  offsetsInRequestOrder,
  type PartitionBatch,
} from './produce-routing.js';
import { relayedBatchOutcome } from './relayed-outcome.js';
import {
  checkCount,
  checkObject,
  checkQuery,
  checkText,
  checkTopicName,
  invalid,
  MAX_INT32,
  parseCount,
} from './validate.js';
import { clusterView, produceResultView, statusView, topicListView, topicView } from './views.js';

/**
 * The routes of issue 5's contract, as data: method, path, operation (the metrics label) and a
 * handler that returns what to answer. The server sends answers in the negotiated format, turns
 * thrown errors into error bodies and forwards NOT_LEADER requests (see `server.ts`).
 */

/** Longest long poll a fetch may ask for (`timeout_ms`). */
export const MAX_FETCH_TIMEOUT_MS = 60_000;
/** Most records one fetch may ask for (`max_records`). */
export const MAX_FETCH_RECORDS = 100_000;
/** Most bytes one fetch may ask for (`max_bytes`). */
export const MAX_FETCH_BYTES = 64 * 1024 * 1024;

/**
 * A handler's answer: a body to serialize (none for 204), or bytes already in their final form
 * (with `sent`, called once they were all handed to the socket, never if the answer was cut off).
 */
export type Answer =
  | { readonly status: number; readonly body?: unknown }
  | {
      readonly status: number;
      readonly raw: Buffer | string;
      readonly contentType: string | undefined;
      readonly sent?: () => void;
    };

/**
 * What a route handler reads of a request. Fastify's requests are such; so are the produce
 * requests served without fastify (see `produce-fast-path.ts`).
 */
export interface RouteRequest {
  readonly method: string;
  /** Path and query, as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Path parameters by name, decoded. */
  readonly params: unknown;
  /** The query string, parsed. */
  readonly query: unknown;
  /** The parsed body ({@link ParsedBody}), if the request had one. */
  readonly body: unknown;
}

/** One route of the API. */
export interface RouteDef {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path pattern in the router's syntax (`:name` segments). */
  readonly url: string;
  readonly operation: Operation;
  /**
   * `clientGone()` gives a signal aborted when the client disconnects before the answer is sent
   * (made on first call: most requests never need one).
   */
  handle(req: RouteRequest, format: WireFormat, clientGone: () => AbortSignal): Promise<Answer>;
  /** Time the leader may take on top of the forwarding timeout when this request is forwarded. */
  forwardWaitMs?(req: RouteRequest): number;
}

/** What the route handlers need. */
export interface RouteContext {
  readonly broker: BrokerApi;
  readonly metrics: HttpMetrics;
  readonly forwarder: Forwarder;
  readonly maxRecordBytes: number;
  readonly brokerUrl: BrokerUrlLookup;
  /** Reused buffers for the bodies of large fetch answers. */
  readonly bodyBuffers: BufferPool;
}

type Params = Record<string, string>;

/** True when the request was forwarded to this broker by another one. */
export function wasForwarded(req: RouteRequest): boolean {
  return req.headers[FORWARDED_HEADER] !== undefined;
}

function bodyOf(req: RouteRequest): unknown {
  const body = req.body as ParsedBody | undefined;
  if (body === undefined) throw invalid('a JSON or msgpack body is required');
  return body.value;
}

const CONFIG_VALUE_TYPES = new Set(['string', 'number', 'boolean']);

function parseCreateTopic(body: unknown) {
  const b = checkObject('body', body, ['name', 'partitions', 'replication_factor', 'configs']);
  const configs: Record<string, string | number | boolean> = {};
  if (b.configs !== undefined) {
    for (const [key, value] of Object.entries(checkObject('configs', b.configs))) {
      checkText('configs key', key);
      if (!CONFIG_VALUE_TYPES.has(typeof value) || (typeof value === 'number' && !Number.isFinite(value))) {
        throw invalid(`configs.${key} must be a string, a finite number or a boolean`);
      }
      configs[key] =
        typeof value === 'string' ? checkText(`configs.${key}`, value) : (value as number | boolean);
    }
  }
  return {
    name: checkTopicName(b.name),
    partitions: checkCount('partitions', b.partitions, { min: 1, max: MAX_INT32 }),
    replicationFactor: checkCount('replication_factor', b.replication_factor, { min: 1, max: MAX_INT32 }),
    ...(b.configs === undefined ? {} : { configs }),
  };
}

/** The routes, bound to `ctx`. */
export function buildRoutes(ctx: RouteContext): RouteDef[] {
  const { broker, metrics, forwarder } = ctx;
  /** Round-robin state for keyless records, per topic. */
  const partitioners = new Map<string, DefaultPartitioner>();

  function topicParam(req: RouteRequest): string {
    return checkTopicName((req.params as Params).topic);
  }

  /** Topic and partition from the path; PARTITION_NOT_FOUND beyond the topic's partitions. */
  async function partitionParams(req: RouteRequest): Promise<{ topic: string; partition: number }> {
    const topic = topicParam(req);
    const partition = parseCount('partition', (req.params as Params).partition ?? '');
    const count = await broker.partitionCount(topic);
    if (partition >= count) {
      throw new RaftlogError(
        'PARTITION_NOT_FOUND',
        `topic ${topic} has no partition ${partition} (it has ${count})`,
      );
    }
    return { topic, partition };
  }

  /** Write one partition's batch here, or on its leader; never throws. */
  async function produceBatch(
    req: RouteRequest,
    topic: string,
    batch: PartitionBatch,
  ): Promise<BatchOutcome> {
    try {
      const result = await broker.produce(topic, batch.partition, batch.records);
      metrics.countRecords('produced', batch.records.length);
      return { baseOffset: result.baseOffset };
    } catch (err) {
      const target = forwardTarget(err, broker, wasForwarded(req));
      if (target !== undefined) {
        try {
          const relayed = await forwarder.forward({
            baseUrl: target.url,
            method: 'POST',
            pathAndQuery: `/v1/topics/${encodeURIComponent(topic)}/partitions/${batch.partition}/records`,
            contentType: MSGPACK_TYPE,
            accept: MSGPACK_TYPE,
            body: serialize('msgpack', { records: batch.records.map(recordWire) }),
          });
          const outcome = relayedBatchOutcome(relayed);
          metrics.countForward('produce', 'ok');
          return outcome;
        } catch {
          metrics.countForward('produce', 'failed');
        }
      }
      return { error: replyForError(err, ctx.brokerUrl) };
    }
  }

  return [
    {
      method: 'POST',
      url: '/v1/topics',
      operation: 'create_topic',
      async handle(req) {
        return { status: 201, body: topicView(await broker.createTopic(parseCreateTopic(bodyOf(req)))) };
      },
    },
    {
      method: 'GET',
      url: '/v1/topics',
      operation: 'list_topics',
      async handle(req) {
        checkQuery(req.query, []);
        return { status: 200, body: topicListView(await broker.listTopics()) };
      },
    },
    {
      method: 'GET',
      url: '/v1/topics/:topic',
      operation: 'describe_topic',
      async handle(req) {
        checkQuery(req.query, []);
        return { status: 200, body: topicView(await broker.describeTopic(topicParam(req))) };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/topics/:topic',
      operation: 'delete_topic',
      async handle(req) {
        checkQuery(req.query, []);
        const topic = topicParam(req);
        await broker.deleteTopic(topic);
        partitioners.delete(topic);
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      url: '/v1/topics/:topic/records',
      operation: 'produce',
      async handle(req) {
        checkQuery(req.query, []);
        const topic = topicParam(req);
        const { entries } = parseProduceBody(bodyOf(req), {
          maxRecordBytes: ctx.maxRecordBytes,
          allowProducer: false,
        });
        let partitioner = partitioners.get(topic);
        if (partitioner === undefined) {
          partitioner = new DefaultPartitioner();
          partitioners.set(topic, partitioner);
        }
        const batches = groupByPartition(topic, entries, await broker.partitionCount(topic), partitioner);
        const outcomes = await Promise.all(batches.map((batch) => produceBatch(req, topic, batch)));
        return offsetsInRequestOrder(batches, outcomes);
      },
    },
    {
      method: 'POST',
      url: '/v1/topics/:topic/partitions/:partition/records',
      operation: 'produce_partition',
      async handle(req) {
        checkQuery(req.query, []);
        const { topic, partition } = await partitionParams(req);
        const { entries, producer } = parseProduceBody(bodyOf(req), {
          maxRecordBytes: ctx.maxRecordBytes,
          allowProducer: true,
        });
        entries.forEach((e, i) => {
          if (e.partition !== undefined && e.partition !== partition) {
            throw invalid(
              `records[${i}].partition ${e.partition} differs from the path's partition ${partition}`,
            );
          }
        });
        const records = entries.map((e) => e.record);
        const result = await broker.produce(topic, partition, records, producer);
        if (result.duplicate !== true) metrics.countRecords('produced', records.length);
        return { status: 200, body: produceResultView(result) };
      },
    },
    {
      method: 'GET',
      url: '/v1/topics/:topic/partitions/:partition/records',
      operation: 'fetch',
      async handle(req, format, clientGone) {
        const q = checkQuery(req.query, [
          'offset',
          'max_records',
          'max_bytes',
          'timeout_ms',
          'min_records',
          'encoding',
        ]);
        const encoding = checkEncoding('encoding', q.encoding);
        if (q.offset === undefined) throw invalid('offset is required');
        const offset = parseCount('offset', q.offset);
        const fetchReq = {
          offset,
          ...(q.max_records === undefined
            ? {}
            : { maxRecords: parseCount('max_records', q.max_records, { min: 1, max: MAX_FETCH_RECORDS }) }),
          ...(q.max_bytes === undefined
            ? {}
            : { maxBytes: parseCount('max_bytes', q.max_bytes, { min: 1, max: MAX_FETCH_BYTES }) }),
          ...(q.timeout_ms === undefined
            ? {}
            : { timeoutMs: parseCount('timeout_ms', q.timeout_ms, { max: MAX_FETCH_TIMEOUT_MS }) }),
          ...(q.min_records === undefined
            ? {}
            : { minRecords: parseCount('min_records', q.min_records, { min: 1, max: MAX_FETCH_RECORDS }) }),
          signal: clientGone(),
        };
        const { topic, partition } = await partitionParams(req);
        const result = await broker.fetchBatches(topic, partition, fetchReq);
        const { body, release } = fetchBody(result, format, encoding, ctx.bodyBuffers);
        metrics.countRecords('fetched', result.recordCount);
        return { status: 200, raw: body, contentType: CONTENT_TYPES[format], sent: release };
      },
      forwardWaitMs(req) {
        // Only reached after the handler validated the query.
        return Number((req.query as Params).timeout_ms ?? 0);
      },
    },
    {
      method: 'GET',
      url: '/v1/cluster',
      operation: 'cluster',
      async handle() {
        return { status: 200, body: clusterView(broker.cluster()) };
      },
    },
    {
      method: 'GET',
      url: '/v1/status',
      operation: 'status',
      async handle(req) {
        checkQuery(req.query, []);
        const moves = (broker.admin?.moves() ?? []).map(moveView);
        return { status: 200, body: { ...statusView(broker.partitionStatus()), moves } };
      },
    },
    {
      method: 'GET',
      url: '/healthz',
      operation: 'healthz',
      async handle() {
        return { status: 200, body: { status: 'ok' } };
      },
    },
    {
      method: 'GET',
      url: '/readyz',
      operation: 'readyz',
      async handle() {
        if (!broker.isReady())
          throw new RaftlogError('NO_LEADER', 'a partition hosted here has no leader yet');
        return { status: 200, body: { status: 'ready' } };
      },
    },
    {
      method: 'GET',
      url: '/metrics',
      operation: 'metrics',
      async handle() {
        return {
          status: 200,
          raw: await metrics.registry.metrics(),
          contentType: metrics.registry.contentType,
        };
      },
    },
    ...buildGroupRoutes(ctx),
    ...buildAdminRoutes(ctx),
  ];
}

/** A record as the single-partition route takes it in msgpack (raw bytes), for forwarding. */
function recordWire(r: ProduceRecord) {
  return {
    value: r.value,
    ...(r.key === undefined ? {} : { key: r.key }),
    ...(r.headers === undefined ? {} : { headers: r.headers.map(([name, value]) => ({ name, value })) }),
  };
}
