import { connect, type Socket } from 'node:net';
import { FRAME_HEADER_BYTES, FrameReader, framed, STAMP_BYTES, stampedHeader } from './framing.js';
import { partsLength } from './msgpack-parts.js';
import {
  ACCEPT_BYTES,
  authPayload,
  HELLO_BYTES,
  newNonce,
  openAccept,
  parseHello,
} from './peer-handshake.js';
import type { SnapshotChunks } from './snapshot-stream.js';
import type { GroupMessage, SyncCounterExchange, TransportStats } from './transport.js';

/** What an outbound link needs from the transport that owns it. */
export interface OutboundLinkOptions {
  readonly self: number;
  readonly peer: number;
  readonly host: string;
  readonly port: number;
  readonly secret: Buffer;
  /** Frames are dropped (and reported unreachable) while this many bytes wait to be written. */
  readonly highWaterMark: number;
  /** Connect plus handshake must finish within this time. */
  readonly handshakeTimeoutMs: number;
  readonly keepAliveMs: number;
  /** After a failed connection, the next attempt waits `initialMs`, doubling up to `maxMs`. */
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** How long `close()` lets a connection flush before destroying it. */
  readonly closeGraceMs: number;
  readonly stats: TransportStats;
  /** Stamps frames with this broker's sync counter; hears the peer's handshake answer. */
  readonly syncCounters: SyncCounterExchange;
  readonly logger: { warn(obj: object, msg: string): void };
  /** Report messages that will not be delivered. */
  readonly unreachable: (messages: readonly GroupMessage[]) => void;
  /** Register a socket so the transport can wait for it to close. */
  readonly track: (socket: Socket) => void;
}

interface QueuedFrame {
  /** The payload, in parts written back to back (see `encodeGroupMessageParts`). */
  readonly payload: readonly Uint8Array[];
  readonly messages: readonly GroupMessage[];
}

/** A snapshot being streamed: its chunks go out one by one as the socket drains. */
interface Stream {
  readonly chunks: SnapshotChunks;
  readonly messages: readonly GroupMessage[];
}

/**
 * A stream writes its next chunk only while fewer bytes than this wait in the socket, so a
 * snapshot never fills the buffer that heartbeats and appends share with it.
 */
const STREAM_WINDOW_BYTES = 2 * 1024 * 1024;

type LinkState = 'idle' | 'connecting' | 'ready' | 'closed';

/**
 * The one outbound connection to one peer. Connects lazily on the first frame, authenticates (see
 * `peer-handshake.ts`), then writes frames. Frames given while the handshake runs wait in a
 * bounded queue. After a failed attempt, frames are reported unreachable at once until the
 * backoff delay has passed; the next frame after that tries again. No timer runs while idle.
 */
export class OutboundLink {
  private state: LinkState = 'idle';
  private socket: Socket | undefined;
  private queue: QueuedFrame[] = [];
  private queuedBytes = 0;
  private streams: Stream[] = [];
  private failures = 0;
  private retryAt = 0;

  constructor(private readonly opts: OutboundLinkOptions) {}

  /** Send one frame payload (in parts) carrying `messages`; reports them unreachable if it cannot. */
  deliver(payload: readonly Uint8Array[], messages: readonly GroupMessage[]): void {
    if (this.state === 'closed' || (this.state === 'idle' && Date.now() < this.retryAt)) {
      this.opts.unreachable(messages);
      return;
    }
    if (this.state === 'ready') {
      const socket = this.socket!;
      // Back-pressure: never buffer without bound; Raft retransmits what is lost.
      if (socket.writableLength >= this.opts.highWaterMark) this.opts.unreachable(messages);
      else this.write(socket, payload, messages);
      return;
    }
    if (this.state === 'idle') this.connect();
    if (this.queuedBytes >= this.opts.highWaterMark) {
      this.opts.unreachable(messages);
      return;
    }
    this.queue.push({ payload, messages });
    this.queuedBytes += FRAME_HEADER_BYTES + partsLength(payload);
  }

  /**
   * Stream a snapshot's chunk frames (see `snapshot-stream.ts`), after any stream already going;
   * `messages` (the snapshot message) are reported unreachable if the connection fails first.
   */
  stream(chunks: SnapshotChunks, messages: readonly GroupMessage[]): void {
    if (this.state === 'closed' || (this.state === 'idle' && Date.now() < this.retryAt)) {
      this.opts.unreachable(messages);
      return;
    }
    this.streams.push({ chunks, messages });
    if (this.state === 'idle') this.connect();
    else if (this.state === 'ready') this.pump(this.socket!);
  }

