import type { MoveStatus } from '../broker/admin-api.js';
import type {
  ClusterDescription,
  FetchResult,
  PartitionStatus,
  ProduceResult,
  ProducerTag,
  TopicDescription,
  TopicSummary,
} from '../broker/api.js';
import type { GroupDescription, GroupSummary } from '../broker/groups-api.js';
import { isErrorCode, RaftlogError } from '../errors.js';
import { movesFromWire } from './admin.js';
import { type BackoffOptions, backoffDelay, sleep } from './backoff.js';
import { type BrokerRequest, Connections } from './connections.js';
import { RaftlogClientError, wasNotSent } from './errors.js';
import { GroupConsumer, type GroupConsumerOptions } from './group-consumer.js';
import { describeGroup, listGroups } from './groups.js';
import { type ClientRecord, checkRecord, toWireRecord } from './records.js';
import { checkCount, checkTopic } from './validate.js';
import {
  clusterFromWire,
  fetchResultFromWire,
  produceResultFromWire,
  statusFromWire,
  topicFromWire,
  topicListFromWire,
} from './views.js';

/** Options of {@link RaftlogClient}. */
export interface RaftlogClientOptions {
  /** One broker's client URL, e.g. `http://127.0.0.1:7001`. Give this or `urls`. */
  readonly url?: string;
  /** Several brokers' URLs: tried in turn when one cannot be reached. */
  readonly urls?: readonly string[];
  /** How long to wait for an answer (a fetch's long poll comes on top). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** How long to wait for a connection. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Most keep-alive connections to one broker. Default 8. */
  readonly connectionsPerBroker?: number;
  /** How many times a failed request is repeated when repeating it is safe (see {@link RaftlogClient}). Default 8. */
  readonly retries?: number;
  /** Backoff between repeats. Default 100 ms doubling up to 2 s. */
  readonly retryBackoff?: Partial<BackoffOptions>;
  /**
   * Send produce and fetch straight to partition leaders, at the URLs brokers advertise. Default
   * true; false when those URLs are not reachable from here (behind a proxy or load balancer):
   * every request then goes to the URLs given, and the brokers forward.
   */
  readonly directToLeaders?: boolean;
}

/** Options of {@link RaftlogClient.createTopic}. */
export interface CreateTopicOptions {
  /** Default 1. */
  readonly partitions?: number;
  /** Default 1. More than there are brokers is INVALID_REQUEST. */
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string | number | boolean>>;
}

/** Options of {@link RaftlogClient.fetch}. */
export interface FetchOptions {
  /** First offset to read. */
  readonly offset: number;
  /** Most records returned (the broker's default is 500). */
  readonly maxRecords?: number;
  /** About this many bytes at most; at least one record when one is available (default 1 MiB). */
  readonly maxBytes?: number;
  /** Long poll: at the high watermark, wait up to this long for a record. Default 0. */
  readonly timeoutMs?: number;
  /** With `timeoutMs`: wait until this many records follow `offset` (or the timeout). Default 1. */
  readonly minRecords?: number;
  /** Abort the fetch (the call rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/** Whether a request may be repeated after an answer that leaves its outcome unknown. */
type Repeat = 'idempotent' | 'only-if-not-done';

/**
 * Codes meaning the broker did not act on the request, so repeating it is safe even for writes
 * that are not idempotent. (A NOT_LEADER answered after a failed forward is the one exception a
 * plain `produce` cannot rule out; the idempotent {@link Producer} never writes twice.)
 */
const NOT_DONE = new Set(['NOT_LEADER', 'NO_LEADER', 'PROPOSAL_DROPPED', 'REQUEST_TIMEOUT']);

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 2000 };

