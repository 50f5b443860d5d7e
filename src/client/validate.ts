import { RaftlogError } from '../errors.js';

/** Checks on what callers pass to the client: INVALID_REQUEST naming the argument. */

/** `value` as a safe integer from `min` up, else INVALID_REQUEST. */
export function checkCount(name: string, value: unknown, min = 0): number {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw new RaftlogError('INVALID_REQUEST', `${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value as number;
}

/** A topic name: a non-empty string (the broker checks the rest). */
export function checkTopic(topic: unknown): string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new RaftlogError('INVALID_REQUEST', 'topic must be a non-empty string');
  }
  return topic;
}
