import { createServer, type Server, type Socket } from 'node:net';
import { RaftlogError } from '../errors.js';
import { FRAME_HEADER_BYTES, parseStamped, STAMP_BYTES } from './framing.js';
import { serveInbound } from './inbound-connection.js';
import { decodeGroupMessages, encodeGroupMessageParts } from './message-codec.js';
import { partsLength } from './msgpack-parts.js';
import { OutboundLink } from './outbound-link.js';
import { isChunkFrame, mustStream, SnapshotAssembler, SnapshotChunks } from './snapshot-stream.js';
import {
  type GroupMessage,
  NO_SYNC_COUNTERS,
  type PeerTransport,
  type SyncCounterExchange,
  type TransportStats,
  zeroStats,
} from './transport.js';

/** The structured logger the transport warns through (pino's call shape); silent by default. */
export interface TransportLogger {
  warn(obj: object, msg: string): void;
}

/** Options of {@link TcpTransport.listen}. */
export interface TcpTransportOptions {
  /** This broker's id (a safe positive integer). */
  readonly self: number;
  /** Where to accept peer connections, `host:port`; port 0 picks a free port (see `address`). */
  readonly listen: string;
  /** The other brokers: id → `host:port`. Only these may connect, and only these are sent to. */
  readonly peers?: ReadonlyMap<number, string>;
  /** The secret every broker of the cluster shares; peers prove they hold it. Not empty. */
  readonly clusterSecret: string | Uint8Array;
  /**
   * Where frames get this broker's sync counter and report the peers' (rollback detection, see
   * `rollback-guard.ts`). Default: none (every frame carries 0).
   */
  readonly syncCounters?: SyncCounterExchange;
  readonly logger?: TransportLogger;
  /** Largest frame payload sent or accepted. Default 64 MiB. */
  readonly maxFrameBytes?: number;
  /** Bytes waiting to be written to one peer beyond which new frames are dropped. Default 16 MiB. */
  readonly highWaterMark?: number;
  /** Snapshot data larger than this streams in chunks of this size. Default 1 MiB (at most half a frame). */
  readonly snapshotChunkBytes?: number;
  /** Largest snapshot accepted from a peer (held in memory while it streams in). Default 1 GiB. */
  readonly maxSnapshotBytes?: number;
  /** Connect plus handshake deadline, both directions. Default 5 s. */
  readonly handshakeTimeoutMs?: number;
  /** Reconnect backoff after a failed attempt: first delay and cap. Default 50 ms, 1 s. */
  readonly reconnectBackoff?: { readonly initialMs: number; readonly maxMs: number };
}

const DEFAULTS = {
  maxFrameBytes: 64 * 1024 * 1024,
  highWaterMark: 16 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  maxSnapshotBytes: 1024 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  reconnectBackoff: { initialMs: 50, maxMs: 1_000 },
  keepAliveMs: 5_000,
  closeGraceMs: 1_000,
};

/** The options after defaults are applied. */
type Settings = Required<
  Pick<
    TcpTransportOptions,
    | 'syncCounters'
    | 'logger'
    | 'maxFrameBytes'
    | 'highWaterMark'
    | 'snapshotChunkBytes'
    | 'maxSnapshotBytes'
    | 'handshakeTimeoutMs'
    | 'reconnectBackoff'
  >
>;

const silent: TransportLogger = { warn: () => {} };

/**
 * {@link PeerTransport} over plain TCP (`node:net`). One outbound connection per peer, opened
 * lazily and re-opened with capped backoff; each connection starts with a mutual HMAC handshake
 * over the cluster secret (`peer-handshake.ts`), then carries length-prefixed frames
 * (`framing.ts`) whose payload is the sender's sync counter followed by the msgpack encoding of
 * the messages (`message-codec.ts`). The counters, and the acceptor's handshake answer, go to
 * `syncCounters` (rollback detection, `rollback-guard.ts`).
 *
 * `send()` only queues: everything queued for a peer during one event-loop turn is flushed as one
 * frame in a `setImmediate` callback (so sends spread over several promise continuations of the
 * same turn still share a frame), or at once by `flush()`. Handlers are only ever called from I/O
 * or a flush, never from inside `send()`, and never after `close()`.
 *
 * A received frame is handed to `onReceive` only if it decodes and every message in it is from
 * the authenticated peer and addressed to this broker; otherwise it is dropped whole and counted
 * in `framesRejected`. Handlers run inside socket callbacks and must not throw.
 *
 * A batch whose encoding exceeds `maxFrameBytes` is split into several frames; a single message
 * over the limit is dropped and reported unreachable. Snapshots larger than `snapshotChunkBytes`
 * stream in chunk frames with back-pressure (`snapshot-stream.ts`), up to `maxSnapshotBytes`. Byte
 * counters count data frames with their length prefix, not handshakes; `bytesReceived` counts
 * only accepted frames.
 */
