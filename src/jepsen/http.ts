import { Agent, type Dispatcher, request } from 'undici';

/** The few HTTP calls the harness makes, with undici and a hard time limit per call. */

/** An answer: the status and the parsed JSON body (undefined when it was not JSON). */
export interface HttpAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: bodies are checked field by field where used
  readonly body: any;
}

/** Options of one call. */
export interface CallOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
  /** Whole-call limit: connecting, sending, waiting and reading (default 5000 ms). */
  readonly timeoutMs?: number;
}

/** A connection pool for a run's clients. */
export function clientAgent(): Agent {
  return new Agent({ connections: 64, pipelining: 1, keepAliveTimeout: 4000, connect: { timeout: 3000 } });
}

/**
 * One HTTP call. Rejects on network errors and when the time is up (the outcome is then unknown
 * to the caller); resolves with any status otherwise.
 */
export async function call(
  dispatcher: Dispatcher,
  url: string,
  options: CallOptions = {},
): Promise<HttpAnswer> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const res = await request(url, {
    dispatcher,
    method: options.method ?? 'GET',
    headers,
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.body.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body };
}

/** A short description of a rejected call, e.g. `UND_ERR_HEADERS_TIMEOUT` or `ECONNREFUSED`. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; name?: string; cause?: { code?: unknown } };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return e?.name ?? String(err);
}
