import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { BrokerApi } from '../broker/api.js';
import { type Logger, silentLogger } from '../logger.js';
import { BufferPool } from './buffer-pool.js';
import { type ErrorReply, errorReply, replyForError } from './error-response.js';
import { Forwarder } from './forwarder.js';
import { forwardTarget } from './forwarding.js';
import {
  CONTENT_TYPES,
  JSON_TYPE,
  MSGPACK_TYPE,
  type ParsedBody,
  parseBody,
  responseFormat,
  serialize,
  type WireFormat,
} from './media.js';
import { HttpMetrics, type Operation } from './metrics.js';
import { type FastProduce, fastProduce, readBody } from './produce-fast-path.js';
import { type Answer, buildRoutes, type RouteDef, type RouteRequest, wasForwarded } from './routes.js';

/** Options of {@link createHttpServer}. */
export interface HttpServerOptions {
  readonly broker: BrokerApi;
  /** Structured logger (pino's call shape); silent by default. */
  readonly logger?: Logger;
  /** Largest request body, in bytes (default 8 MiB); larger is 413 RECORD_TOO_LARGE. */
  readonly maxBodyBytes?: number;
  /** Largest record (key, value and headers), in bytes (default 1 MiB); larger is 413 RECORD_TOO_LARGE. */
  readonly maxRecordBytes?: number;
  /** Time allowed to reach a leader and get its answer when forwarding (default 10 s, plus any long poll). */
  readonly forwardTimeoutMs?: number;
  /** Time allowed to receive a whole request (default 30 s); slower uploads get 408 REQUEST_TIMEOUT. */
  readonly requestTimeoutMs?: number;
  /** Registry for `/metrics` (default: a new one for this server, never prom-client's global one). */
  readonly registry?: Registry;
}

/** Where a server listens. */
export interface BoundAddress {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
}

/** The HTTP API of one broker (issue 5's contract). */
export interface HttpServer {
  /** The `/metrics` registry: register the broker's own collectors here. */
  readonly registry: Registry;
  listen(host: string, port: number): Promise<BoundAddress>;
  /** Stop accepting connections, finish in-flight requests, close forwarding connections. Idempotent. */
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    operation?: Operation;
  }
}

/** Reused answer buffers kept (two catch-up readers' fetches of 8 MiB), and the largest one kept. */
const BODY_BUFFERS_KEPT = 2;
const BODY_BUFFER_BYTES = 16 * 1024 * 1024;

/** How long a connection answered outside fastify may wait for the client to close its side. */
const LINGER_MS = 5000;

const DEFAULTS = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxRecordBytes: 1024 * 1024,
  forwardTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

