import type { ErrorCode } from '../errors.js';

/**
 * The one mapping from error code to HTTP: every {@link ErrorCode} gets a numeric `error_code`
 * whose first three digits are the HTTP status (`status = Math.trunc(error_code / 100)`) and
 * whether retrying the same request may succeed. Codes ending in `00` are HTTP-level answers that
 * no broker error stands behind. The documented table is `docs/errors.md` (a test keeps the two
 * in step).
 */

/** How one code is presented over HTTP. */
export interface HttpErrorMapping {
  /** Five digits; the first three are the HTTP status. */
  readonly errorCode: number;
  /** True when the same request may succeed later (possibly on another broker). */
  readonly retriable: boolean;
}

function entry(errorCode: number, retriable: boolean): HttpErrorMapping {
  return { errorCode, retriable };
}

/** Every code, with its `error_code` and retriability. */
export const ERROR_TABLE: Readonly<Record<ErrorCode, HttpErrorMapping>> = {
  INVALID_REQUEST: entry(40001, false),
  ROUTE_NOT_FOUND: entry(40400, false),
  TOPIC_NOT_FOUND: entry(40401, false),
  PARTITION_NOT_FOUND: entry(40402, false),
  GROUP_NOT_FOUND: entry(40403, false),
  UNKNOWN_MEMBER: entry(40403, false),
  BROKER_NOT_FOUND: entry(40404, false),
  MOVE_NOT_FOUND: entry(40405, false),
  METHOD_NOT_ALLOWED: entry(40500, false),
  REQUEST_TIMEOUT: entry(40800, true),
  TOPIC_EXISTS: entry(40901, false),
  PRODUCER_FENCED: entry(40902, false),
  OUT_OF_ORDER_SEQUENCE: entry(40902, false),
  STALE_GENERATION: entry(40903, false),
  MOVE_IN_PROGRESS: entry(40904, false),
  BROKER_NOT_EMPTY: entry(40905, false),
  RECORD_TOO_LARGE: entry(41301, false),
  UNSUPPORTED_MEDIA_TYPE: entry(41501, false),
  OFFSET_OUT_OF_RANGE: entry(41601, false),
  HEADERS_TOO_LARGE: entry(43100, false),
  INTERNAL_ERROR: entry(50000, false),
  // Broker-internal failures that should not reach a client; if one does, the broker is unwell.
  STORAGE_CORRUPT: entry(50001, false),
  STORAGE_FAILED: entry(50001, false),
  STORAGE_VERSION: entry(50001, false),
  DATA_DIR_LOCKED: entry(50001, false),
  LOG_COMPACTED: entry(50001, false),
  LOG_UNAVAILABLE: entry(50001, false),
  SNAPSHOT_OUT_OF_DATE: entry(50001, false),
  NOT_LEADER: entry(50301, true),
  NO_LEADER: entry(50302, true),
  // Transient: the proposal was not taken (leadership moved) or the store is shutting down.
  PROPOSAL_DROPPED: entry(50303, true),
  STORAGE_CLOSED: entry(50303, true),
  COMMIT_TIMEOUT: entry(50401, true),
};

/** The HTTP status of an `error_code`. */
export function statusOf(errorCode: number): number {
  return Math.trunc(errorCode / 100);
}
