import { RaftlogError } from '../errors.js';
import type { TopicConfigs } from '../statemachine/metadata.js';

/** The value of a retention config that means "no limit" (as in Kafka). */
export const UNLIMITED = -1;

/**
 * How long and how much of a topic's partitions is kept: Kafka's `retention.ms` and
 * `retention.bytes`, both {@link UNLIMITED} by default. The partition leader drops the oldest
 * entries (whole produce requests, never part of one) whose timestamp is older than `ms`, and the
 * oldest entries until the rest takes at most `bytes` (entry data sizes). Consumers are not waited
 * for.
 */
export interface RetentionLimits {
  readonly ms: number;
  readonly bytes: number;
}

const RETENTION_CONFIGS = { 'retention.ms': 'ms', 'retention.bytes': 'bytes' } as const;
const INTEGER = /^-?[0-9]+$/;

/** A retention value as a number (≥ 0, or -1), from a number or a decimal string; else undefined. */
function retentionValue(value: string | number | boolean | undefined): number | undefined {
  const n = typeof value === 'string' && INTEGER.test(value) ? Number(value) : value;
  return Number.isSafeInteger(n) && (n as number) >= UNLIMITED ? (n as number) : undefined;
}

/**
 * The configs of a new topic, checked, with retention values as numbers. Throws
 * `INVALID_REQUEST` when a retention config is not a non-negative integer or -1. Other configs
 * are kept as given.
 */
export function checkTopicConfigs(configs: TopicConfigs): TopicConfigs {
  const out: Record<string, string | number | boolean> = { ...configs };
  for (const name of Object.keys(RETENTION_CONFIGS)) {
    if (!(name in configs)) continue;
    const n = retentionValue(configs[name]);
    if (n === undefined) {
      throw new RaftlogError(
        'INVALID_REQUEST',
        `${name} must be a non-negative integer, or -1 for unlimited`,
      );
    }
    out[name] = n;
  }
  return out;
}

/** The retention limits a topic's configs set. */
export function retentionLimits(configs: TopicConfigs): RetentionLimits {
  return {
    ms: retentionValue(configs['retention.ms']) ?? UNLIMITED,
    bytes: retentionValue(configs['retention.bytes']) ?? UNLIMITED,
  };
}

/** True when the limits may drop anything. */
export function hasRetention(limits: RetentionLimits): boolean {
  return limits.ms !== UNLIMITED || limits.bytes !== UNLIMITED;
}
