import { RaftlogError } from '../errors.js';
import { type ProducerTag, producerProblem } from './record-batch.js';
import { isCount } from './tagged-msgpack.js';

/** How many recent batches per producer a retry is recognised for (Kafka keeps 5 as well). */
export const PRODUCER_BATCH_WINDOW = 5;

/** The offsets a producer's batch got. */
export interface ProducerBatch {
  readonly sequence: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

/** What the table says about a tagged batch, before anything is appended. */
export type ProducerVerdict =
  | { readonly outcome: 'append' }
  | { readonly outcome: 'duplicate'; readonly batch: ProducerBatch }
  | {
      readonly outcome: 'rejected';
      readonly code: 'PRODUCER_FENCED' | 'OUT_OF_ORDER_SEQUENCE';
      readonly message: string;
      readonly details: Readonly<Record<string, number>>;
    };

interface ProducerEntry {
  /** The highest epoch seen. */
  readonly epoch: number;
  /** The last batches of that epoch, oldest first, consecutive sequences; never empty. */
  readonly batches: ProducerBatch[];
}

const APPEND: ProducerVerdict = { outcome: 'append' };

/**
 * Idempotent-producer state of one partition (Kafka's semantics, with batch-level sequences):
 * per producer id the highest epoch seen and the last {@link PRODUCER_BATCH_WINDOW} batches of
 * that epoch with their offsets.
 *
 * - A batch whose (id, epoch, sequence) is among those batches is a retry: a duplicate.
 * - An epoch below the highest seen is fenced (`PRODUCER_FENCED`).
 * - A new epoch, and a producer the table does not know, must start at sequence 0; within an
 *   epoch the next sequence is the last plus one. Anything else is `OUT_OF_ORDER_SEQUENCE`.
 *
 * Memory is bounded: at most `maxProducers` ids are kept, the least recently appended one is
 * forgotten first. A forgotten producer is unknown again: its retries are no longer recognised
 * (a retry at its old sequence gets `OUT_OF_ORDER_SEQUENCE`, so the client learns it must start
 * a new epoch at 0) and its old epochs are no longer fenced. Only appends count as use, so the
 * state depends only on the appended batches (see `applied-row.ts`).
 */
export class ProducerTable {
  readonly maxProducers: number;
  /** Insertion order is recency: the first key is the least recently appended producer. */
  readonly #producers = new Map<string, ProducerEntry>();

  constructor(maxProducers: number) {
    this.maxProducers = maxProducers;
  }

  /** Number of producers remembered. */
  get size(): number {
    return this.#producers.size;
  }

  /** Decide about a tagged batch without changing anything. */
  check(tag: ProducerTag): ProducerVerdict {
    const entry = this.#producers.get(tag.id);
    if (entry === undefined) return tag.sequence === 0 ? APPEND : outOfOrder(tag, 0);
    if (tag.epoch < entry.epoch) {
      return {
        outcome: 'rejected',
        code: 'PRODUCER_FENCED',
        message: `producer ${JSON.stringify(tag.id)} epoch ${tag.epoch} is fenced by epoch ${entry.epoch}`,
        details: { epoch: tag.epoch, current_epoch: entry.epoch },
      };
    }
    if (tag.epoch > entry.epoch) return tag.sequence === 0 ? APPEND : outOfOrder(tag, 0);
    const last = entry.batches[entry.batches.length - 1]!;
    if (tag.sequence === last.sequence + 1) return APPEND;
    // Sequences in the window are consecutive, so a retry's place in it is arithmetic.
    const at = entry.batches.length - 1 - (last.sequence - tag.sequence);
    if (at >= 0 && at < entry.batches.length) return { outcome: 'duplicate', batch: entry.batches[at]! };
    return outOfOrder(tag, last.sequence + 1);
  }

  /** Record an appended batch (one {@link check} accepted) and make its producer the most recent. */
  record(tag: ProducerTag, baseOffset: number, lastOffset: number): void {
    const old = this.#producers.get(tag.id);
    this.#producers.delete(tag.id);
    const entry: ProducerEntry =
      old !== undefined && old.epoch === tag.epoch ? old : { epoch: tag.epoch, batches: [] };
    entry.batches.push({ sequence: tag.sequence, baseOffset, lastOffset });
    if (entry.batches.length > PRODUCER_BATCH_WINDOW) entry.batches.shift();
    this.#producers.set(tag.id, entry);
    if (this.#producers.size > this.maxProducers)
      this.#producers.delete(this.#producers.keys().next().value!);
  }

  /**
   * The table as plain data, least recently appended first:
   * `[[id, epoch, sequence, baseOffset, lastOffset, sequence, ...], ...]`.
   */
  toSnapshot(): unknown[] {
    const out: unknown[] = [];
    for (const [id, { epoch, batches }] of this.#producers) {
      const row: unknown[] = [id, epoch];
      for (const b of batches) row.push(b.sequence, b.baseOffset, b.lastOffset);
      out.push(row);
    }
    return out;
  }

  /**
   * Rebuild from {@link toSnapshot}'s data; every offset must be below `endOffset`. Throws
   * `STORAGE_CORRUPT` when the data is inconsistent.
   */
  static fromSnapshot(maxProducers: number, data: unknown, endOffset: number): ProducerTable {
    const corrupt = (why: string) => new RaftlogError('STORAGE_CORRUPT', `corrupt producer state: ${why}`);
    if (!Array.isArray(data) || data.length > maxProducers)
      throw corrupt('not a list of at most maxProducers');
    const table = new ProducerTable(maxProducers);
    for (const row of data) {
      if (!Array.isArray(row) || row.length < 5 || (row.length - 2) % 3 !== 0)
        throw corrupt('malformed producer');
      const [id, epoch] = row;
      const problem = producerProblem(id, epoch, 0);
      if (problem !== undefined) throw corrupt(problem);
      if (table.#producers.has(id)) throw corrupt('producer listed twice');
      const batches: ProducerBatch[] = [];
      for (let at = 2; at < row.length; at += 3) {
        const [sequence, baseOffset, lastOffset] = row.slice(at, at + 3);
        const prev = batches[batches.length - 1];
        if (
          !isCount(sequence) ||
          !isCount(baseOffset) ||
          !isCount(lastOffset) ||
          baseOffset > lastOffset ||
          lastOffset >= endOffset ||
          (prev !== undefined && (sequence !== prev.sequence + 1 || baseOffset <= prev.lastOffset))
        ) {
          throw corrupt(`bad batch for producer ${JSON.stringify(id)}`);
        }
        batches.push({ sequence, baseOffset, lastOffset });
      }
      if (batches.length > PRODUCER_BATCH_WINDOW) throw corrupt('too many batches');
      table.#producers.set(id, { epoch, batches });
    }
    return table;
  }
}

function outOfOrder(tag: ProducerTag, expected: number): ProducerVerdict {
  return {
    outcome: 'rejected',
    code: 'OUT_OF_ORDER_SEQUENCE',
    message: `producer ${JSON.stringify(tag.id)} epoch ${tag.epoch}: sequence ${tag.sequence}, expected ${expected}`,
    details: { epoch: tag.epoch, sequence: tag.sequence, expected_sequence: expected },
  };
}
