import { Agent, type Dispatcher, request } from 'undici';

/**
 * Sends a request on to the broker that leads what it is about, over a connection pool of its
 * own. Forwarded requests carry {@link FORWARDED_HEADER} (the forwarding broker's id), and a
 * request that carries it is never forwarded again, so a stale view of leadership cannot loop.
 */

/** Marks a request forwarded by a broker; its value is that broker's id. */
export const FORWARDED_HEADER = 'x-raftlog-forwarded';

/** A request to send on. */
export interface ForwardRequest {
  /** The leader's client URL (origin). */
  readonly baseUrl: string;
  readonly method: string;
  /** Path and query, as received. */
  readonly pathAndQuery: string;
  readonly contentType?: string;
  readonly accept?: string;
  readonly body?: Buffer;
  /** Time the leader may legitimately take on top of the forwarding timeout (a long poll). */
  readonly extraWaitMs?: number;
}

/** The leader's answer, to relay as is. */
export interface ForwardedResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** Forwards requests to other brokers; one per HTTP server. */
export class Forwarder {
  readonly #agent: Agent;
  readonly #selfId: number;
  readonly #timeoutMs: number;

  /** `timeoutMs` bounds connecting and waiting for the leader's answer. */
  constructor(selfId: number, timeoutMs: number) {
    this.#selfId = selfId;
    this.#timeoutMs = timeoutMs;
    this.#agent = new Agent({ connect: { timeout: timeoutMs } });
  }

  /** Send `req` on; rejects when the leader cannot be reached or does not answer in time. */
  async forward(req: ForwardRequest): Promise<ForwardedResponse> {
    const timeout = this.#timeoutMs + (req.extraWaitMs ?? 0);
    const headers: Record<string, string> = { [FORWARDED_HEADER]: String(this.#selfId) };
    if (req.contentType !== undefined) headers['content-type'] = req.contentType;
    if (req.accept !== undefined) headers.accept = req.accept;
    const res = await request(new URL(req.pathAndQuery, req.baseUrl), {
      dispatcher: this.#agent,
      method: req.method as Dispatcher.HttpMethod,
      headers,
      body: req.body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    const contentType = res.headers['content-type'];
    return {
      status: res.statusCode,
      contentType: typeof contentType === 'string' ? contentType : undefined,
      body,
    };
  }

  /** Close the pool (in-flight forwards finish first). */
  close(): Promise<void> {
    return this.#agent.close();
  }
}
