import { RaftlogError } from '../errors.js';

/**
 * Strict checks for what arrives over HTTP. Every failure is an `INVALID_REQUEST` naming the
 * field, so a client sees what to fix; nothing past these checks re-validates.
 */

/** Largest count the API accepts anywhere it takes an int32 (partitions, replication factor). */
export const MAX_INT32 = 0x7fffffff;

/** An `INVALID_REQUEST` error. */
export function invalid(message: string): RaftlogError {
  return new RaftlogError('INVALID_REQUEST', message);
}

/** Inclusive bounds for a count. */
export interface CountRange {
  readonly min?: number;
  readonly max?: number;
}

/** True for a safe integer ≥ 0. */
export function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

/** `value` as a safe integer within `range` (default 0 to 2^53-1), else INVALID_REQUEST. */
export function checkCount(field: string, value: unknown, range: CountRange = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  if (!isCount(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

const DIGITS = /^[0-9]{1,16}$/;

/**
 * A count written in a URL (path segment or query value): decimal digits only, so `-1`, `1.5`,
 * `1e3`, `+1`, ` 1` and `0x10` are all rejected, then checked like {@link checkCount}.
 */
export function parseCount(field: string, text: string, range: CountRange = {}): number {
  if (!DIGITS.test(text)) {
    throw invalid(
      `${field} must be a non-negative decimal integer, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return checkCount(field, Number(text), range);
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** A topic name by Kafka's rule: 1 to 249 of `[a-zA-Z0-9._-]`, and not `.` or `..`. */
export function checkTopicName(value: unknown): string {
  if (typeof value !== 'string' || !TOPIC_NAME.test(value) || value === '.' || value === '..') {
    throw invalid('topic name must be 1 to 249 characters of [a-zA-Z0-9._-], and not "." or ".."');
  }
  return value;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/** A string that UTF-8 can carry (no lone surrogates), else INVALID_REQUEST. */
export function checkText(field: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  if (LONE_SURROGATE.test(value)) throw invalid(`${field} must be well-formed Unicode`);
  return value;
}

/**
 * `value` as a plain object whose keys are all in `allowed` when given (unknown fields are
 * rejected, so a misspelt field is an error rather than silently ignored).
 */
export function checkObject(
  field: string,
  value: unknown,
  allowed?: readonly string[],
): Record<string, unknown> {
  const proto = typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined;
  if (proto !== Object.prototype && proto !== null) throw invalid(`${field} must be an object`);
  const object = value as Record<string, unknown>;
  const unknown =
    allowed === undefined ? undefined : Object.keys(object).find((key) => !allowed.includes(key));
  if (unknown !== undefined)
    throw invalid(`${field} has an unknown field ${JSON.stringify(unknown.slice(0, 40))}`);
  return object;
}

/**
 * A query string as parsed by the router (an object of strings, arrays for repeated names),
 * checked: only `allowed` names, each at most once. Returns the values by name.
 */
export function checkQuery(query: unknown, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(query ?? {})) {
    if (!allowed.includes(name))
      throw invalid(`unknown query parameter ${JSON.stringify(name.slice(0, 40))}`);
    if (typeof value !== 'string') throw invalid(`query parameter ${name} must be given once`);
    out[name] = value;
  }
  return out;
}
