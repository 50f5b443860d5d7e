import { isErrorCode } from '../../../src/errors.js';
import { decodeConfChange } from '../../../src/raft/confchange-codec.js';
import type { RaftConfig } from '../../../src/raft/config.js';
import type { Status } from '../../../src/raft/rawnode.js';
import { RawNode } from '../../../src/raft/rawnode.js';
import type { ConfState, Entry, Message, ReadState, Ready, Snapshot } from '../../../src/raft/types.js';
import { EntryType, MessageType, Role } from '../../../src/raft/types.js';
import type { MemoryLogStore } from '../../../src/storage/memory-log-store.js';
import type { LogState } from './log-state.js';
import { GROUP, membership, seededStore, storedEntries } from './log-state.js';
import type { MessageFilter } from './messages.js';
import { describeMessage, matches } from './messages.js';
import { ListStateMachine } from './state-machine.js';

/** The settings a scenario may choose; id, storage, randomness and applied index are the cluster's. */
export type NodeSettings = Omit<RaftConfig, 'id' | 'storage' | 'randomInt' | 'applied'>;

export interface ClusterOptions {
  readonly voters: readonly number[];
  readonly learners?: readonly number[];
  /** Nodes to run; default all voters and learners. Others are only addresses nobody answers at. */
  readonly start?: readonly number[];
  /** Settings of every node (the core's defaults otherwise: PreVote and CheckQuorum on). */
  readonly settings?: NodeSettings;
  /** Per-node settings, merged over `settings`. */
  readonly nodeSettings?: Readonly<Record<number, NodeSettings>>;
  /** Seed of the nodes' random sources, which pick their election timeouts. Default 1. */
  readonly seed?: number;
  /** A node's persisted state at start. Default: empty log at term 0 and the cluster's membership. */
  readonly logs?: Readonly<Record<number, LogState>>;
  /** Start the nodes without a `logs` entry from a snapshot at this index and term 1 (a bootstrapped group). */
  readonly bootstrapIndex?: number;
  /**
   * Tell a Snap's sender that it was sent (`reportSnapshot(to, true)`) when it is delivered, and
   * that it failed when it is dropped, as a transport does. Default true.
   */
  readonly reportSnapshots?: boolean;
}

/** One node of the cluster: the core, its durable store and its state machine. */
export interface Peer {
  readonly id: number;
  node: RawNode;
  store: MemoryLogStore;
  readonly sm: ListStateMachine;
  /** Every read state this node's `Ready`s handed out, in order. */
  readonly readStates: ReadState[];
  /** Every membership this node switched to by applying a change, in order. */
  readonly confStates: ConfState[];
  /** Every snapshot this node's `Ready`s handed it to install, in order. */
  readonly installed: Snapshot[];
  up: boolean;
}

const encoder = new TextEncoder();