  /** Write stream chunks while the socket has room; 'drain' calls this again. */
  private pump(socket: Socket): void {
    while (this.streams.length > 0 && socket.writableLength < STREAM_WINDOW_BYTES) {
      const current = this.streams[0]!;
      const payload = current.chunks.take();
      if (payload === undefined) {
        this.streams.shift();
        this.opts.stats.messagesSent += current.messages.length;
        continue;
      }
      this.write(socket, [payload], []);
    }
  }

  /** End the connection (written frames are flushed, within the grace period); queued frames are reported unreachable. */
  close(): void {
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    const socket = this.socket;
    if (socket === undefined) return;
    if (wasReady) {
      socket.end();
      socket.setTimeout(this.opts.closeGraceMs, () => socket.destroy());
    } else {
      socket.destroy();
    }
  }

  private connect(): void {
    const { host, port, self, peer, secret } = this.opts;
    this.state = 'connecting';
    const socket = connect({
      host,
      port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: this.opts.keepAliveMs,
    });
    this.socket = socket;
    this.opts.track(socket);
    socket.setTimeout(this.opts.handshakeTimeoutMs);
    const handshakeTimedOut = (): void => {
      socket.destroy(new Error('handshake timed out'));
    };
    socket.once('timeout', handshakeTimedOut);
    let failure: Error | undefined;
    socket.on('error', (err) => {
      failure = err;
    });
    socket.on('close', () => this.closed(socket, failure));

    const reader = new FrameReader(HELLO_BYTES);
    let dialerNonce: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      for (let payload = reader.next(); payload !== undefined; payload = reader.next()) {
        if (this.socket !== socket || this.state !== 'connecting' || payload === 'oversize') {
          socket.destroy(new Error('unexpected data from the acceptor'));
          return;
        }
        if (dialerNonce === undefined) {
          const acceptorNonce = parseHello(payload);
          if (acceptorNonce === undefined) {
            socket.destroy(new Error('not a raftlog peer (bad hello)'));
            return;
          }
          dialerNonce = newNonce();
          const auth = authPayload(secret, self, peer, acceptorNonce, dialerNonce);
          socket.write(framed(auth));
          reader.setMaxPayload(ACCEPT_BYTES);
        } else {
          const seen = openAccept(secret, payload, peer, self, dialerNonce);
          if (seen === undefined) {
            socket.destroy(new Error('acceptor failed to prove the cluster secret'));
            return;
          }
          socket.setTimeout(0);
          socket.off('timeout', handshakeTimedOut);
          this.opts.syncCounters.answered(peer, seen);
          this.ready(socket);
        }
      }
    });
  }

  private ready(socket: Socket): void {
    this.state = 'ready';
    this.failures = 0;
    const queue = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const { payload, messages } of queue) this.write(socket, payload, messages);
    socket.on('drain', () => {
      if (this.socket === socket && this.state === 'ready') this.pump(socket);
    });
    this.pump(socket);
  }

  private write(socket: Socket, payload: readonly Uint8Array[], messages: readonly GroupMessage[]): void {
    // Header and payload parts go out in one writev: no copy of the payload into a bigger buffer.
    // The counter is read now, not when the frame was queued: it only grows.
    const length = partsLength(payload);
    socket.cork();
    socket.write(stampedHeader(length, this.opts.syncCounters.own()));
    for (const part of payload) socket.write(part);
    socket.uncork();
    const stats = this.opts.stats;
    stats.framesSent += 1;
    stats.messagesSent += messages.length;
    stats.bytesSent += FRAME_HEADER_BYTES + STAMP_BYTES + length;
  }

  private closed(socket: Socket, failure: Error | undefined): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    const queue = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.state === 'connecting') {
      // The peer is down, or refused us: back off before the next attempt.
      this.failures += 1;
      const { initialMs, maxMs } = this.opts.backoff;
      this.retryAt = Date.now() + Math.min(maxMs, initialMs * 2 ** (this.failures - 1));
      if (this.failures === 1) {
        this.opts.logger.warn(
          { peer: this.opts.peer, err: failure?.message ?? 'connection closed during handshake' },
          'peer connection failed',
        );
      }
    }
    // A connection lost after the handshake may be retried at once (retryAt is in the past).
    if (this.state !== 'closed') this.state = 'idle';
    const streams = this.streams;
    this.streams = [];
    for (const { messages } of [...queue, ...streams]) this.opts.unreachable(messages);
  }
}
