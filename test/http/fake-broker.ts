import type {
  BrokerApi,
  ClusterDescription,
  CreateTopicRequest,
  FetchedBatches,
  FetchedRecord,
  FetchRequest,
  FetchResult,
  PartitionStatus,
  ProduceRecord,
  ProduceResult,
  ProducerTag,
  TopicDescription,
  TopicSummary,
} from '../../src/broker/api.js';
import { RaftlogError } from '../../src/errors.js';
import { encodeRecordBatch } from '../../src/statemachine/record-batch.js';

/** A broker call, as seen by {@link FakeBroker.fault}. */
export interface FakeCall {
  readonly op: 'createTopic' | 'listTopics' | 'describeTopic' | 'deleteTopic' | 'produce' | 'fetch';
  readonly topic?: string;
  readonly partition?: number;
}

interface FakeTopic {
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string | number | boolean>>;
  readonly logs: FetchedRecord[][];
  readonly logStart: number[];
}

interface ProducerState {
  epoch: number;
  /** Results by sequence, for duplicates. */
  readonly results: ProduceResult[];
}

/**
 * An in-memory {@link BrokerApi} for the HTTP tests: topics with partitions and offsets, long
 * polls that wake on appends, a stand-in for producer deduplication, and `fault`, a hook that may
 * throw before any call (to answer NOT_LEADER pointing at another fake broker, COMMIT_TIMEOUT...).
 */
export class FakeBroker implements BrokerApi {
  readonly id: number;
  /** Client URLs of brokers by id, for `brokerUrl` (tests fill it in once servers listen). */
  readonly urls = new Map<number, string>();
  /** Called before every broker call; throw from it to make the call fail. */
  fault: ((call: FakeCall) => void) | undefined;
  ready = true;
  /** Every fetch request received, in order (to check what the HTTP layer passed on). */
  /** Every fetch: its request as the HTTP layer built it, and the signal that ends its long poll. */
  readonly fetches: Array<{
    topic: string;
    partition: number;
    req: Omit<FetchRequest, 'signal'>;
    signal: AbortSignal | undefined;
  }> = [];
  /** Every produce call received, in order. */
  readonly produces: Array<{ topic: string; partition: number; records: readonly ProduceRecord[] }> = [];
  readonly #topics = new Map<string, FakeTopic>();
  readonly #producers = new Map<string, ProducerState>();
  readonly #waiters = new Set<() => void>();
  readonly #brokerCount: number;
  #clock = 1_700_000_000_000;

  constructor(id = 1, brokerCount = 3) {
    this.id = id;
    this.#brokerCount = brokerCount;
  }