/** Create the HTTP server of `broker`; call `listen` to serve. */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { broker } = options;
  const logger = options.logger ?? silentLogger;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const maxRecordBytes = options.maxRecordBytes ?? DEFAULTS.maxRecordBytes;
  const forwardTimeoutMs = options.forwardTimeoutMs ?? DEFAULTS.forwardTimeoutMs;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs;
  const metrics = new HttpMetrics(broker, options.registry);
  const brokerUrl = (id: number) => broker.brokerUrl(id);
  const forwarder = new Forwarder(broker.id, forwardTimeoutMs, brokerUrl);

  const app = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    // Topic names are up to 249 characters, more once percent-encoded.
    routerOptions: { maxParamLength: 1024 },
    return503OnClosing: false,
    serverFactory: (handler) =>
      createServer(
        {
          requestTimeout: requestTimeoutMs,
          headersTimeout: Math.min(requestTimeoutMs, 60_000),
          connectionsCheckingInterval: Math.min(1000, requestTimeoutMs),
        },
        (req, res) => {
          const fast = fastProduce(req, maxBodyBytes);
          if (fast === undefined) handler(req, res);
          else serveProduce(fast, req, res);
        },
      )
        .on('connect', refuseRawRequest)
        .on('upgrade', refuseRawRequest),
    clientErrorHandler: answerClientError,
    frameworkErrors: (err, req, reply) => answerError(req, reply, err),
  });

  app.removeAllContentTypeParsers();
  for (const [type, format] of [
    [JSON_TYPE, 'json'],
    [MSGPACK_TYPE, 'msgpack'],
  ] as const) {
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, raw, done) => {
      try {
        done(null, parseBody(format, raw as Buffer));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
  }

  function send(
    req: FastifyRequest,
    reply: FastifyReply,
    answer: Answer,
    format: WireFormat = responseFormat(req.headers.accept, req.headers['content-type']),
  ): FastifyReply {
    const out = wireAnswer(answer, format);
    reply.code(out.status);
    if (out.sent) reply.raw.once('finish', out.sent);
    if (out.body === undefined) return reply.send();
    return reply.type(out.contentType).send(out.body);
  }

  function sendError(req: FastifyRequest, reply: FastifyReply, err: ErrorReply): FastifyReply {
    return send(req, reply, { status: err.status, body: err.body });
  }

  /** Answer a thrown error; the unexpected ones are logged here (they never reach the client). */
  function answerError(req: FastifyRequest, reply: FastifyReply, thrown: unknown): FastifyReply {
    return sendError(req, reply, errorAnswer(req, thrown));
  }

  function errorAnswer(req: RouteRequest, thrown: unknown): ErrorReply {
    const answer = replyForError(thrown, brokerUrl);
    if (answer.unexpected) {
      logger.error({ err: thrown, method: req.method, url: req.url }, 'unexpected error answering a request');
    }
    return answer;
  }

  /** What the route answers, or, when this broker cannot serve it, what the leader answered. */
  async function answerRoute(
    def: RouteDef,
    req: RouteRequest,
    format: WireFormat,
    clientGone: () => AbortSignal,
  ): Promise<Answer> {
    try {
      return await def.handle(req, format, clientGone);
    } catch (err) {
      return await forwardOrThrow(def, req, err, clientGone);
    }
  }

  async function forwardOrThrow(
    def: RouteDef,
    req: RouteRequest,
    err: unknown,
    clientGone: () => AbortSignal,
  ): Promise<Answer> {
    const target = forwardTarget(err, broker, wasForwarded(req));
    if (target === undefined) throw err;
    try {
      const res = await forwarder.forward({
        baseUrl: target.url,
        method: req.method,
        pathAndQuery: req.url,
        contentType: req.headers['content-type'],
        accept: req.headers.accept,
        body: rawBody(req),
        extraWaitMs: def.forwardWaitMs?.(req) ?? 0,
        signal: clientGone(),
      });
      metrics.countForward(def.operation, 'ok');
      return { status: res.status, raw: res.body, contentType: res.contentType };
    } catch (forwardErr) {
      metrics.countForward(def.operation, 'failed');
      logger.warn({ leader: target.leaderId, url: target.url, err: String(forwardErr) }, 'forwarding failed');
      throw err;
    }
  }

  const bodyBuffers = new BufferPool(BODY_BUFFERS_KEPT, BODY_BUFFER_BYTES);
  const routes = buildRoutes({ broker, metrics, forwarder, maxRecordBytes, brokerUrl, bodyBuffers });
  for (const def of routes) {
    app.route({
      method: def.method,
      url: def.url,
      config: { operation: def.operation },
      handler: async (req, reply) => {
        const format = responseFormat(req.headers.accept, req.headers['content-type']);
        return send(req, reply, await answerRoute(def, req, format, clientGoneOf(reply.raw)), format);
      },
    });
  }

  const produceRoutes = {
    topic: routes.find((def) => def.operation === 'produce')!,
    partition: routes.find((def) => def.operation === 'produce_partition')!,
  };

  /** A produce request without fastify (see `produce-fast-path.ts`): same handlers, same answers. */
  function serveProduce(fast: FastProduce, raw: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const def = fast.partitioned ? produceRoutes.partition : produceRoutes.topic;
    readBody(raw, (bytes) => {
      const format = responseFormat(raw.headers.accept, raw.headers['content-type']);
      const req: { -readonly [K in keyof RouteRequest]: RouteRequest[K] } = {
        method: 'POST',
        url: raw.url!,
        headers: raw.headers,
        params: fast.params,
        query: {},
        body: undefined,
      };
      const answer = (a: Answer, closing = false): void => {
        const sent = writeAnswer(res, wireAnswer(a, format), closing);
        metrics.observeRequest(
          def.operation,
          a.status,
          (performance.now() - started) / 1000,
          // Counted as fastify's hook does: the bytes of a body that parsed.
          rawBody(req)?.length ?? 0,
          sent,
        );
        logger.debug(
          {
            method: 'POST',
            url: req.url,
            status: a.status,
            ms: performance.now() - started,
            operation: def.operation,
          },
          'request',
        );
      };
      const fail = (err: unknown, closing = false): void => {
        const e = errorAnswer(req, err);
        answer({ status: e.status, body: e.body }, closing);
      };
      try {
        req.body = parseBody(fast.format, bytes);
      } catch (err) {
        // As fastify does after a body it could not parse: close the connection.
        fail(err, true);
        return;
      }
      answerRoute(def, req, format, clientGoneOf(res)).then(answer, fail);
    });
  }

  const paths = routes.map((def) => ({ pattern: pathPattern(def.url), method: def.method }));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?', 1)[0]!;
    const allowed: string[] = paths.filter((p) => p.pattern.test(path)).map((p) => p.method);
    if (allowed.length === 0) {
      return sendError(
        req,
        reply,
        errorReply('ROUTE_NOT_FOUND', `no route ${req.method} ${path.slice(0, 200)}`),
      );
    }
    if (allowed.includes('GET')) allowed.push('HEAD');
    reply.header('allow', allowed.join(', '));
    return sendError(
      req,
      reply,
      errorReply(
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed on ${path.slice(0, 200)}; use ${allowed.join(', ')}`,
      ),
    );
  });

  app.setErrorHandler((err, req, reply) => answerError(req, reply, err));

  // A callback hook, not an async one: no promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const operation = req.routeOptions.config.operation ?? 'unmatched';
    const received = rawBody(req)?.length ?? 0;
    const sent = Number(reply.getHeader('content-length') ?? 0);
    const elapsedMs = reply.elapsedTime;
    metrics.observeRequest(
      operation,
      reply.statusCode,
      elapsedMs / 1000,
      received,
      Number.isFinite(sent) ? sent : 0,
    );
    logger.debug(
      { method: req.method, url: req.url, status: reply.statusCode, ms: elapsedMs, operation },
      'request',
    );
    done();
  });

  let closing: Promise<void> | undefined;
  return {
    registry: metrics.registry,
    async listen(host, port) {
      await app.listen({ host, port });
      const address = app.server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return { host: address.address, port: address.port, url: `http://${shown}:${address.port}` };
    },
    close() {
      closing ??= app.close().then(() => forwarder.close());
      return closing;
    },
  };
}

