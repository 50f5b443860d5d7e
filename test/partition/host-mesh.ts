import { type GroupStateMachine, isBootstrapSnapshot } from '../../src/partition/host.js';
import { type GroupMessage, type PeerTransport, zeroStats } from '../../src/partition/transport.js';
import { type Entry, EntryType, type Message, type Snapshot } from '../../src/raft/types.js';

export const TIMING = { tickMs: 10, electionTick: 10, heartbeatTick: 2 };

/**
 * RaftHosts in one process, wired to each other directly: messages are delivered on a later turn
 * of the event loop, except those `drop` refuses (a test's way to cut some traffic).
 */
export class Mesh {
  readonly handlers = new Map<number, (from: number, messages: readonly GroupMessage[]) => void>();
  /** Every message sent (dropped or not), in order. */
  readonly sent: Message[] = [];
  /** Every frame sent (a `send` call: what one peer frame carries), in order. */
  readonly frames: Array<{
    readonly from: number;
    readonly to: number;
    readonly messages: readonly GroupMessage[];
  }> = [];
  /** Return true to lose a message from `from` to `to`. */
  drop: (from: number, to: number, message: Message) => boolean = () => false;

  transport(self: number): PeerTransport {
    return {
      self,
      send: (peer, messages) => {
        for (const m of messages) this.sent.push(m.message);
        this.frames.push({ from: self, to: peer, messages });
        const kept = messages.filter((m) => !this.drop(self, peer, m.message));
        if (messages.length > 0 && kept.length === 0) return;
        setImmediate(() => this.handlers.get(peer)?.(self, kept));
      },
      flush: () => {},
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
