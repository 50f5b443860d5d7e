import { type GroupMessage, type PeerTransport, zeroStats } from '../../src/partition/transport.js';
import type { Message } from '../../src/raft/types.js';

/**
 * RaftHosts in one process, wired to each other directly: messages are delivered on a later turn
 * of the event loop, except those `drop` refuses (a test's way to cut some traffic).
 */
export class Mesh {
  readonly handlers = new Map<number, (from: number, messages: readonly GroupMessage[]) => void>();
  /** Return true to lose a message from `from` to `to`. */
  drop: (from: number, to: number, message: Message) => boolean = () => false;

  transport(self: number): PeerTransport {
    return {
      self,
      send: (peer, messages) => {
        const kept = messages.filter((m) => !this.drop(self, peer, m.message));
        if (messages.length > 0 && kept.length === 0) return;
        setImmediate(() => this.handlers.get(peer)?.(self, kept));
      },
      onReceive: (handler) => {
        this.handlers.set(self, handler);
      },
      onUnreachable: () => {},
      setPeer: () => {},
      removePeer: () => {},
      stats: zeroStats,
      close: async () => {},
    };
  }
}
