import { type ErrorCode, ErrorCodes, RaftlogError } from '../errors.js';

/**
 * The client's errors: every failed call rejects with a {@link RaftlogClientError}, a
 * {@link RaftlogError} that also carries what the broker answered.
 *
 * `code` is always one of raftlog's stable {@link ErrorCode}s, so `isErrorCode(err, 'TOPIC_NOT_FOUND')`
 * works on client errors as on embedded ones. Answers without a broker code of their own map as
 * follows (the code the broker sent is kept in `serverCode`):
 *
 * | what happened | `code` |
 * |---|---|
 * | an error body whose `code` is a raftlog code | that code |
 * | an error body with a code this client does not know (a newer broker): 4xx | `INVALID_REQUEST` |
 * | the same, 5xx, or an answer that is not an error body | `INTERNAL_ERROR` |
 * | no broker could be connected to | `NO_LEADER` (retriable) |
 * | a request was sent but no answer came (timeout, connection lost) | `COMMIT_TIMEOUT` (retriable, outcome unknown) |
 */

/** Facts an error body may carry, by their wire names. */
export interface ErrorFacts {
  /** NOT_LEADER: the leader's broker id and client URL, when known. */
  readonly leader_id?: number;
  readonly leader_url?: string;
  /** OFFSET_OUT_OF_RANGE: the partition's range of offsets. */
  readonly log_start_offset?: number;
  readonly high_watermark?: number;
  /** PRODUCER_FENCED: the epoch that fenced the producer. */
  readonly current_epoch?: number;
  /** OUT_OF_ORDER_SEQUENCE: the sequence the partition expected. */
  readonly expected_sequence?: number;
  /** STALE_GENERATION: the group's current generation. */
  readonly generation?: number;
}

/** What a {@link RaftlogClientError} is made of besides its code and message. */
export interface ClientErrorInit {
  /** HTTP status of the answer; undefined when no answer came. */
  readonly status?: number;
  /** The body's five-digit `error_code`; undefined when the answer had none. */
  readonly errorCode?: number;
  /** The `code` as the broker sent it; undefined when the answer had none. */
  readonly serverCode?: string;
  /** True when the same request may succeed later (possibly on another broker). */
  readonly retriable: boolean;
  readonly facts?: ErrorFacts;
  readonly cause?: unknown;
}

/** A failed client call: a {@link RaftlogError} plus the broker's answer (see the module's table). */
export class RaftlogClientError extends RaftlogError {
  /** HTTP status of the answer; undefined when no broker answered. */
  readonly status: number | undefined;
  /** The error body's `error_code` (status × 100 + n); undefined without an error body. */
  readonly errorCode: number | undefined;
  /** The `code` the broker sent (may be an HTTP-only code such as ROUTE_NOT_FOUND). */
  readonly serverCode: string | undefined;
  /** True when the same request may succeed later (possibly on another broker). */
  readonly retriable: boolean;
  /** Facts from the error body (`details` holds the same, by their wire names). */
  readonly facts: ErrorFacts;

  constructor(code: ErrorCode, message: string, init: ClientErrorInit) {
    super(code, message, {
      ...(init.cause === undefined ? {} : { cause: init.cause }),
      details: { ...init.facts },
    });
    this.status = init.status;
    this.errorCode = init.errorCode;
    this.serverCode = init.serverCode;
    this.retriable = init.retriable;
    this.facts = init.facts ?? {};
  }
}

const BROKER_CODES: ReadonlySet<string> = new Set(ErrorCodes);

const FACT_NAMES = [
  'leader_id',
  'log_start_offset',
  'high_watermark',
  'current_epoch',
  'expected_sequence',
  'generation',
] as const;

/** The error for an answer with status ≥ 400 and its decoded body (anything). */
export function errorFromAnswer(status: number, body: unknown): RaftlogClientError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const serverCode = typeof b.code === 'string' ? b.code : undefined;
  const errorCode = Number.isSafeInteger(b.error_code) ? (b.error_code as number) : undefined;
  if (serverCode === undefined || errorCode === undefined) {
    return new RaftlogClientError(
      'INTERNAL_ERROR',
      `unexpected answer: HTTP ${status} without an error body`,
      {
        status,
        retriable: false,
      },
    );
  }
  const facts: Record<string, unknown> = {};
  for (const name of FACT_NAMES) if (Number.isSafeInteger(b[name])) facts[name] = b[name];
  if (typeof b.leader_url === 'string') facts.leader_url = b.leader_url;
  const code: ErrorCode = BROKER_CODES.has(serverCode)
    ? (serverCode as ErrorCode)
    : status < 500
      ? 'INVALID_REQUEST'
      : 'INTERNAL_ERROR';
  const message = typeof b.message === 'string' ? b.message : serverCode;
  return new RaftlogClientError(code, message, {
    status,
    errorCode,
    serverCode,
    retriable: b.retriable === true,
    facts,
  });
}

/** Undici error codes meaning the connection was never made, so the request was not sent. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The error for a request that got no answer from `origin`. */
export function errorFromTransport(origin: string, err: unknown): RaftlogClientError {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && NOT_CONNECTED.has(code)) {
    return new RaftlogClientError('NO_LEADER', `cannot connect to ${origin} (${code})`, {
      retriable: true,
      cause: err,
    });
  }
  return new RaftlogClientError(
    'COMMIT_TIMEOUT',
    `no answer from ${origin}: ${(err as Error)?.message ?? String(err)}; the outcome is unknown`,
    { retriable: true, cause: err },
  );
}

/** True when `err` says the request never reached a broker (so no broker acted on it). */
export function wasNotSent(err: unknown): boolean {
  return err instanceof RaftlogClientError && err.status === undefined && err.code === 'NO_LEADER';
}