/** An answer as it goes on the wire. */
interface WireAnswer {
  readonly status: number;
  readonly contentType: string;
  /** None for an answer without a body (204). */
  readonly body: string | Buffer | undefined;
  readonly sent?: () => void;
}

function wireAnswer(answer: Answer, format: WireFormat): WireAnswer {
  if ('raw' in answer) {
    const contentType = answer.contentType ?? 'application/octet-stream';
    return {
      status: answer.status,
      contentType,
      body: answer.raw,
      ...(answer.sent ? { sent: answer.sent } : {}),
    };
  }
  if (answer.body === undefined) return { status: answer.status, contentType: '', body: undefined };
  // JSON goes out as a string: Node writes it with the headers in one piece, no buffer made.
  const body = format === 'json' ? JSON.stringify(answer.body) : serialize(format, answer.body);
  return { status: answer.status, contentType: CONTENT_TYPES[format], body };
}

/**
 * Write `answer` to `res` as fastify's `reply.send` does (the same headers in the same order),
 * for the requests served without fastify; with `closing`, a `connection: close` header first.
 * Returns the body's length in bytes.
 */
function writeAnswer(res: ServerResponse, answer: WireAnswer, closing: boolean): number {
  if (answer.sent) res.once('finish', answer.sent);
  const headers: Record<string, string> = closing ? { connection: 'close' } : {};
  if (answer.body === undefined) {
    // No Content-Length on a 204 or 304 (RFC 9110), as fastify.
    if (answer.status >= 200 && answer.status !== 204 && answer.status !== 304)
      headers['content-length'] = '0';
    res.writeHead(answer.status, headers);
    res.end();
    return 0;
  }
  const length = Buffer.byteLength(answer.body);
  headers['content-type'] = answer.contentType;
  headers['content-length'] = `${length}`;
  res.writeHead(answer.status, headers);
  res.end(answer.body);
  return length;
}

/**
 * `clientGone` of the route handlers: a signal aborted when the client goes away before its
 * answer was sent, made on first call (a long poll stops waiting, and so does its forwarded copy).
 */
function clientGoneOf(res: ServerResponse): () => AbortSignal {
  let gone: AbortController | undefined;
  return () => {
    if (gone === undefined) {
      const controller = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) controller.abort();
      });
      gone = controller;
    }
    return gone.signal;
  };
}

/** The bytes of a request's body as received, if it had one. */
function rawBody(req: RouteRequest): Buffer | undefined {
  return (req.body as ParsedBody | undefined)?.raw;
}

/** A router path pattern as a regular expression over request paths (for 405 answers). */
function pathPattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Answers requests Node's HTTP parser rejects before fastify sees them (malformed request lines
 * or headers, headers too large, uploads slower than the request timeout) with the same JSON
 * error bodies, then closes the connection.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) return;
  writeRawError(
    socket,
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? errorReply('REQUEST_TIMEOUT', 'the request was not received in time')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? errorReply('HEADERS_TOO_LARGE', 'the request headers are too large')
        : errorReply('INVALID_REQUEST', 'malformed HTTP request'),
  );
}

/**
 * Answers CONNECT and protocol upgrades (which Node hands over raw, outside any route), instead
 * of dropping the connection without a word.
 */
function refuseRawRequest(req: IncomingMessage, socket: Duplex): void {
  writeRawError(
    socket,
    req.method === 'CONNECT'
      ? errorReply('METHOD_NOT_ALLOWED', 'CONNECT is not supported')
      : errorReply('INVALID_REQUEST', 'protocol upgrades are not supported'),
  );
}

/**
 * Write an error answer straight to a socket and close it. The socket keeps reading (and
 * discarding) so that it sees the client's end and closes; a client that never closes its side
 * is cut off after {@link LINGER_MS}.
 */
function writeRawError(socket: Duplex, reply: ErrorReply): void {
  const body = JSON.stringify(reply.body);
  socket.on('error', () => {});
  if (socket instanceof Socket) socket.setTimeout(LINGER_MS, () => socket.destroy());
  socket.resume();
  socket.end(
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status]}\r\n` +
      `content-type: ${CONTENT_TYPES.json}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
}