export class TcpTransport implements PeerTransport {
  readonly self: number;
  /** The bound listening address, `host:port` (the real port when 0 was asked for). */
  readonly address: string;

  private readonly links = new Map<number, OutboundLink>();
  private readonly addresses = new Map<number, string>();
  /** The authenticated inbound connection of each peer. */
  private readonly inbound = new Map<number, Socket>();
  /** Every accepted connection, authenticated or not. */
  private readonly accepted = new Set<Socket>();
  /** Every open socket, both directions: `close()` waits for all of them. */
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Map<number, GroupMessage[]>();
  /** Snapshot streams coming in, per peer. */
  private readonly assemblers = new Map<number, SnapshotAssembler>();
  private streamCounter = 0;
  private flushTimer: NodeJS.Immediate | undefined;
  private closing: Promise<void> | undefined;
  private receiveHandler: ((from: number, messages: readonly GroupMessage[]) => void) | undefined;
  private unreachableHandler: ((peer: number, messages: readonly GroupMessage[]) => void) | undefined;
  private readonly counters: TransportStats = zeroStats();

  private constructor(
    private readonly server: Server,
    private readonly secret: Buffer,
    private readonly limits: Settings,
    self: number,
    address: string,
  ) {
    this.self = self;
    this.address = address;
  }

  /** Bind the listening socket and return a transport ready to send and receive. */
  static async listen(options: TcpTransportOptions): Promise<TcpTransport> {
    const self = brokerId(options.self);
    const { host, port } = parseAddress(options.listen);
    const secret = Buffer.from(
      typeof options.clusterSecret === 'string'
        ? Buffer.from(options.clusterSecret, 'utf8')
        : options.clusterSecret,
    );
    if (secret.length === 0) throw new RaftlogError('INVALID_REQUEST', 'transport: clusterSecret is empty');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('transport: server has no TCP address');
    const maxFrameBytes = limit(options.maxFrameBytes ?? DEFAULTS.maxFrameBytes, 'maxFrameBytes', MAX_U32);
    const transport = new TcpTransport(
      server,
      secret,
      {
        syncCounters: options.syncCounters ?? NO_SYNC_COUNTERS,
        logger: options.logger ?? silent,
        maxFrameBytes,
        highWaterMark: limit(options.highWaterMark ?? DEFAULTS.highWaterMark, 'highWaterMark'),
        snapshotChunkBytes: limit(
          options.snapshotChunkBytes ?? Math.min(DEFAULTS.snapshotChunkBytes, Math.floor(maxFrameBytes / 2)),
          'snapshotChunkBytes',
          // A chunk and the message it starts with must fit in one frame.
          Math.floor(maxFrameBytes / 2),
        ),
        maxSnapshotBytes: limit(options.maxSnapshotBytes ?? DEFAULTS.maxSnapshotBytes, 'maxSnapshotBytes'),
        handshakeTimeoutMs: limit(
          options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
          'handshakeTimeoutMs',
        ),
        reconnectBackoff: backoff(options.reconnectBackoff ?? DEFAULTS.reconnectBackoff),
      },
      self,
      formatAddress(bound.address, bound.port),
    );
    for (const [id, address] of options.peers ?? []) transport.setPeer(id, address);
    server.on('connection', (socket) => transport.accept(socket));
    server.on('error', (err) => transport.limits.logger.warn({ err: err.message }, 'peer listener error'));
    return transport;
  }

  send(peer: number, messages: readonly GroupMessage[]): void {
    if (this.closing !== undefined) return;
    let queued = this.pending.get(peer);
    if (queued === undefined) {
      queued = [];
      this.pending.set(peer, queued);
    }
    for (const m of messages) queued.push(m);
    this.flushTimer ??= setImmediate(() => this.flush());
  }