/**
 * A raftlog client over HTTP (issue 5's API): topic administration, the cluster view, and
 * low-level produce and fetch on one partition. {@link Producer} and {@link Consumer} build on it.
 *
 * Routing: any broker serves any request (it forwards to the leader itself), so requests go to
 * the first reachable URL given. Unless `directToLeaders` is false, partition leaders learnt
 * from {@link describeTopic} and from NOT_LEADER answers are remembered, and produce and fetch
 * go straight to them.
 *
 * Retries: reads and tagged (idempotent) produces are repeated on any retriable error; other
 * writes only when the broker certainly did not act (NOT_LEADER, NO_LEADER, a dropped proposal,
 * or no connection at all). A NOT_LEADER naming the leader's URL is followed at once.
 *
 * Every failure rejects with a {@link RaftlogClientError}.
 */
export class RaftlogClient {
  readonly #bootstrap: readonly string[];
  readonly #connections: Connections;
  readonly #requestTimeoutMs: number;
  readonly #retries: number;
  readonly #backoff: BackoffOptions;
  readonly #direct: boolean;
  /** Index into #bootstrap of the broker used when no leader is known. */
  #current = 0;
  /** Client URLs of brokers, by id, from the last {@link cluster} answer. */
  #nodeUrls = new Map<number, string>();
  /** Leader URL of `topic/partition`, keyed by {@link partitionKey}. */
  readonly #leaders = new Map<string, string>();

