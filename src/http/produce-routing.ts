import type { ProduceRecord } from '../broker/api.js';
import { RaftlogError } from '../errors.js';
import type { DefaultPartitioner } from '../statemachine/partitioner.js';
import type { ErrorBody, ErrorReply } from './error-response.js';
import type { ProduceEntry } from './produce-body.js';

/**
 * `POST /v1/topics/{topic}/records`: records are spread over partitions (explicit `partition`,
 * else Kafka's key hash, else round-robin), sent as one batch per partition, and the answer lists
 * each record's offset, or its batch's error, in request order.
 */

/** The records of one request that go to one partition, with their places in the request. */
export interface PartitionBatch {
  readonly partition: number;
  readonly records: ProduceRecord[];
  readonly positions: number[];
}

/**
 * Group `entries` by partition, in order of first appearance; records keep their request order
 * within a batch. An explicit partition outside the topic is PARTITION_NOT_FOUND.
 */
export function groupByPartition(
  topic: string,
  entries: readonly ProduceEntry[],
  partitionCount: number,
  partitioner: DefaultPartitioner,
): PartitionBatch[] {
  const batches = new Map<number, PartitionBatch>();
  entries.forEach(({ record, partition: asked }, position) => {
    if (asked !== undefined && asked >= partitionCount) {
      throw new RaftlogError(
        'PARTITION_NOT_FOUND',
        `records[${position}]: topic ${topic} has no partition ${asked} (it has ${partitionCount})`,
      );
    }
    const partition = asked ?? partitioner.partition(record.key, partitionCount);
    let batch = batches.get(partition);
    if (batch === undefined) {
      batch = { partition, records: [], positions: [] };
      batches.set(partition, batch);
    }
    batch.records.push(record);
    batch.positions.push(position);
  });
  return [...batches.values()];
}

/** What became of one partition's batch: its base offset, or the error that answered it. */
export type BatchOutcome = { readonly baseOffset: number } | { readonly error: ErrorReply };

/** One record's line in the answer: its offset, or its batch's error body. */
export type RecordOutcome =
  | { readonly partition: number; readonly offset: number }
  | (ErrorBody & { partition: number });

/**
 * The answer: 200 `{"offsets":[{"partition","offset"}]}` when every batch was written, else 207
 * with the error body (plus `partition`) in place of the offset for each record of a failed batch.
 */
export function offsetsInRequestOrder(
  batches: readonly PartitionBatch[],
  outcomes: readonly BatchOutcome[],
): { status: 200 | 207; body: { offsets: RecordOutcome[] } } {
  const offsets: RecordOutcome[] = [];
  let failed = false;
  batches.forEach((batch, b) => {
    const outcome = outcomes[b]!;
    batch.positions.forEach((position, i) => {
      if ('error' in outcome) {
        failed = true;
        offsets[position] = { partition: batch.partition, ...outcome.error.body };
      } else {
        offsets[position] = { partition: batch.partition, offset: outcome.baseOffset + i };
      }
    });
  });
  return { status: failed ? 207 : 200, body: { offsets } };
}