  onReceive(handler: (from: number, messages: readonly GroupMessage[]) => void): void {
    this.receiveHandler = handler;
  }

  onUnreachable(handler: (peer: number, messages: readonly GroupMessage[]) => void): void {
    this.unreachableHandler = handler;
  }

  setPeer(id: number, address: string): void {
    brokerId(id);
    if (id === this.self)
      throw new RaftlogError('INVALID_REQUEST', 'transport: a broker is not its own peer');
    const { host, port } = parseAddress(address);
    if (this.closing !== undefined || this.addresses.get(id) === address) return;
    this.links.get(id)?.close();
    this.addresses.set(id, address);
    this.links.set(
      id,
      new OutboundLink({
        self: this.self,
        peer: id,
        host,
        port,
        secret: this.secret,
        highWaterMark: this.limits.highWaterMark,
        handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
        keepAliveMs: DEFAULTS.keepAliveMs,
        backoff: this.limits.reconnectBackoff,
        closeGraceMs: DEFAULTS.closeGraceMs,
        stats: this.counters,
        syncCounters: this.limits.syncCounters,
        logger: this.limits.logger,
        unreachable: (messages) => this.reportUnreachable(id, messages),
        track: (socket) => this.track(socket),
      }),
    );
  }

  removePeer(id: number): void {
    this.links.get(id)?.close();
    this.links.delete(id);
    this.addresses.delete(id);
    this.inbound.get(id)?.destroy();
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.pending.clear();
    for (const link of this.links.values()) link.close();
    for (const socket of this.accepted) socket.destroy();
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Not `events.once`: it would reject on the 'error' a destroyed socket may still emit.
    const socketsClosed = [...this.sockets].map((s) => new Promise((resolve) => s.once('close', resolve)));
    await Promise.all([serverClosed, ...socketsClosed]);
  }

  flush(): void {
    if (this.flushTimer !== undefined) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    for (const [peer, messages] of this.pending) {
      const link = this.links.get(peer);
      if (link === undefined) this.reportUnreachable(peer, messages);
      else this.deliver(link, peer, messages);
    }
    this.pending.clear();
  }

  /** Large snapshots stream in chunks; everything else goes out as one frame (see {@link deliverFrames}). */
  private deliver(link: OutboundLink, peer: number, messages: readonly GroupMessage[]): void {
    const chunkBytes = this.limits.snapshotChunkBytes;
    if (!messages.some((m) => mustStream(m, chunkBytes))) {
      this.deliverFrames(link, peer, messages);
      return;
    }
    const rest = messages.filter((m) => !mustStream(m, chunkBytes));
    if (rest.length > 0) this.deliverFrames(link, peer, rest);
    for (const m of messages) {
      if (mustStream(m, chunkBytes))
        link.stream(new SnapshotChunks(m, ++this.streamCounter, chunkBytes), [m]);
    }
  }

  /** Encode `messages` as one frame; a batch over the frame limit is split in halves. */
  private deliverFrames(link: OutboundLink, peer: number, messages: readonly GroupMessage[]): void {
    const parts = encodeGroupMessageParts(messages);
    const bytes = partsLength(parts);
    if (STAMP_BYTES + bytes <= this.limits.maxFrameBytes) {
      link.deliver(parts, messages);
    } else if (messages.length === 1) {
      this.limits.logger.warn(
        { peer, group: messages[0]!.group, bytes, maxFrameBytes: this.limits.maxFrameBytes },
        'peer message larger than a frame; dropped',
      );
      this.reportUnreachable(peer, messages);
    } else {
      const half = messages.length >>> 1;
      this.deliverFrames(link, peer, messages.slice(0, half));
      this.deliverFrames(link, peer, messages.slice(half));
    }
  }

  private accept(socket: Socket): void {
    this.track(socket);
    this.accepted.add(socket);
    socket.once('close', () => this.accepted.delete(socket));
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    serveInbound(socket, {
      self: this.self,
      secret: this.secret,
      maxFrameBytes: this.limits.maxFrameBytes,
      handshakeTimeoutMs: this.limits.handshakeTimeoutMs,
      keepAliveMs: DEFAULTS.keepAliveMs,
      stats: this.counters,
      logger: this.limits.logger,
      isPeer: (id) => this.links.has(id),
      seenFrom: (peer) => this.limits.syncCounters.seenFrom(peer),
      authenticated: (peer, s) => this.authenticated(peer, s),
      frame: (peer, payload) => this.receive(peer, payload),
    });
  }

