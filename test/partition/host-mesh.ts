import {
  type GroupStateMachine,
  type HostTiming,
  isBootstrapSnapshot,
  RaftHost,
} from '../../src/partition/host.js';
import { type GroupMessage, type PeerTransport, zeroStats } from '../../src/partition/transport.js';
import { type Entry, EntryType, type Message, Role, type Snapshot } from '../../src/raft/types.js';
import type { LogStore } from '../../src/storage/log-store.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';

/**
 * Elections time out after 0.5 s: a loaded test machine must not elect a new leader mid-test (a
 * test whose leader's store holds its writes would then wait forever). Host 1 campaigns at once.
 */
export const TIMING = { tickMs: 10, electionTick: 50, heartbeatTick: 2 };

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

export interface MeshClusterOptions {
  readonly timing?: HostTiming;
  readonly learnerBandwidth?: number;
  /** The store of host `id` (a fresh MemoryLogStore by default). */
  readonly store?: (id: number) => LogStore;
  readonly holdsEmptyAppends?: (group: number) => boolean;
}

/** RaftHosts on one Mesh that all host the same group, each applying it to a ListMachine. */
export class MeshCluster {
  readonly mesh = new Mesh();
  readonly hosts: RaftHost[] = [];
  readonly machines = new Map<number, ListMachine>();

  constructor(
    readonly group: number,
    readonly options: MeshClusterOptions = {},
  ) {}

  /** Starts host `id`: with `voters` it bootstraps the group (host 1 campaigns), without it waits to be added. */
  start(id: number, voters?: number[]): RaftHost {
    const { timing = TIMING, learnerBandwidth, store, holdsEmptyAppends } = this.options;
    const host = new RaftHost({
      nodeId: id,
      store: store?.(id) ?? new MemoryLogStore(),
      transport: this.mesh.transport(id),
      timing,
      ...(learnerBandwidth ? { learnerBandwidth } : {}),
      ...(holdsEmptyAppends ? { holdsEmptyAppends } : {}),
    });
    this.hosts.push(host);
    const machine = new ListMachine();
    this.machines.set(id, machine);
    host.addGroup(this.group, machine, voters ? { voters, campaignIfNew: id === 1 } : {});
    return host;
  }

  /** Starts hosts 1–3 as the group's voters and waits for one of them to lead. */
  startThree(): Promise<RaftHost> {
    for (const id of [1, 2, 3]) this.start(id, [1, 2, 3]);
    return this.leader();
  }

  leader(): Promise<RaftHost> {
    return waitFor('a leader', () => this.hosts.find((h) => h.groupState(this.group)?.role === Role.Leader));
  }

  values(id: number): string[] {
    return this.machines.get(id)!.values;
  }

  async close(): Promise<void> {
    for (const h of this.hosts.splice(0)) await h.close();
  }
}
