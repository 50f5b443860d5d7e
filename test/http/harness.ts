import { Unpackr } from 'msgpackr';
import { request } from 'undici';
import { afterEach } from 'vitest';
import { createHttpServer, type HttpServer, type HttpServerOptions } from '../../src/http/server.js';
import { FakeBroker } from './fake-broker.js';

/** A running server over a fake broker. */
export interface Running {
  readonly broker: FakeBroker;
  readonly server: HttpServer;
  readonly url: string;
}

/**
 * `start(broker?, options?)` starts a server on 127.0.0.1, port 0, over `broker` (a new
 * {@link FakeBroker} by default) and registers it in `broker.urls`; every server started in a
 * test is closed after it, whether it passed or not.
 */
export function serverPool(): (
  broker?: FakeBroker,
  options?: Partial<HttpServerOptions>,
) => Promise<Running> {
  const started: HttpServer[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });
  return async (broker = new FakeBroker(), options = {}) => {
    const server = createHttpServer({ broker, ...options });
    started.push(server);
    const { url } = await server.listen('127.0.0.1', 0);
    broker.urls.set(broker.id, url);
    return { broker, server, url };
  };
}

/** An answer, its body decoded by content type (JSON, msgpack, else text). */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly contentType: string;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected field by field.
  readonly body: any;
}

const unpackr = new Unpackr({ useRecords: false });

/** Decode a body by its content type. */
export function decodeAnswer(contentType: string, bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  if (contentType.startsWith('application/json')) return JSON.parse(bytes.toString('utf8'));
  if (contentType.startsWith('application/vnd.msgpack')) return unpackr.unpack(bytes);
  return bytes.toString('utf8');
}

/** Options of {@link call}. */
export interface CallOptions {
  /** Sent as JSON (sets content-type). */
  readonly json?: unknown;
  /** Sent as is. */
  readonly body?: string | Buffer;
  readonly headers?: Record<string, string>;
}

/** One HTTP request to `url + path`. */
export async function call(
  url: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  const res = await request(`${url}${path}`, { method: method as 'GET', headers, body });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const contentType = String(res.headers['content-type'] ?? '');
  return {
    status: res.statusCode,
    headers: res.headers,
    contentType,
    body: decodeAnswer(contentType, bytes),
  };
}
