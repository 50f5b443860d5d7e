import { randomUUID } from 'node:crypto';
import type { ProducerTag } from '../broker/api.js';
import { RaftlogError } from '../errors.js';
import { DefaultPartitioner } from '../statemachine/partitioner.js';
import type { RaftlogClient } from './client.js';
import { type ClientRecord, checkRecord, toBytes } from './records.js';
import { checkCount, checkTopic } from './validate.js';

/** Options of {@link Producer}. */
export interface ProducerOptions {
  /** How long a batch waits for more records before it is sent, in ms. Default 5. */
  readonly lingerMs?: number;
  /** Most records in one batch. Default 500. */
  readonly maxBatchRecords?: number;
  /** Most bytes (keys, values and headers) in one batch; a larger record goes alone. Default 1 MiB. */
  readonly maxBatchBytes?: number;
  /**
   * The idempotent producer id (at most 64 characters). Default: a random UUID, new for every
   * producer. Reuse an id across processes only with a higher `epoch` each time: a partition
   * takes (id, epoch, 0) it has seen before as a repeat of the old batch.
   */
  readonly id?: string;
  /** The first epoch of every partition. Default 0. */
  readonly epoch?: number;
}

/** A record to send: a {@link ClientRecord}, its topic and optionally its partition. */
export interface ProducerRecord extends ClientRecord {
  readonly topic: string;
  /** Default: by the hash of the key (Kafka's partitioner), keyless records round-robin. */
  readonly partition?: number;
}

/** Where a sent record was written. */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

interface Pending {
  readonly record: ProducerRecord;
  readonly size: number;
  resolve(meta: RecordMetadata): void;
  reject(err: unknown): void;
}

/** One partition's batching and idempotence state. */
interface PartitionQueue {
  readonly topic: string;
  readonly partition: number;
  epoch: number;
  /** Sequence of the next batch sent at `epoch`. */
  nextSequence: number;
  /** The batch filling up. */
  open: Pending[];
  openBytes: number;
  linger: NodeJS.Timeout | undefined;
  /** Settles when every closed batch has been answered; batches are sent one after another. */
  tail: Promise<void>;
}

const DEFAULTS = { lingerMs: 5, maxBatchRecords: 500, maxBatchBytes: 1024 * 1024 };

/**
 * An idempotent, batching producer: `send` resolves with each record's offset once it is
 * committed, and no record is ever written twice by a retry.
 *
 * - Partitioning: an explicit `partition`, else Kafka's murmur2 hash of the key, else
 *   round-robin (one {@link DefaultPartitioner} per topic).
 * - Batching: records for one partition collect for `lingerMs`, or until `maxBatchRecords` /
 *   `maxBatchBytes`, and go as one request (one Raft entry, all or nothing).
 * - Idempotence: each batch is tagged (id, epoch, sequence); sequences count the batches of a
 *   partition from 0. At most one batch per partition is in flight, so order is kept, and a
 *   retried batch (after a timeout, COMMIT_TIMEOUT, a lost answer or a leader change) carries
 *   the same sequence and records: the partition answers it with the first offsets. The retries
 *   themselves are the client's ({@link RaftlogClientOptions.retries}, with backoff).
 * - When a batch fails for good, its records' sends reject and that partition moves to the next
 *   epoch at sequence 0, so no later batch can be mistaken for the failed one (whose outcome may
 *   be unknown).
 */
export class Producer {
  /** The producer id this producer tags its batches with. */
  readonly id: string;
  readonly #client: RaftlogClient;
  readonly #options: typeof DEFAULTS;
  readonly #firstEpoch: number;
  readonly #queues = new Map<string, PartitionQueue>();
  readonly #partitioners = new Map<string, DefaultPartitioner>();
  readonly #partitionCounts = new Map<string, Promise<number>>();
  /** Sends still choosing their partition (see {@link flush}). */
  readonly #admissions = new Set<Promise<void>>();
  #closed = false;

