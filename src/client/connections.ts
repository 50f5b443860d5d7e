import { Packr, Unpackr } from 'msgpackr';
import { type Dispatcher, Pool } from 'undici';
import { RaftlogError } from '../errors.js';
import { errorFromAnswer, errorFromTransport } from './errors.js';

/**
 * The client's HTTP layer: one keep-alive undici {@link Pool} per broker origin, msgpack bodies
 * (keys and values travel as raw bytes), answers decoded by their content type (a broker answers
 * some errors in JSON whatever was asked), and every failure turned into a `RaftlogClientError`.
 */

const MSGPACK_TYPE = 'application/vnd.msgpack';
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** One request to a broker. */
export interface BrokerRequest {
  readonly method: Dispatcher.HttpMethod;
  /** Path and query, e.g. `/v1/topics/orders`. */
  readonly path: string;
  /** Sent as msgpack. */
  readonly body?: unknown;
  /** How long to wait for the answer. */
  readonly timeoutMs: number;
  /** Aborts the request; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Connections}. */
export interface ConnectionOptions {
  /** Time allowed to open a connection. */
  readonly connectTimeoutMs: number;
  /** Most connections to one broker. */
  readonly connectionsPerBroker: number;
}

/** Keep-alive connection pools to brokers, by origin. */
export class Connections {
  readonly #pools = new Map<string, Pool>();
  readonly #options: ConnectionOptions;
  #closed = false;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  /**
   * Send `req` to the broker at `origin`; resolves with the decoded body of a 2xx answer
   * (undefined when empty), rejects with a `RaftlogClientError` otherwise.
   */
  async call(origin: string, req: BrokerRequest): Promise<unknown> {
    const pool = this.#pool(origin);
    let res: Dispatcher.ResponseData;
    let bytes: Buffer;
    try {
      res = await pool.request({
        method: req.method,
        path: req.path,
        headers: {
          accept: MSGPACK_TYPE,
          ...(req.body === undefined ? {} : { 'content-type': MSGPACK_TYPE }),
        },
        ...(req.body === undefined ? {} : { body: Buffer.from(packr.pack(req.body)) }),
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        ...(req.signal === undefined ? {} : { signal: req.signal }),
      });
      bytes = Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason;
      throw errorFromTransport(origin, err);
    }
    const body = decode(res.headers['content-type'], bytes);
    if (res.statusCode >= 400) throw errorFromAnswer(res.statusCode, body);
    return body;
  }

  /** Close every pool; requests in flight finish first. */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  #pool(origin: string): Pool {
    if (this.#closed) throw new RaftlogError('INVALID_REQUEST', 'the client is closed');
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.#options.connectionsPerBroker,
        connect: { timeout: this.#options.connectTimeoutMs },
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }
}

function decode(contentType: string | string[] | undefined, bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  const type = String(contentType ?? '').toLowerCase();
  try {
    if (type.startsWith(MSGPACK_TYPE)) return unpackr.unpack(bytes);
    if (type.startsWith('application/json')) return JSON.parse(bytes.toString('utf8'));
  } catch {
    // Not what the content type says: the caller gets the raw text.
  }
  return bytes.toString('utf8');
}
