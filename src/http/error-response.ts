import { type ErrorCode, RaftlogError } from '../errors.js';
import { ERROR_TABLE, statusOf } from './error-table.js';

/**
 * Turning anything thrown into the error body of the contract:
 * `{"error_code","code","message","retriable"}` plus, for some codes, facts a client acts on.
 */

/** The body of every error answer. */
export interface ErrorBody {
  readonly error_code: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly retriable: boolean;
  /** Code-specific facts, e.g. `leader_id` and `leader_url` for NOT_LEADER. */
  readonly [fact: string]: unknown;
}

/** An error answer: its status (from the table) and body. */
export interface ErrorReply {
  readonly status: number;
  readonly body: ErrorBody;
  /** True for errors nobody anticipated (answered as INTERNAL_ERROR): log them. */
  readonly unexpected: boolean;
}

/** Looks up a broker's client URL by id, for NOT_LEADER answers. */
export type BrokerUrlLookup = (id: number) => string | undefined;

/** The answer for `code`, with `facts` added to the body. */
export function errorReply(
  code: ErrorCode,
  message: string,
  facts: Record<string, unknown> = {},
): ErrorReply {
  const { errorCode, retriable } = ERROR_TABLE[code];
  return {
    status: statusOf(errorCode),
    body: { error_code: errorCode, code, message, retriable, ...facts },
    unexpected: false,
  };
}

/**
 * Which `RaftlogError.details` become body fields, per code: `[body field, detail keys tried in
 * order]`. Only listed, non-negative integer facts are shown; nothing else of an error leaks.
 */
const PUBLIC_FACTS: Partial<Record<ErrorCode, ReadonlyArray<readonly [string, ...string[]]>>> = {
  NOT_LEADER: [['leader_id', 'leader', 'leader_id', 'leaderId']],
  OFFSET_OUT_OF_RANGE: [
    ['log_start_offset', 'log_start_offset', 'logStartOffset'],
    ['high_watermark', 'high_watermark', 'highWatermark'],
  ],
  PRODUCER_FENCED: [['current_epoch', 'current_epoch', 'currentEpoch']],
  OUT_OF_ORDER_SEQUENCE: [['expected_sequence', 'expected_sequence', 'expectedSequence']],
  STALE_GENERATION: [['generation', 'generation']],
  BROKER_NOT_EMPTY: [['replicas', 'replicas']],
};

function publicFacts(err: RaftlogError, brokerUrl: BrokerUrlLookup): Record<string, unknown> {
  const facts: Record<string, unknown> = {};
  for (const [field, ...keys] of PUBLIC_FACTS[err.code] ?? []) {
    const value = keys.map((k) => err.details[k]).find((v) => v !== undefined);
    if (Number.isSafeInteger(value) && (value as number) >= 0) facts[field] = value;
  }
  if (facts.leader_id !== undefined) {
    const url = brokerUrl(facts.leader_id as number);
    if (url !== undefined) facts.leader_url = url;
  }
  return facts;
}

/** Fastify's own request errors, by their `code`, as contract codes. */
const FRAMEWORK_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'RECORD_TOO_LARGE',
};

function isClientFrameworkError(err: Error & { code?: unknown; statusCode?: unknown }): boolean {
  return (
    typeof err.code === 'string' &&
    err.code.startsWith('FST_') &&
    typeof err.statusCode === 'number' &&
    err.statusCode >= 400 &&
    err.statusCode < 500
  );
}

/**
 * The answer for anything a handler threw: a {@link RaftlogError} by its code, fastify's request
 * errors (unsupported media type, body too large, bad content length...) by theirs, a client that
 * went away mid-upload as INVALID_REQUEST, and everything else as INTERNAL_ERROR with a generic
 * message (no stack, no internal message).
 */
export function replyForError(err: unknown, brokerUrl: BrokerUrlLookup): ErrorReply {
  if (err instanceof RaftlogError) return errorReply(err.code, err.message, publicFacts(err, brokerUrl));
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; statusCode?: unknown };
    const mapped = typeof e.code === 'string' ? FRAMEWORK_CODES[e.code] : undefined;
    if (mapped !== undefined) return errorReply(mapped, e.message);
    if (isClientFrameworkError(e)) return errorReply('INVALID_REQUEST', e.message);
    if (e.code === 'ECONNRESET' || e.message === 'aborted') {
      return errorReply('INVALID_REQUEST', 'the request was aborted');
    }
  }
  return { ...errorReply('INTERNAL_ERROR', 'internal error'), unexpected: true };
}
