import type { GroupMessage, PeerTransport, TransportStats } from './transport.js';

/**
 * The transport of a broker without peers (a single-node cluster, or the embedded log): it has
 * nobody to talk to, so anything sent is reported unreachable.
 */
export class LocalTransport implements PeerTransport {
  private unreachable: (peer: number, messages: readonly GroupMessage[]) => void = () => {};
  private readonly counters: TransportStats = {
    framesSent: 0,
    framesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    framesRejected: 0,
    handshakesRejected: 0,
  };

  constructor(readonly self: number) {}

  send(peer: number, messages: readonly GroupMessage[]): void {
    if (messages.length > 0) queueMicrotask(() => this.unreachable(peer, messages));
  }

  onReceive(): void {}

  onUnreachable(handler: (peer: number, messages: readonly GroupMessage[]) => void): void {
    this.unreachable = handler;
  }

  setPeer(): void {}

  removePeer(): void {}

  stats(): TransportStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {}
}
