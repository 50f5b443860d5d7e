import type { FetchedRecord, FetchResult } from '../broker/api.js';
import { RaftlogError } from '../errors.js';
import type { RaftlogClient } from './client.js';
import { checkCount, checkTopic } from './validate.js';

/** Where a {@link Consumer} starts: an offset, the first record kept, or the end of the log. */
export type StartOffset = number | 'earliest' | 'latest';

/** Options of {@link Consumer}. */
export interface ConsumerOptions {
  readonly topic: string;
  /** Partitions to read. Default: every partition of the topic. */
  readonly partitions?: readonly number[];
  /** Where to start on every partition. Default `'earliest'`. */
  readonly offset?: StartOffset;
  /** Most records per fetch. */
  readonly maxRecords?: number;
  /** About this many bytes per fetch at most. */
  readonly maxBytes?: number;
  /** How long one long poll waits at the end of a partition, in ms. Default 5000. */
  readonly pollTimeoutMs?: number;
  /**
   * Stop once every partition has been read up to its high watermark, instead of waiting for new
   * records. Default false (follow the log until {@link Consumer.close}).
   */
  readonly untilEnd?: boolean;
}

/** A record read by a {@link Consumer}, with where it was read. */
export interface ConsumedRecord extends FetchedRecord {
  readonly topic: string;
  readonly partition: number;
}

type Poll = { readonly partition: number; readonly result: FetchResult };

/**
 * Reads committed records of one topic, `for await (const record of consumer)`, from a start
 * offset on one or more partitions. Each partition has one fetch in flight at a time, a long poll
 * when it is at its end; records of one partition come in offset order, partitions interleave as
 * their answers arrive. Leader changes are followed by the client (NOT_LEADER answers name the
 * new leader; other retriable errors are retried with backoff); an error that remains ends the
 * iteration by throwing it.
 *
 * Breaking out of a `for await` loop and iterating again continues where the loop stopped.
 */
export class Consumer implements AsyncIterable<ConsumedRecord> {
  /** The topic read. */
  readonly topic: string;
  readonly #client: RaftlogClient;
  readonly #options: ConsumerOptions;
  /** Next offset to read, per partition; set on the first iteration. */
  #positions: Map<number, number> | undefined;
  /** Aborts the fetches of the iteration under way. */
  #iteration: AbortController | undefined;
  #closed = false;

  constructor(client: RaftlogClient, options: ConsumerOptions) {
    this.#client = client;
    this.topic = checkTopic(options.topic);
    options.partitions?.forEach((p, i) => {
      checkCount(`partitions[${i}]`, p);
    });
    const offset = options.offset ?? 'earliest';
    if (offset !== 'earliest' && offset !== 'latest') checkCount('offset', offset);
    if (options.maxRecords !== undefined) checkCount('maxRecords', options.maxRecords, 1);
    if (options.maxBytes !== undefined) checkCount('maxBytes', options.maxBytes, 1);
    if (options.pollTimeoutMs !== undefined) checkCount('pollTimeoutMs', options.pollTimeoutMs);
    this.#options = options;
  }

  /** The next offset this consumer reads on `partition` (undefined before the first iteration). */
  position(partition: number): number | undefined {
    return this.#positions?.get(partition);
  }

  /** End the iteration under way (its fetches are aborted) and any later one. */
  close(): void {
    this.#closed = true;
    this.#iteration?.abort(new RaftlogError('INVALID_REQUEST', 'the consumer is closed'));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    if (this.#iteration !== undefined) {
      throw new RaftlogError('INVALID_REQUEST', 'this consumer is already being iterated');
    }
    const controller = new AbortController();
    this.#iteration = controller;
    const polls = new Map<number, Promise<Poll>>();
    const poll = (partition: number, offset: number) => {
      const p = this.#fetch(partition, offset, controller.signal);
      p.catch(() => {}); // settled through the race below, or abandoned on the way out
      polls.set(partition, p);
    };
    try {
      this.#positions ??= await this.#startPositions();
      for (const [partition, offset] of this.#positions) poll(partition, offset);
      while (polls.size > 0 && !this.#closed) {
        let answer: Poll;
        try {
          answer = await Promise.race(polls.values());
        } catch (err) {
          if (this.#closed) return;
          throw err;
        }
        const { partition, result } = answer;
        polls.delete(partition);
        for (const record of result.records) {
          this.#positions.set(partition, record.offset + 1);
          yield { ...record, topic: this.topic, partition };
          if (this.#closed) return;
        }
        this.#positions.set(partition, result.nextOffset);
        const atEnd = result.nextOffset >= result.highWatermark;
        if (!(this.#options.untilEnd && atEnd)) poll(partition, result.nextOffset);
      }
    } finally {
      controller.abort(new RaftlogError('INVALID_REQUEST', 'the iteration ended'));
      this.#iteration = undefined;
    }
  }

  #fetch(partition: number, offset: number, signal: AbortSignal): Promise<Poll> {
    const o = this.#options;
    return this.#client
      .fetch(this.topic, partition, {
        offset,
        signal,
        timeoutMs: o.untilEnd ? 0 : (o.pollTimeoutMs ?? 5000),
        ...(o.maxRecords === undefined ? {} : { maxRecords: o.maxRecords }),
        ...(o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes }),
      })
      .then((result) => ({ partition, result }));
  }

  /** The start offset of every partition read, from the topic's description when needed. */
  async #startPositions(): Promise<Map<number, number>> {
    const offset = this.#options.offset ?? 'earliest';
    const needsDescription = typeof offset !== 'number' || this.#options.partitions === undefined;
    const description = needsDescription ? await this.#client.describeTopic(this.topic) : undefined;
    const partitions = this.#options.partitions ?? description!.partitions.map((p) => p.partition);
    return new Map(
      partitions.map((partition) => {
        if (typeof offset === 'number') return [partition, offset];
        const p = description!.partitions[partition];
        if (p === undefined) {
          throw new RaftlogError('PARTITION_NOT_FOUND', `topic ${this.topic} has no partition ${partition}`);
        }
        return [partition, offset === 'earliest' ? p.logStartOffset : p.highWatermark];
      }),
    );
  }
}
