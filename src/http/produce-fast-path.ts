import type { IncomingMessage } from 'node:http';
import { JSON_TYPE, MSGPACK_TYPE, type WireFormat } from './media.js';

/**
 * The two produce routes served straight from Node's HTTP server, without fastify's request
 * lifecycle (its request and reply objects, hooks, body parser plumbing, router and send path):
 * at 64 requests in flight of 100 B that lifecycle was about a sixth of the HTTP layer's CPU per
 * request (BENCHMARKS.md, "CPU per record at 64 requests in flight"). The server runs the same
 * route handlers, forwarding and error answers for both (see `server.ts`), and answers the same
 * bytes (test/http/produce-fast-path.test.ts).
 *
 * Only the plain requests take it: POST, a path of only unescaped characters and no query string,
 * a Content-Type of exactly `application/json` or `application/vnd.msgpack`, and a Content-Length
 * within the body limit. Anything else (another route, a query string, percent-encoded or overlong
 * path parameters, a Content-Type with parameters, a chunked or empty body...) goes to fastify,
 * which answers it as it always did.
 */

/** A produce request the fast path takes: its route, path parameters and body format. */
export interface FastProduce {
  /** The partition route (`/partitions/:partition/records`), else the topic's. */
  readonly partitioned: boolean;
  readonly params: { readonly topic: string; readonly partition?: string };
  readonly format: WireFormat;
}

// Characters that neither need percent-decoding nor reach fastify's limits (a topic name is at
// most 249 characters; a longer one, or a longer partition, is fastify's to answer).
const PRODUCE_PATH = /^\/v1\/topics\/([a-zA-Z0-9._-]{1,249})\/(?:partitions\/([0-9]{1,16})\/)?records$/;

/** The fast path's reading of `req`, or `undefined` when fastify should serve it. */
export function fastProduce(req: IncomingMessage, maxBodyBytes: number): FastProduce | undefined {
  if (req.method !== 'POST') return undefined;
  const contentType = req.headers['content-type'];
  const format = contentType === JSON_TYPE ? 'json' : contentType === MSGPACK_TYPE ? 'msgpack' : undefined;
  if (format === undefined || req.headers['transfer-encoding'] !== undefined) return undefined;
  // Node's parser already refused malformed Content-Length headers.
  const length = Number(req.headers['content-length']);
  if (!(length >= 1 && length <= maxBodyBytes)) return undefined;
  const path = PRODUCE_PATH.exec(req.url ?? '');
  if (path === null) return undefined;
  const [, topic, partition] = path as unknown as [string, string, string | undefined];
  return partition === undefined
    ? { partitioned: false, params: { topic }, format }
    : { partitioned: true, params: { topic, partition }, format };
}

/**
 * Read `req`'s whole body, then call `done` with it. Nothing is called when the request is cut
 * off: its client is gone, and Node's own timeouts answer slow uploads.
 */
export function readBody(req: IncomingMessage, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
}