  /** One inbound connection per peer: a newer one (the peer reconnected) replaces a stale one. */
  private authenticated(peer: number, socket: Socket): void {
    const previous = this.inbound.get(peer);
    this.inbound.set(peer, socket);
    // A stream cut off with the old connection will not continue on the new one.
    this.assemblers.delete(peer);
    previous?.destroy();
    socket.once('close', () => {
      if (this.inbound.get(peer) === socket) this.inbound.delete(peer);
    });
  }

  private receive(peer: number, payload: Buffer): void {
    if (this.closing !== undefined) return;
    const stamped = parseStamped(payload);
    if (stamped === undefined) {
      this.counters.framesRejected += 1;
      this.limits.logger.warn({ peer, bytes: payload.length }, 'peer frame without a sync counter dropped');
      return;
    }
    const { counter, body } = stamped;
    let messages: GroupMessage[];
    try {
      if (isChunkFrame(body)) {
        const whole = this.assembler(peer).push(body);
        this.counters.framesReceived += 1;
        this.counters.bytesReceived += FRAME_HEADER_BYTES + payload.length;
        this.limits.syncCounters.received(peer, counter);
        if (whole === undefined) return;
        this.counters.messagesReceived += 1;
        this.receiveHandler?.(peer, [whole]);
        return;
      }
      messages = decodeGroupMessages(body);
    } catch (err) {
      this.counters.framesRejected += 1;
      this.limits.logger.warn({ peer, err: (err as Error).message }, 'undecodable peer frame dropped');
      return;
    }
    const misfit = messages.find(({ message }) => message.from !== peer || message.to !== this.self);
    if (misfit !== undefined) {
      this.counters.framesRejected += 1;
      this.limits.logger.warn(
        { peer, from: misfit.message.from, to: misfit.message.to },
        'peer frame with a message not from that peer or not for this broker dropped',
      );
      return;
    }
    this.counters.framesReceived += 1;
    this.counters.messagesReceived += messages.length;
    this.counters.bytesReceived += FRAME_HEADER_BYTES + payload.length;
    // Before the messages: what they promise is recorded before anything acts on it.
    this.limits.syncCounters.received(peer, counter);
    this.receiveHandler?.(peer, messages);
  }

  private assembler(peer: number): SnapshotAssembler {
    let a = this.assemblers.get(peer);
    if (a === undefined) {
      a = new SnapshotAssembler(peer, this.self, this.limits.maxSnapshotBytes);
      this.assemblers.set(peer, a);
    }
    return a;
  }

  private reportUnreachable(peer: number, messages: readonly GroupMessage[]): void {
    if (this.closing === undefined) this.unreachableHandler?.(peer, messages);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}

/** Frame lengths are u32 on the wire. */
const MAX_U32 = 0xffff_ffff;

function limit(n: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(n) || n <= 0 || n > max) {
    throw new RaftlogError('INVALID_REQUEST', `transport: ${name} must be an integer in 1..${max}`);
  }
  return n;
}

function backoff(b: { initialMs: number; maxMs: number }): { initialMs: number; maxMs: number } {
  limit(b.initialMs, 'reconnectBackoff.initialMs');
  if (limit(b.maxMs, 'reconnectBackoff.maxMs') < b.initialMs) {
    throw new RaftlogError('INVALID_REQUEST', 'transport: reconnectBackoff.maxMs is below initialMs');
  }
  return b;
}

function brokerId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new RaftlogError('INVALID_REQUEST', `transport: broker id ${id} is not a safe positive integer`);
  }
  return id;
}

/** Split `host:port` (IPv6 hosts in brackets: `[::1]:9000`). */
export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const rawHost = address.slice(0, colon);
  const host = rawHost.startsWith('[') && rawHost.endsWith(']') ? rawHost.slice(1, -1) : rawHost;
  const portText = address.slice(colon + 1);
  const port = Number(portText);
  if (colon <= 0 || host === '' || !/^[0-9]{1,5}$/.test(portText) || port > 65_535) {
    throw new RaftlogError(
      'INVALID_REQUEST',
      `transport: address ${JSON.stringify(address)} is not host:port`,
    );
  }
  return { host, port };
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
