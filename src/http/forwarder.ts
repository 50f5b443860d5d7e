import { Agent, type Dispatcher, request } from 'undici';
import { formatOfContentType, parseBody } from './media.js';
import { isCount } from './validate.js';

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
  /** Abandons the forwarded request (its client went away). */
  readonly signal?: AbortSignal;
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

  readonly #brokerUrl: (id: number) => string | undefined;

  /**
   * `timeoutMs` bounds connecting and waiting for the leader's answer; `brokerUrl` finds the URL
   * of a leader that a forwarded-to broker names instead of answering (see {@link forward}).
   */
  constructor(selfId: number, timeoutMs: number, brokerUrl: (id: number) => string | undefined) {
    this.#selfId = selfId;
    this.#timeoutMs = timeoutMs;
    this.#brokerUrl = brokerUrl;
    this.#agent = new Agent({ connect: { timeout: timeoutMs } });
  }

  /**
   * Send `req` on; rejects when the leader cannot be reached or does not answer in time. When the
   * broker it went to answers NOT_LEADER naming another leader (it was only a guess: this broker
   * does not host the partition and asked its preferred replica), the request follows once to the
   * leader named, so brokers that host no replica of a partition still serve it.
   */
  async forward(req: ForwardRequest): Promise<ForwardedResponse> {
    const first = await this.#send(req);
    const leader = namedLeader(first);
    const url = leader === undefined || leader === this.#selfId ? undefined : this.#brokerUrl(leader);
    if (url === undefined || new URL(url).origin === new URL(req.baseUrl).origin) return first;
    return this.#send({ ...req, baseUrl: url });
  }

  async #send(req: ForwardRequest): Promise<ForwardedResponse> {
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
      ...(req.signal ? { signal: req.signal } : {}),
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

/** The leader id of a 503 NOT_LEADER answer, if that is what `res` is. */
function namedLeader(res: ForwardedResponse): number | undefined {
  if (res.status !== 503) return undefined;
  const format = formatOfContentType(res.contentType);
  if (format === undefined) return undefined;
  let body: unknown;
  try {
    body = parseBody(format, res.body).value;
  } catch {
    return undefined;
  }
  const b = body as { code?: unknown; leader_id?: unknown } | null;
  return b?.code === 'NOT_LEADER' && isCount(b.leader_id) ? b.leader_id : undefined;
}