  async createTopic(req: CreateTopicRequest): Promise<TopicDescription> {
    this.#check({ op: 'createTopic', topic: req.name });
    if (this.#topics.has(req.name)) throw new RaftlogError('TOPIC_EXISTS', `topic ${req.name} exists`);
    if (req.replicationFactor > this.#brokerCount) {
      throw new RaftlogError('INVALID_REQUEST', `replication factor ${req.replicationFactor} > brokers`);
    }
    this.#topics.set(req.name, {
      replicationFactor: req.replicationFactor,
      configs: req.configs ?? {},
      logs: Array.from({ length: req.partitions }, () => []),
      logStart: Array.from({ length: req.partitions }, () => 0),
    });
    return this.describeTopic(req.name);
  }

  async listTopics(): Promise<TopicSummary[]> {
    this.#check({ op: 'listTopics' });
    return [...this.#topics].map(([name, t]) => ({
      name,
      partitions: t.logs.length,
      replicationFactor: t.replicationFactor,
    }));
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.#check({ op: 'describeTopic', topic: name });
    const t = this.#topic(name);
    return {
      name,
      replicationFactor: t.replicationFactor,
      configs: t.configs,
      partitions: t.logs.map((log, partition) => ({
        partition,
        leader: this.id,
        replicas: Array.from({ length: t.replicationFactor }, (_, i) => i + 1),
        term: 1,
        highWatermark: log.length,
        logStartOffset: t.logStart[partition]!,
      })),
    };
  }

  async deleteTopic(name: string): Promise<void> {
    this.#check({ op: 'deleteTopic', topic: name });
    this.#topic(name);
    this.#topics.delete(name);
  }

  async partitionCount(topic: string): Promise<number> {
    return this.#topic(topic).logs.length;
  }

  async produce(
    topic: string,
    partition: number,
    records: readonly ProduceRecord[],
    producer?: ProducerTag,
  ): Promise<ProduceResult> {
    this.#check({ op: 'produce', topic, partition });
    const log = this.#log(topic, partition);
    const key = producer === undefined ? undefined : `${producer.id}/${topic}/${partition}`;
    const state = key === undefined ? undefined : this.#producers.get(key);
    if (producer !== undefined && state !== undefined) {
      if (producer.epoch < state.epoch) {
        throw new RaftlogError('PRODUCER_FENCED', `epoch ${producer.epoch} fenced`, {
          details: { current_epoch: state.epoch },
        });
      }
      if (producer.epoch === state.epoch && producer.sequence < state.results.length) {
        return { ...state.results[producer.sequence]!, duplicate: true };
      }
    }
    const expected = state === undefined || producer!.epoch > state.epoch ? 0 : state.results.length;
    if (producer !== undefined && producer.sequence !== expected) {
      throw new RaftlogError('OUT_OF_ORDER_SEQUENCE', `sequence ${producer.sequence}, expected ${expected}`, {
        details: { expected_sequence: expected },
      });
    }
    this.produces.push({ topic, partition, records });
    const baseOffset = log.length;
    const timestamp = this.#clock++;
    for (const r of records) {
      log.push({
        offset: log.length,
        key: r.key ?? null,
        value: r.value,
        headers: r.headers ?? [],
        timestamp,
      });
    }
    const result = { partition, baseOffset, lastOffset: log.length - 1 };
    if (producer !== undefined) {
      const fresh = state === undefined || producer.epoch > state.epoch;
      const next = fresh ? { epoch: producer.epoch, results: [] } : state;
      next.results.push(result);
      this.#producers.set(key!, next);
    }
    for (const wake of this.#waiters) wake();
    return result;
  }

  async fetch(topic: string, partition: number, req: FetchRequest): Promise<FetchResult> {
    this.#check({ op: 'fetch', topic, partition });
    const { signal, ...fields } = req;
    this.fetches.push({ topic, partition, req: fields, signal });
    const log = this.#log(topic, partition);
    const logStart = this.#topic(topic).logStart[partition]!;
    if (req.offset < logStart || req.offset > log.length) {
      throw new RaftlogError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${req.offset} outside [${logStart}, ${log.length}]`,
        {
          details: { logStartOffset: logStart, highWatermark: log.length },
        },
      );
    }
    if (req.offset === log.length && (req.timeoutMs ?? 0) > 0)
      await this.#appendOrTimeout(req.timeoutMs!, signal);
    const records = log.slice(req.offset, req.offset + (req.maxRecords ?? 500));
    return {
      records,
      nextOffset: req.offset + records.length,
      highWatermark: log.length,
      logStartOffset: logStart,
    };
  }

  /** {@link fetch}, each record stored as a batch of its own. */
  async fetchBatches(topic: string, partition: number, req: FetchRequest): Promise<FetchedBatches> {
    const { records, ...rest } = await this.fetch(topic, partition, req);
    const slices = records.map((r) => ({
      data: encodeRecordBatch({
        records: [{ value: r.value, ...(r.key === null ? {} : { key: r.key }), headers: r.headers }],
        timestamp: r.timestamp,
      }),
      baseOffset: r.offset,
      from: 0,
      to: 1,
    }));
    return { slices, recordCount: records.length, ...rest };
  }

  cluster(): ClusterDescription {
    return {
      clusterId: 'fake-cluster',
      nodes: [...this.urls].map(([id, url]) => ({ id, url, alive: true })),
      metadataLeader: this.id,
    };
  }

  partitionStatus(): PartitionStatus[] {
    return [...this.#topics].flatMap(([topic, t]) =>
      t.logs.map((log, partition) => ({
        topic,
        partition,
        leader: this.id,
        term: 3,
        commitIndex: log.length + 1,
        highWatermark: log.length,
      })),
    );
  }

  isReady(): boolean {
    return this.ready;
  }

  brokerUrl(id: number): string | undefined {
    return this.urls.get(id);
  }

  /** Move a partition's log start offset (as retention would). */
  truncate(topic: string, partition: number, logStart: number): void {
    this.#topic(topic).logStart[partition] = logStart;
  }

  /** Number of fetches waiting in a long poll. */
  get waitingFetches(): number {
    return this.#waiters.size;
  }

  #appendOrTimeout(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  #check(call: FakeCall): void {
    this.fault?.(call);
  }

  #topic(name: string): FakeTopic {
    const t = this.#topics.get(name);
    if (t === undefined) throw new RaftlogError('TOPIC_NOT_FOUND', `no topic ${name}`);
    return t;
  }

  #log(topic: string, partition: number): FetchedRecord[] {
    const log = this.#topic(topic).logs[partition];
    if (log === undefined) throw new RaftlogError('PARTITION_NOT_FOUND', `no partition ${partition}`);
    return log;
  }
}

/** A fault that answers NOT_LEADER naming `leader` for the calls `when` selects. */
export function notLeader(
  leader: number,
  when: (call: FakeCall) => boolean = () => true,
): (call: FakeCall) => void {
  return (call) => {
    if (when(call)) throw new RaftlogError('NOT_LEADER', 'not the leader', { details: { leader } });
  };
}
