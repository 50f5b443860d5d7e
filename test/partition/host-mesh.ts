import { type GroupStateMachine, isBootstrapSnapshot } from '../../src/partition/host.js';
import { type GroupMessage, type PeerTransport, zeroStats } from '../../src/partition/transport.js';
import { type Entry, EntryType, type Message, type Snapshot } from '../../src/raft/types.js';

export const TIMING = { tickMs: 10, electionTick: 10, heartbeatTick: 2 };

/** Hosts in one process, wired to each other directly (messages delivered on a later tick). */
export class Mesh {
  readonly handlers = new Map<number, (from: number, messages: readonly GroupMessage[]) => void>();
  /** Every message sent, in order. */
  readonly sent: Message[] = [];

  transport(self: number): PeerTransport {
    return {
      self,
      send: (peer, messages) => {
        for (const m of messages) this.sent.push(m.message);
        setImmediate(() => this.handlers.get(peer)?.(self, messages));
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

/** Keeps the data of every applied normal entry, in order. */
export class ListMachine implements GroupStateMachine {
  readonly durableApplied = 0;
  values: string[] = [];
  restore(snapshot: Snapshot): void {
    this.values = isBootstrapSnapshot(snapshot)
      ? []
      : (JSON.parse(new TextDecoder().decode(snapshot.data)) as string[]);
  }
  apply(entry: Entry): unknown {
    if (entry.type === EntryType.Normal && entry.data.byteLength > 0)
      this.values.push(new TextDecoder().decode(entry.data));
    return undefined;
  }
}
