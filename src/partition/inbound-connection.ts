import type { Socket } from 'node:net';
import { FrameReader, framed } from './framing.js';
import {
  AUTH_BYTES,
  acceptPayload,
  helloPayload,
  newNonce,
  parseAuth,
  verifyAuth,
} from './peer-handshake.js';
import type { TransportStats } from './transport.js';

/** What an accepted connection needs from the transport that owns it. */
export interface InboundOptions {
  readonly self: number;
  readonly secret: Buffer;
  /** Largest frame payload read once authenticated. */
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly stats: TransportStats;
  readonly logger: { warn(obj: object, msg: string): void };
  /** True when `id` is a configured peer (any other dialer is refused). */
  readonly isPeer: (id: number) => boolean;
  /** The highest sync counter seen from `peer`: the handshake's answer to it. */
  readonly seenFrom: (peer: number) => number;
  /** The dialer proved to be `peer`; frames from it follow. */
  readonly authenticated: (peer: number, socket: Socket) => void;
  /** One frame payload from an authenticated peer, not yet decoded. */
  readonly frame: (peer: number, payload: Buffer) => void;
}

/**
 * Serve one accepted connection: challenge the dialer (see `peer-handshake.ts`) and, only once it
 * has proved the cluster secret, hand its frames to `opts.frame`. Until then at most one
 * handshake-sized frame is buffered, so an unauthenticated client cannot make the broker hold
 * memory. A failed or timed-out handshake closes the socket and counts in `handshakesRejected`;
 * an oversize frame closes it and counts in `framesRejected` (the stream cannot be resynchronised).
 */
export function serveInbound(socket: Socket, opts: InboundOptions): void {
  const { stats, logger } = opts;
  const remote = `${socket.remoteAddress}:${socket.remotePort}`;
  socket.setNoDelay(true);
  socket.setKeepAlive(true, opts.keepAliveMs);
  socket.on('error', () => {
    // Resets and timeouts of a peer's connection: 'close' follows, the dialer reconnects.
  });

  const reject = (reason: string): void => {
    stats.handshakesRejected += 1;
    logger.warn({ remote, reason }, 'peer handshake rejected');
    socket.destroy();
  };
  const timedOut = (): void => reject('handshake timed out');
  socket.setTimeout(opts.handshakeTimeoutMs);
  socket.once('timeout', timedOut);

  const nonce = newNonce();
  const hello = helloPayload(nonce);
  socket.write(framed(hello));

  const reader = new FrameReader(AUTH_BYTES);
  let peer: number | undefined;
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let payload = reader.next(); payload !== undefined && !socket.destroyed; payload = reader.next()) {
      if (peer !== undefined) {
        if (payload === 'oversize') {
          stats.framesRejected += 1;
          logger.warn(
            { peer, maxFrameBytes: opts.maxFrameBytes },
            'peer frame too large; connection dropped',
          );
          socket.destroy();
          return;
        }
        opts.frame(peer, payload);
        continue;
      }
      const claim = payload === 'oversize' ? undefined : parseAuth(payload);
      if (claim === undefined) return reject('malformed handshake');
      if (!opts.isPeer(claim.dialer)) return reject(`unknown peer ${claim.dialer}`);
      if (!verifyAuth(opts.secret, claim, opts.self, nonce))
        return reject(`bad proof from peer ${claim.dialer}`);
      peer = claim.dialer;
      socket.setTimeout(0);
      socket.off('timeout', timedOut);
      reader.setMaxPayload(opts.maxFrameBytes);
      const accept = acceptPayload(opts.secret, opts.self, peer, claim.dialerNonce, opts.seenFrom(peer));
      socket.write(framed(accept));
      opts.authenticated(peer, socket);
    }
  });
}