/** A small seeded generator (mulberry32): each node gets its own, so runs replay exactly. */
function seededRandomInt(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function linkKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/**
 * A cluster of {@link RawNode}s on an in-memory network that the test drives step by step, in the
 * spirit of etcd-io/raft's interaction environment: the test decides when each node handles its
 * `Ready` (carried out in the order the `Ready` contract prescribes), which messages are
 * delivered, dropped or held, and when time passes.
 *
 * Two safety checks run all along, so every scenario also checks them: at most one leader per term
 * (Election Safety), and no two nodes apply different entries at one index (State Machine Safety).
 */
export class Cluster {
  readonly peers = new Map<number, Peer>();
  /** Messages sent and not yet delivered or dropped, oldest first. */
  pending: Message[] = [];
  /** Every message any node sent, in order. */
  readonly sent: Message[] = [];
  /** Messages lost to a cut link or a stopped node. */
  readonly dropped: Message[] = [];

  readonly #settings: NodeSettings;
  readonly #nodeSettings: Readonly<Record<number, NodeSettings>>;
  readonly #seed: number;
  readonly #reportSnapshots: boolean;
  readonly #cut = new Set<string>();
  readonly #leaderOfTerm = new Map<number, number>();
  readonly #appliedAt = new Map<number, string>();

  constructor(options: ClusterOptions) {
    this.#settings = options.settings ?? {};
    this.#nodeSettings = options.nodeSettings ?? {};
    this.#seed = options.seed ?? 1;
    this.#reportSnapshots = options.reportSnapshots ?? true;
    const learners = options.learners ?? [];
    const conf = membership(options.voters, learners);
    const bootstrap = options.bootstrapIndex ?? 0;
    const defaultState: LogState =
      bootstrap > 0
        ? {
            snapshot: { meta: { index: bootstrap, term: 1, confState: conf }, data: new Uint8Array(0) },
            hardState: { term: 1, vote: 0, commit: bootstrap },
          }
        : { confState: conf };
    for (const id of options.start ?? [...options.voters, ...learners]) {
      this.start(id, options.logs?.[id] ?? defaultState);
    }
  }

  /** Starts a node from `state` (default: nothing at all, as a brand-new server being added). */
  start(id: number, state: LogState = {}): Peer {
    if (this.peers.has(id)) throw new Error(`node ${id} already exists`);
    const store = seededStore(state);
    const sm = new ListStateMachine();
    sm.restore(store.group(GROUP).snapshot());
    const peer: Peer = {
      id,
      node: this.#newNode(id, store, sm.applied),
      store,
      sm,
      readStates: [],
      confStates: [],
      installed: [],
      up: true,
    };
    this.peers.set(id, peer);
    return peer;
  }

  /** Stops a node: what it had not persisted is lost; messages to it are dropped until it restarts. */
  crash(id: number): void {
    this.peer(id).up = false;
  }

  /** Restarts a crashed node from its durable store; its state machine restarts from the snapshot. */
  restart(id: number): void {
    const p = this.peer(id);
    if (p.up) throw new Error(`node ${id} is running`);
    p.store = p.store.crash();
    p.sm.restore(p.store.group(GROUP).snapshot());
    p.node = this.#newNode(id, p.store, p.sm.applied);
    p.up = true;
  }

  #newNode(id: number, store: MemoryLogStore, applied: number): RawNode {
    return new RawNode({
      ...this.#settings,
      ...this.#nodeSettings[id],
      id,
      storage: store.group(GROUP),
      applied,
      randomInt: seededRandomInt(this.#seed * 7919 + id),
    });
  }

  peer(id: number): Peer {
    const p = this.peers.get(id);
    if (p === undefined) throw new Error(`no node ${id}`);
    return p;
  }

  node(id: number): RawNode {
    return this.peer(id).node;
  }

  status(id: number): Status {
    return this.node(id).status();
  }

  /** Every entry in the node's durable log. */
  log(id: number): readonly Entry[] {
    return storedEntries(this.peer(id).store);
  }

  /** The running node that is leader in the highest term, if any. */
  leader(): number | undefined {
    let best: Status | undefined;
    for (const p of this.#up()) {
      const s = p.node.status();
      if (s.role === Role.Leader && (best === undefined || s.hardState.term > best.hardState.term)) best = s;
    }
    return best?.id;
  }

  /** Has node `id` campaign, then stabilizes; throws unless it won. */
  elect(id: number): void {
    this.node(id).campaign();
    this.stabilize();
    const s = this.status(id);
    if (s.role !== Role.Leader) throw new Error(`node ${id} campaigned but is not leader (role ${s.role})`);
  }

  propose(id: number, data: string): void {
    this.node(id).propose(encoder.encode(data));
  }

  /**
   * Carries out the node's `Ready`, if it has one, in the contract's order: persist (synced), then
   * send, then apply (membership changes through `applyConfChange`), then `advance()`.
   */
  processReady(id: number): Ready | undefined {
    const p = this.peer(id);
    if (!p.up || !p.node.hasReady()) return undefined;
    const rd = p.node.ready();
    if (rd.hardState !== undefined) p.store.setHardState(GROUP, rd.hardState);
    if (rd.snapshot !== undefined) p.store.applySnapshot(GROUP, rd.snapshot);
    if (rd.entries.length > 0) p.store.append(GROUP, rd.entries);
    p.store.commitSync();

    for (const m of rd.messages) {
      if (m.from !== id) throw new Error(`node ${id} sent a message as ${m.from}: ${describeMessage(m)}`);
      this.sent.push(m);
      this.pending.push(m);
    }

    if (rd.snapshot !== undefined) {
      p.sm.restore(rd.snapshot);
      p.installed.push(rd.snapshot);
    }
    for (const e of rd.committedEntries) {
      this.#checkSameEntryApplied(id, e);
      p.sm.apply(e);
      if (e.type === EntryType.ConfChange) {
        const cs = p.node.applyConfChange(decodeConfChange(e.data));
        p.store.setConfState(GROUP, cs);
        p.store.commitSync();
        p.confStates.push(cs);
      }
    }
    p.readStates.push(...rd.readStates);
    p.node.advance();
    this.#checkOneLeaderPerTerm(p);
    return rd;
  }

  /** Delivers the pending messages that match `filter` (all by default), in order; returns them. */
  deliver(filter?: MessageFilter): Message[] {
    const now = this.#take(filter);
    const delivered: Message[] = [];
    for (const m of now) {
      const to = this.peers.get(m.to);
      const reachable = to?.up === true && !this.#cut.has(linkKey(m.from, m.to));
      if (reachable && this.#step(to, m)) delivered.push(m);
      else this.dropped.push(m);
      if (m.type === MessageType.Snap && this.#reportSnapshots) {
        const from = this.peers.get(m.from);
        if (from?.up) from.node.reportSnapshot(m.to, reachable);
      }
    }
    return delivered;
  }

  /** Removes the pending messages that match `filter` without delivering them; returns them. */
  drop(filter?: MessageFilter): Message[] {
    const gone = this.#take(filter);
    this.dropped.push(...gone);
    return gone;
  }

  /** Feeds a hand-made message to its recipient, as if it had arrived. */
  inject(m: Message): void {
    this.peer(m.to).node.step(m);
  }

  /**
   * Handles Readys and delivers messages until nothing moves. With `nodes`, just those nodes
   * handle their Readys and receive; with `deliver`, just those messages are delivered. Other
   * messages stay pending.
   */
  stabilize(scope: { readonly nodes?: readonly number[]; readonly deliver?: MessageFilter } = {}): void {
    const { nodes } = scope;
    const inScope = (m: Message) =>
      (nodes === undefined || nodes.includes(m.to)) && matches(scope.deliver, m);
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const p of this.#up()) {
        if ((nodes === undefined || nodes.includes(p.id)) && this.processReady(p.id) !== undefined)
          moved = true;
      }
      const inFlight = this.pending.some(inScope);
      if (inFlight) this.deliver(inScope);
      if (!moved && !inFlight) return;
    }
    throw new Error('the cluster did not stabilize within 10000 rounds');
  }

  /** Advances one node's clock without handling its Ready. */
  tick(id: number, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
  }

  /** Ticks every running node once per round, stabilizing after each, `times` times. */
  runTicks(times: number): void {
    for (let i = 0; i < times; i++) this.#tickAllAndStabilize();
  }

  /**
   * Ticks every running node and stabilizes, round after round, until `condition` holds; returns
   * the number of ticks it took. Throws when it does not hold within `maxTicks`.
   */
  tickUntil(condition: () => boolean, maxTicks: number): number {
    for (let ticks = 1; ticks <= maxTicks; ticks++) {
      this.#tickAllAndStabilize();
      if (condition()) return ticks;
    }
    throw new Error(`condition not reached within ${maxTicks} ticks`);
  }

  #tickAllAndStabilize(): void {
    for (const p of this.#up()) p.node.tick();
    this.stabilize();
  }

  /** Cuts the links between every two of the given groups of nodes. */
  partition(...groups: readonly (readonly number[])[]): void {
    for (const [i, a] of groups.entries()) {
      for (const b of groups.slice(i + 1)) for (const x of a) for (const y of b) this.#cut.add(linkKey(x, y));
    }
  }

  /** Cuts a node off from every other node. */
  isolate(id: number): void {
    this.partition(
      [id],
      [...this.peers.keys()].filter((other) => other !== id),
    );
  }

  /** Restores every link. */
  heal(): void {
    this.#cut.clear();
  }

  /**
   * Compacts the node's log up to what its state machine applied, recording a snapshot of the
   * state machine there (what a host does periodically).
   */
  compact(id: number): Snapshot {
    const p = this.peer(id);
    const log = p.store.group(GROUP);
    const snapshot: Snapshot = {
      meta: { index: p.sm.applied, term: log.term(p.sm.applied), confState: log.initialState().confState },
      data: p.sm.snapshotData(),
    };
    p.store.compact(GROUP, snapshot);
    p.store.commitSync();
    return snapshot;
  }

  /** Messages sent so far that match `filter`. */
  sentMatching(filter: MessageFilter): Message[] {
    return this.sent.filter((m) => matches(filter, m));
  }

  #up(): Peer[] {
    return [...this.peers.values()].filter((p) => p.up);
  }

  #take(filter: MessageFilter | undefined): Message[] {
    const taken: Message[] = [];
    const kept: Message[] = [];
    for (const m of this.pending) (matches(filter, m) ? taken : kept).push(m);
    this.pending = kept;
    return taken;
  }

  /** Steps `m` into `to`; a proposal the recipient refuses is dropped, as a driver would. */
  #step(to: Peer, m: Message): boolean {
    try {
      to.node.step(m);
      return true;
    } catch (err) {
      if (m.type === MessageType.Prop && isErrorCode(err, 'PROPOSAL_DROPPED')) return false;
      throw err;
    }
  }

  #checkOneLeaderPerTerm(p: Peer): void {
    const s = p.node.status();
    if (s.role !== Role.Leader) return;
    const other = this.#leaderOfTerm.get(s.hardState.term);
    if (other !== undefined && other !== p.id) {
      throw new Error(
        `Election Safety violated: nodes ${other} and ${p.id} both led term ${s.hardState.term}`,
      );
    }
    this.#leaderOfTerm.set(s.hardState.term, p.id);
  }

  #checkSameEntryApplied(id: number, e: Entry): void {
    const key = `${e.term}:${e.type}:${Buffer.from(e.data).toString('hex')}`;
    const seen = this.#appliedAt.get(e.index);
    if (seen !== undefined && seen !== key) {
      throw new Error(
        `State Machine Safety violated: node ${id} applied ${key} at ${e.index}, another ${seen}`,
      );
    }
    this.#appliedAt.set(e.index, key);
  }
}