  constructor(client: RaftlogClient, options: ProducerOptions = {}) {
    this.#client = client;
    this.id = options.id ?? randomUUID();
    if (typeof this.id !== 'string' || this.id.length === 0 || [...this.id].length > 64) {
      throw new RaftlogError('INVALID_REQUEST', 'producer id must be 1 to 64 characters');
    }
    this.#firstEpoch = checkCount('epoch', options.epoch ?? 0);
    this.#options = {
      lingerMs: checkCount('lingerMs', options.lingerMs ?? DEFAULTS.lingerMs),
      maxBatchRecords: checkCount('maxBatchRecords', options.maxBatchRecords ?? DEFAULTS.maxBatchRecords, 1),
      maxBatchBytes: checkCount('maxBatchBytes', options.maxBatchBytes ?? DEFAULTS.maxBatchBytes, 1),
    };
  }

  /** Send one record; resolves with where it was written once it is committed. */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    return new Promise((resolve, reject) => {
      if (this.#closed) throw new RaftlogError('INVALID_REQUEST', 'the producer is closed');
      const topic = checkTopic(record?.topic);
      const size = checkRecord(record, 'record');
      if (record.partition !== undefined) checkCount('partition', record.partition);
      const admission = this.#admit(topic, { record, size, resolve, reject });
      this.#admissions.add(admission);
      admission.finally(() => this.#admissions.delete(admission));
    });
  }

  /** Send every record given so far without waiting for the linger time; resolves when all are answered. */
  async flush(): Promise<void> {
    await Promise.all(this.#admissions);
    const queues = [...this.#queues.values()];
    for (const q of queues) this.#closeBatch(q);
    await Promise.all(queues.map((q) => q.tail));
  }

  /** Flush, then refuse further sends. The client stays open (it is the caller's). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /** Choose the record's partition and queue it there (or reject it); never rejects itself. */
  async #admit(topic: string, p: Pending): Promise<void> {
    const { record } = p;
    try {
      // Every send awaits this, so the sends of one topic are queued in call order.
      const count = await this.#partitionCount(topic);
      const key = record.key === undefined ? undefined : toBytes(record.key);
      const partition = record.partition ?? this.#partitionerOf(topic).partition(key, count);
      if (partition >= count) {
        throw new RaftlogError(
          'PARTITION_NOT_FOUND',
          `topic ${topic} has no partition ${partition} (it has ${count})`,
        );
      }
      this.#enqueue(this.#queueOf(topic, partition), p);
    } catch (err) {
      p.reject(err);
    }
  }

  #partitionCount(topic: string): Promise<number> {
    let count = this.#partitionCounts.get(topic);
    if (count === undefined) {
      count = this.#client.describeTopic(topic).then((d) => d.partitions.length);
      count.catch(() => this.#partitionCounts.delete(topic));
      this.#partitionCounts.set(topic, count);
    }
    return count;
  }

  #partitionerOf(topic: string): DefaultPartitioner {
    let partitioner = this.#partitioners.get(topic);
    if (partitioner === undefined) {
      partitioner = new DefaultPartitioner();
      this.#partitioners.set(topic, partitioner);
    }
    return partitioner;
  }

  #queueOf(topic: string, partition: number): PartitionQueue {
    const key = `${topic}\0${partition}`;
    let q = this.#queues.get(key);
    if (q === undefined) {
      q = {
        topic,
        partition,
        epoch: this.#firstEpoch,
        nextSequence: 0,
        open: [],
        openBytes: 0,
        linger: undefined,
        tail: Promise.resolve(),
      };
      this.#queues.set(key, q);
    }
    return q;
  }

  #enqueue(q: PartitionQueue, p: Pending): void {
    if (q.open.length > 0 && q.openBytes + p.size > this.#options.maxBatchBytes) this.#closeBatch(q);
    q.open.push(p);
    q.openBytes += p.size;
    if (q.open.length >= this.#options.maxBatchRecords || q.openBytes >= this.#options.maxBatchBytes) {
      this.#closeBatch(q);
    } else {
      q.linger ??= setTimeout(() => this.#closeBatch(q), this.#options.lingerMs);
    }
  }

  /** Close the open batch and queue it behind the partition's earlier batches. */
  #closeBatch(q: PartitionQueue): void {
    clearTimeout(q.linger);
    q.linger = undefined;
    if (q.open.length === 0) return;
    const batch = q.open;
    q.open = [];
    q.openBytes = 0;
    q.tail = q.tail.then(() => this.#sendBatch(q, batch));
  }

  /** Send one batch (the client repeats it as needed with the same tag) and settle its sends; never rejects. */
  async #sendBatch(q: PartitionQueue, batch: readonly Pending[]): Promise<void> {
    const tag: ProducerTag = { id: this.id, epoch: q.epoch, sequence: q.nextSequence };
    try {
      const result = await this.#client.produce(
        q.topic,
        q.partition,
        batch.map((p) => p.record),
        tag,
      );
      q.nextSequence++;
      batch.forEach((p, i) => {
        p.resolve({ topic: q.topic, partition: q.partition, offset: result.baseOffset + i });
      });
    } catch (err) {
      q.epoch++;
      q.nextSequence = 0;
      for (const p of batch) p.reject(err);
    }
  }
}
