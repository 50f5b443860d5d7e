/**
 * Every error raftlog raises carries a stable string `code`. Messages may change between versions;
 * codes never do. The table of codes, with what each means, is in `docs/errors.md`; the mapping
 * from code to HTTP status lives only in `src/http/`.
 */
export const ErrorCodes = [
  // Request validation and lookups (client errors).
  'INVALID_REQUEST',
  'TOPIC_NOT_FOUND',
  'PARTITION_NOT_FOUND',
  'GROUP_NOT_FOUND',
  'UNKNOWN_MEMBER',
  'TOPIC_EXISTS',
  'PRODUCER_FENCED',
  'OUT_OF_ORDER_SEQUENCE',
  'STALE_GENERATION',
  'RECORD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'OFFSET_OUT_OF_RANGE',
  // Cluster membership and replica moves.
  'BROKER_NOT_FOUND',
  'BROKER_NOT_EMPTY',
  'MOVE_IN_PROGRESS',
  'MOVE_NOT_FOUND',
  // Availability (retriable).
  'NOT_LEADER',
  'NO_LEADER',
  'COMMIT_TIMEOUT',
  // Raft core.
  'PROPOSAL_DROPPED',
  'LOG_COMPACTED',
  'LOG_UNAVAILABLE',
  'SNAPSHOT_OUT_OF_DATE',
  // Storage.
  'STORAGE_CORRUPT',
  'STORAGE_FAILED',
  'STORAGE_VERSION',
  'STORAGE_CLOSED',
  'DATA_DIR_LOCKED',
  // Answers of the HTTP layer itself, no broker error behind them.
  'ROUTE_NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  /** An unexpected failure inside a broker (a bug); details are logged, never sent. */
  'INTERNAL_ERROR',
] as const;

/** A stable error code; see `docs/errors.md`. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** The one error class raftlog throws: a stable `code`, a human message, an optional cause. */
export class RaftlogError extends Error {
  override readonly name = 'RaftlogError';
  readonly code: ErrorCode;
  /** Structured facts a caller may act on (for example the leader's id, or the log start offset). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details ?? {};
  }
}

/** True when `err` is a {@link RaftlogError} with the given code. */
export function isErrorCode(err: unknown, code: ErrorCode): err is RaftlogError {
  return err instanceof RaftlogError && err.code === code;
}
