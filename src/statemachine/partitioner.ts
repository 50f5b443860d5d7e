import { RaftlogError } from '../errors.js';

/**
 * Kafka's default partitioner, so a key lands on the partition a Kafka client would choose:
 * `toPositive(murmur2(keyBytes)) % numPartitions`; records without a key go round-robin.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * MurmurHash2 (32-bit) of `data` as Kafka's `Utils.murmur2` computes it: seed 0x9747b28c, the
 * bytes read as little-endian 32-bit words, the 1 to 3 trailing bytes folded in at the end.
 * Returns a signed 32-bit integer, as Java does.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[whole + 2]! << 16;
    if (tail >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not `Math.abs`, which fails for -2^31). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's default partitioner gives `key` among `numPartitions`. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  checkPartitionCount(numPartitions);
  return toPositive(murmur2(key)) % numPartitions;
}

/**
 * The default partitioner with its round-robin state: keyed records hash (an empty key is a key),
 * keyless ones take the partitions in turn. Keep one per topic.
 */
export class DefaultPartitioner {
  #counter: number;

  /** `start` is where the round-robin begins (default 0). */
  constructor(start = 0) {
    if (!Number.isSafeInteger(start))
      throw new RaftlogError('INVALID_REQUEST', 'round-robin start must be an integer');
    this.#counter = start | 0;
  }

  /** The partition for a record with `key` (or none) among `numPartitions`. */
  partition(key: Uint8Array | undefined, numPartitions: number): number {
    if (key !== undefined) return partitionForKey(key, numPartitions);
    checkPartitionCount(numPartitions);
    const p = toPositive(this.#counter) % numPartitions;
    this.#counter = (this.#counter + 1) | 0; // wraps like Java's int counter
    return p;
  }
}

function checkPartitionCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > 0x7fffffff) {
    throw new RaftlogError(
      'INVALID_REQUEST',
      `partition count must be an integer from 1 to 2^31-1, got ${n}`,
    );
  }
}