  constructor(options: RaftlogClientOptions) {
    const urls = options.urls ?? (options.url === undefined ? [] : [options.url]);
    if (urls.length === 0) throw new RaftlogError('INVALID_REQUEST', 'give url or urls');
    this.#bootstrap = urls.map(originOf);
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#retries = options.retries ?? 8;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.retryBackoff };
    this.#direct = options.directToLeaders ?? true;
    this.#connections = new Connections({
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      connectionsPerBroker: options.connectionsPerBroker ?? 8,
    });
  }

  /** Create a topic; resolves with its description. TOPIC_EXISTS if the name is taken. */
  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<TopicDescription> {
    const body = {
      name: checkTopic(name),
      partitions: checkCount('partitions', options.partitions ?? 1, 1),
      replication_factor: checkCount('replicationFactor', options.replicationFactor ?? 1, 1),
      ...(options.configs === undefined ? {} : { configs: options.configs }),
    };
    const answer = await this.#send(
      undefined,
      { method: 'POST', path: '/v1/topics', body },
      'only-if-not-done',
    );
    return topicFromWire(answer);
  }

  /** Every topic with its partition count and replication factor. */
  async listTopics(): Promise<TopicSummary[]> {
    return topicListFromWire(
      await this.#send(undefined, { method: 'GET', path: '/v1/topics' }, 'idempotent'),
    );
  }

  /** A topic's partitions with their leaders, replicas, terms and offsets; TOPIC_NOT_FOUND if none. */
  async describeTopic(name: string): Promise<TopicDescription> {
    const answer = await this.#send(
      undefined,
      { method: 'GET', path: topicPath(checkTopic(name)) },
      'idempotent',
    );
    const topic = topicFromWire(answer);
    if (this.#direct) await this.#rememberLeaders(topic);
    return topic;
  }

  /** Remember the client URL of every partition leader `topic` names. */
  async #rememberLeaders(topic: TopicDescription): Promise<void> {
    if (topic.partitions.some((p) => p.leader !== null && !this.#nodeUrls.has(p.leader)))
      await this.cluster();
    for (const p of topic.partitions) {
      const url = p.leader === null ? undefined : this.#nodeUrls.get(p.leader);
      if (url === undefined) this.#leaders.delete(partitionKey(topic.name, p.partition));
      else this.#leaders.set(partitionKey(topic.name, p.partition), url);
    }
  }

  /** Delete a topic and its data. TOPIC_NOT_FOUND if there is none. */
  async deleteTopic(name: string): Promise<void> {
    await this.#send(undefined, { method: 'DELETE', path: topicPath(checkTopic(name)) }, 'only-if-not-done');
    for (const key of this.#leaders.keys()) if (key.startsWith(`${name}\0`)) this.#leaders.delete(key);
  }

  /** The brokers, their client URLs and liveness, and the metadata leader. */
  async cluster(): Promise<ClusterDescription> {
    const cluster = clusterFromWire(
      await this.#send(undefined, { method: 'GET', path: '/v1/cluster' }, 'idempotent'),
    );
    this.#nodeUrls = new Map(cluster.nodes.map((n) => [n.id, originOf(n.url)]));
    return cluster;
  }

  /**
   * Replication state of every partition (leader, term, commit index, high watermark, replica
   * lag), gathered from every live broker: each reports the partitions it hosts, and the row of a
   * partition's leader, the one that knows replica lags, is kept. Sorted by topic and partition.
   */
  async status(): Promise<PartitionStatus[]> {
    const rows = new Map<string, PartitionStatus>();
    for (const { id, body } of await this.#statusOfEveryBroker()) {
      for (const p of statusFromWire(body)) {
        const key = partitionKey(p.topic, p.partition);
        if (!rows.has(key) || p.leader === id) rows.set(key, p);
      }
    }
    return [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /**
   * Replica moves in progress (issue 9), gathered from every live broker: every broker knows
   * the moves from the metadata, and the leader of a moving partition adds how far its new
   * replicas have caught up; that row is kept. Sorted by topic and partition.
   */
  async moves(): Promise<MoveStatus[]> {
    const rows = new Map<string, MoveStatus>();
    for (const { body } of await this.#statusOfEveryBroker()) {
      for (const m of movesFromWire((body as { moves?: unknown }).moves)) {
        const key = partitionKey(m.topic, m.partition);
        if (!rows.has(key) || m.state !== undefined) rows.set(key, m);
      }
    }
    return [...rows.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** `GET /v1/status` of every live broker (those that do not answer are left out). */
  async #statusOfEveryBroker(): Promise<Array<{ id: number; body: unknown }>> {
    const cluster = await this.cluster();
    const answers = await Promise.all(
      cluster.nodes
        .filter((n) => n.alive && n.url !== '')
        .map(async (n) => ({
          id: n.id,
          body: await this.#connections
            .call(originOf(n.url), { method: 'GET', path: '/v1/status', timeoutMs: this.#requestTimeoutMs })
            .catch(() => undefined),
        })),
    );
    return answers.flatMap((a) => (a.body === undefined ? [] : [{ id: a.id, body: a.body }]));
  }

  /**
   * Append `records` to one partition as one Raft entry, all or nothing; resolves once they are
   * committed. With `producer`, a repeat of the same (id, epoch, sequence) is recognised by the
   * partition and answered with the first call's offsets and `duplicate: true`, which is what
   * makes retries safe (see {@link Producer}).
   */
  async produce(
    topic: string,
    partition: number,
    records: readonly ClientRecord[],
    producer?: ProducerTag,
  ): Promise<ProduceResult> {
    checkTopic(topic);
    checkCount('partition', partition);
    if (!Array.isArray(records) || records.length === 0) {
      throw new RaftlogError('INVALID_REQUEST', 'records must be a non-empty array');
    }
    const body = {
      records: records.map((r, i) => {
        checkRecord(r, `records[${i}]`);
        return toWireRecord(r);
      }),
      ...(producer === undefined ? {} : { producer }),
    };
    const answer = await this.#send(
      { topic, partition },
      { method: 'POST', path: `${topicPath(topic)}/partitions/${partition}/records`, body },
      producer === undefined ? 'only-if-not-done' : 'idempotent',
    );
    return produceResultFromWire(answer);
  }

  /**
   * Read committed records of one partition from `offset`. At the high watermark with
   * `timeoutMs > 0` the broker waits for the next record (long poll). OFFSET_OUT_OF_RANGE (with
   * `facts.log_start_offset` and `facts.high_watermark`) outside the partition's log.
   */
  async fetch(topic: string, partition: number, options: FetchOptions): Promise<FetchResult> {
    checkTopic(topic);
    checkCount('partition', partition);
    const query = new URLSearchParams({ offset: String(checkCount('offset', options.offset)) });
    if (options.maxRecords !== undefined)
      query.set('max_records', String(checkCount('maxRecords', options.maxRecords, 1)));
    if (options.maxBytes !== undefined)
      query.set('max_bytes', String(checkCount('maxBytes', options.maxBytes, 1)));
    const waitMs = checkCount('timeoutMs', options.timeoutMs ?? 0);
    if (waitMs > 0) query.set('timeout_ms', String(waitMs));
    if (options.minRecords !== undefined)
      query.set('min_records', String(checkCount('minRecords', options.minRecords, 1)));
    const answer = await this.#send(
      { topic, partition },
      {
        method: 'GET',
        path: `${topicPath(topic)}/partitions/${partition}/records?${query}`,
        timeoutMs: this.#requestTimeoutMs + waitMs,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      'idempotent',
    );
    return fetchResultFromWire(answer);
  }

  /**
   * A consumer in group `options.group`: joins, heartbeats, reads the partitions the group gives
   * it from their committed offsets and commits what it processed (see {@link GroupConsumer}).
   */
  consumer(options: GroupConsumerOptions): GroupConsumer {
    return new GroupConsumer(this, options);
  }

  /** Every consumer group, with its generation and number of members. */
  listGroups(): Promise<GroupSummary[]> {
    return listGroups(this);
  }

  /** A consumer group's members, assignment, committed offsets and lag; GROUP_NOT_FOUND if none. */
  describeGroup(group: string): Promise<GroupDescription> {
    return describeGroup(this, group);
  }

  /**
   * One request to any broker (which forwards it where it belongs), repeated as {@link RaftlogClient}
   * describes, at most `retries` times (default: the client's). For the consumer-group calls.
   */
  request(
    req: Omit<BrokerRequest, 'timeoutMs'> & { timeoutMs?: number },
    repeat: 'idempotent' | 'only-if-not-done',
    retries?: number,
  ): Promise<unknown> {
    return this.#send(undefined, req, repeat, retries);
  }

  /** Close the connections (requests in flight finish first). */
  close(): Promise<void> {
    return this.#connections.close();
  }

  /**
   * Send `req` to the leader of `target` if known, else to the current bootstrap broker, and
   * repeat it as {@link RaftlogClient} describes.
   */
  async #send(
    target: { topic: string; partition: number } | undefined,
    req: Omit<BrokerRequest, 'timeoutMs'> & { timeoutMs?: number },
    repeat: Repeat,
    retries = this.#retries,
  ): Promise<unknown> {
    const key = target === undefined ? undefined : partitionKey(target.topic, target.partition);
    const full: BrokerRequest = { ...req, timeoutMs: req.timeoutMs ?? this.#requestTimeoutMs };
    let origin = (key && this.#leaders.get(key)) ?? this.#bootstrap[this.#current]!;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#connections.call(origin, full);
      } catch (err) {
        if (!(err instanceof RaftlogClientError) || attempt > retries) throw err;
        const leaderUrl = this.#direct && isErrorCode(err, 'NOT_LEADER') ? err.facts.leader_url : undefined;
        if (leaderUrl !== undefined && originOf(leaderUrl) !== origin) {
          origin = originOf(leaderUrl);
          if (key !== undefined) this.#leaders.set(key, origin);
          continue;
        }
        const safe =
          err.retriable && (repeat === 'idempotent' || wasNotSent(err) || NOT_DONE.has(err.serverCode ?? ''));
        if (!safe) throw err;
        if (key !== undefined) this.#leaders.delete(key);
        if (wasNotSent(err) && this.#bootstrap.includes(origin)) {
          this.#current = (this.#bootstrap.indexOf(origin) + 1) % this.#bootstrap.length;
        }
        origin = this.#bootstrap[this.#current]!;
        await sleep(backoffDelay(attempt, this.#backoff), req.signal);
      }
    }
  }
}

function topicPath(topic: string): string {
  return `/v1/topics/${encodeURIComponent(topic)}`;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch (err) {
    throw new RaftlogError('INVALID_REQUEST', `not a URL: ${url}`, { cause: err });
  }
}
