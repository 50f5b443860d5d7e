import { type GroupMessage, type PeerTransport, type TransportStats, zeroStats } from './transport.js';

/**
 * The transport of a broker without peers (a single-node cluster, or the embedded log): it has
 * nobody to talk to, so anything sent is reported unreachable.
 */
export class LocalTransport implements PeerTransport {
  private unreachable: (peer: number, messages: readonly GroupMessage[]) => void = () => {};

  constructor(readonly self: number) {}

  send(peer: number, messages: readonly GroupMessage[]): void {
    if (messages.length > 0) queueMicrotask(() => this.unreachable(peer, messages));
  }

  /** Nothing waits: `send` reports at once. */
  flush(): void {}

  onReceive(): void {}

  onUnreachable(handler: (peer: number, messages: readonly GroupMessage[]) => void): void {
    this.unreachable = handler;
  }

  setPeer(): void {}

  removePeer(): void {}

  /** Nothing is ever sent or received. */
  stats(): TransportStats {
    return zeroStats();
  }

  async close(): Promise<void> {}
}
