import { isErrorCode } from '../../../src/errors.js';
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  type Message,
  MessageType,
  NONE,
  Role,
} from '../../../src/raft/types.js';
import { MemoryLogStore } from '../../../src/storage/memory-log-store.js';
import { InvariantViolation, SafetyMonitor } from './invariants.js';
import { SimNetwork } from './network.js';
import { GROUP, SimNode, type SimNodeOptions } from './node.js';
import { mulberry32, nodeSeed } from './prng.js';
import type { MembershipOp, SimEvent, SimSetup } from './schedule.js';
import { ListStateMachine } from './state-machine.js';
import { emptyStats, type SimStats } from './stats.js';

const ELECTION_TICK = 10;

/** Bounds of the liveness phase, in ticks. */
const LIVENESS = {
  /** After healing, a leader that every member follows must emerge within this many ticks... */
  electionTicks: 40 * ELECTION_TICK,
  /** ...and stay so this long (longer than any election timeout, so every timer was reset). */
  stableTicks: 2 * ELECTION_TICK,
  /** Then proposals to it must be applied on every live member within this many ticks. */
  commitTicks: 10 * ELECTION_TICK,
  /** Most messages delivered in one round before the network is declared stormy. */
  roundMessages: 10_000,
};

const PAYLOAD_SIZES = [8, 100, 300] as const;

/** The bytes of proposal number `n`, padded to about `size` bytes; every payload is unique. */
function payload(n: number, size: number): Uint8Array {
  return new TextEncoder().encode(`p${n}:`.padEnd(size, '.'));
}

function members(cs: ConfState): number[] {
  return [...new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext])];
}

/**
 * The initial voters start from a snapshot at index 1 (term 1) that holds their membership and an
 * empty state machine. A node added later starts empty and must learn the membership; an
 * initial membership written only with `setConfState` is in no log entry or snapshot, so a new
 * node replaying the leader's log from index 1 would build its membership from nothing.
 */
const BOOTSTRAP = { index: 1, term: 1 } as const;

function bootstrap(store: MemoryLogStore, voters: readonly number[]): void {
  const confState: ConfState = {
    voters,
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  store.applySnapshot(GROUP, {
    meta: { ...BOOTSTRAP, confState },
    data: ListStateMachine.empty(BOOTSTRAP.index).encode(),
  });
  store.setHardState(GROUP, { term: BOOTSTRAP.term, vote: NONE, commit: BOOTSTRAP.index });
  store.commitSync();
}

/**
 * A simulated cluster running one Raft group: nodes, the network between them and the safety
 * monitor that checks every property after every event. Everything runs in one call stack with
 * no timers: a run is a pure function of its setup and schedule.
 */
export class SimCluster {
  readonly network = new SimNetwork();
  readonly monitor = new SafetyMonitor(BOOTSTRAP.index);
  private readonly nodes: SimNode[] = [];
  private readonly counters = emptyStats();
  private proposals = 0;
  private reads = 0;

  constructor(setup: SimSetup) {
    const options: SimNodeOptions = {
      electionTick: ELECTION_TICK,
      heartbeatTick: 2,
      preVote: setup.preVote,
      checkQuorum: setup.checkQuorum,
      maxSizePerMsg: 256,
      maxInflightMsgs: 4,
      maxCommittedSizePerReady: 512,
    };
    const voters = Array.from({ length: setup.voters }, (_, i) => i + 1);
    for (let id = 1; id <= setup.voters + setup.spares; id++) {
      const store = new MemoryLogStore();
      if (id <= setup.voters) bootstrap(store, voters);
      const node = new SimNode(
        id,
        store,
        mulberry32(nodeSeed(setup.seed, id)),
        options,
        {
          send: (m) => this.network.send(m),
          applied: (nodeId, e) => this.monitor.appliedEntry(nodeId, e),
          restored: (nodeId, applied, state) => this.monitor.restoredState(nodeId, applied, state),
          readServed: (nodeId, rs) => this.monitor.readServed(nodeId, rs),
        },
        this.counters,
      );
      node.start();
      this.nodes.push(node);
    }
    this.check();
  }

  /** Node ids, `1 .. voters + spares`. */
  get ids(): number[] {
    return this.nodes.map((n) => n.id);
  }

  node(id: number): SimNode {
    return this.nodes[id - 1]!;
  }

  /** What this run reached so far. */
  stats(): SimStats {
    return { ...this.counters, leaderTerms: this.monitor.leaderTerms };
  }

  /** Run one event, then check every property. */
  run(event: SimEvent): void {
    this.execute(event);
    this.check();
  }

  /** Check every safety property over the running nodes. */
  check(): void {
    this.monitor.observe(this.nodes.filter((n) => n.live).map((n) => n.view()));
  }

  /**
   * The liveness phase: heal every fault, restart every node, then a leader must emerge that
   * every member follows, and proposals made to it must be applied on every live member.
   */
  liveness(): void {
    this.network.heal();
    for (const n of this.nodes) {
      n.disarmCrash();
      if (!n.live) this.restart(n);
    }
    this.check();
    let leader: SimNode | undefined;
    let term = 0;
    let stable = 0;
    for (let t = 0; t < LIVENESS.electionTicks && stable < LIVENESS.stableTicks; t++) {
      this.round();
      const settled = this.settledLeader();
      const settledTerm = settled?.raw.status().hardState.term ?? 0;
      stable = settled !== undefined && settled === leader && settledTerm === term ? stable + 1 : 0;
      leader = settled;
      term = settledTerm;
      // Removed servers are shut down (Raft §4.2.3): one that never learned of its removal
      // would otherwise campaign forever (harmless with PreVote or CheckQuorum, not without).
      if (leader) this.stopNonMembers(leader.raw.status().confState);
    }
    if (leader === undefined || stable < LIVENESS.stableTicks) {
      throw new InvariantViolation(
        'Liveness',
        `no leader stable for ${LIVENESS.stableTicks} ticks within ${LIVENESS.electionTicks} ticks after healing; ${this.describeNodes()}`,
      );
    }
    const cs = leader.raw.status().confState;
    const wanted: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      const data = payload(++this.proposals, PAYLOAD_SIZES[i]!);
      leader.raw.propose(data);
      wanted.push(data);
      leader.drain();
    }
    for (let t = 0; t < LIVENESS.commitTicks; t++) {
      this.round();
      const st = leader.raw.status();
      if (st.role !== Role.Leader || st.hardState.term !== term) {
        throw new InvariantViolation(
          'Liveness',
          `leader ${leader.id} of term ${term} lost leadership with no fault; ${this.describeNodes()}`,
        );
      }
      if (members(cs).every((id) => this.hasApplied(this.node(id), wanted))) return;
    }
    throw new InvariantViolation(
      'Liveness',
      `proposals not applied on every member within ${LIVENESS.commitTicks} ticks; ${this.describeNodes()}`,
    );
  }

  private stopNonMembers(cs: ConfState): void {
    for (const n of this.nodes) if (n.live && !members(cs).includes(n.id)) n.crash();
  }

  /** One line per node: role, term, vote, leader, commit, applied, last index and membership. */
  describeNodes(): string {
    const roles = ['follower', 'candidate', 'leader', 'pre-candidate'];
    return this.nodes
      .map((n) => {
        if (!n.live) return `node ${n.id}: down`;
        const st = n.raw.status();
        const cs = st.confState;
        const joint = cs.votersOutgoing.length > 0 ? ` outgoing [${cs.votersOutgoing}]` : '';
        return (
          `node ${n.id}: ${roles[st.role]} term ${st.hardState.term} vote ${st.hardState.vote} leader ${st.leader}` +
          ` commit ${st.hardState.commit} applied ${st.applied} last ${st.lastIndex}` +
          ` voters [${cs.voters}]${joint} learners [${cs.learners}]`
        );
      })
      .join('; ');
  }

  private hasApplied(n: SimNode, wanted: readonly Uint8Array[]): boolean {
    const applied = new Set(n.appliedCommands().map((c) => Buffer.from(c.data).toString('hex')));
    return wanted.every((d) => applied.has(Buffer.from(d).toString('hex')));
  }

  /** One tick everywhere, then deliver until the network is quiet; check after each. */
  private round(): void {
    for (const n of this.nodes) this.tick(n, 1);
    let delivered = 0;
    while (this.network.pending.length > 0) {
      for (const m of this.network.takeAll()) {
        this.deliver(m);
        if (++delivered > LIVENESS.roundMessages) {
          throw new InvariantViolation(
            'Liveness',
            `more than ${LIVENESS.roundMessages} messages in one round`,
          );
        }
      }
    }
    this.leaveExplicitJoint();
    this.check();
  }

  /**
   * A leader that every member follows in its term, with no transfer under way, no joint
   * configuration, and everything in its log committed and applied on every member; or
   * undefined. (Until a member has caught up it may still time out and, without PreVote,
   * legitimately depose the leader.)
   */
  private settledLeader(): SimNode | undefined {
    const leader = this.currentLeader();
    if (leader === undefined) return undefined;
    const st = leader.raw.status();
    if (st.leadTransferee !== 0 || st.confState.votersOutgoing.length > 0) return undefined;
    if (!st.confState.voters.includes(leader.id)) return undefined;
    if (st.hardState.commit !== st.lastIndex || st.applied !== st.hardState.commit) return undefined;
    for (const id of members(st.confState)) {
      const m = this.node(id);
      if (!m.live) return undefined;
      const ms = m.raw.status();
      if (ms.leader !== leader.id || ms.hardState.term !== st.hardState.term) return undefined;
      if (ms.hardState.commit !== st.hardState.commit || ms.applied !== ms.hardState.commit) return undefined;
    }
    return leader;
  }

  /** The live leader of the highest term, if any. */
  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes) {
      if (!n.live) continue;
      const st = n.raw.status();
      if (st.role === Role.Leader && st.hardState.term > bestTerm) {
        best = n;
        bestTerm = st.hardState.term;
      }
    }
    return best;
  }

  /** In a joint configuration the application must leave explicitly, propose leaving it. */
  private leaveExplicitJoint(): void {
    const leader = this.currentLeader();
    if (leader === undefined) return;
    const cs = leader.raw.status().confState;
    if (cs.votersOutgoing.length === 0 || cs.autoLeave) return;
    this.request(leader, (raw) =>
      raw.proposeConfChange({ transition: ConfChangeTransition.Auto, changes: [] }),
    );
  }

  private execute(e: SimEvent): void {
    switch (e.kind) {
      case 'tick':
        this.tick(this.node(e.node), e.ticks);
        return;
      case 'tickAll':
        for (const n of this.nodes) this.tick(n, e.ticks);
        return;
      case 'campaign':
        this.request(this.node(e.node), (raw) => raw.campaign());
        return;
      case 'deliver': {
        const m = this.network.take(e.pick);
        if (m) this.deliver(m);
        return;
      }
      case 'deliverAll':
        for (const m of this.network.takeAll()) this.deliver(m);
        return;
      case 'drop': {
        const m = this.network.take(e.pick);
        if (m) this.lost(m);
        return;
      }
      case 'duplicate':
        this.network.duplicate(e.pick);
        return;
      case 'partition':
        this.network.partition(this.ids, (id) => (e.sides >> (id - 1)) & 1);
        return;
      case 'heal':
        this.network.heal();
        return;
      case 'crash':
        this.node(e.node).armCrash(e.at);
        return;
      case 'crashLeader':
        this.currentLeader()?.armCrash(e.at);
        return;
      case 'restart': {
        const down = this.nodes.filter((n) => !n.live);
        if (down.length > 0) this.restart(down[e.pick % down.length]!);
        return;
      }
      case 'propose': {
        const data = payload(++this.proposals, PAYLOAD_SIZES[e.size]);
        this.request(this.node(e.node), (raw) => raw.propose(data));
        return;
      }
      case 'confChange': {
        const n = this.node(e.node);
        if (!n.live) return;
        const cc = membershipChange(n.raw.status().confState, this.ids, e.op, e.pick, e.transition);
        if (cc) this.request(n, (raw) => raw.proposeConfChange(cc));
        return;
      }
      case 'transferLeader': {
        const leader = this.currentLeader();
        if (leader) this.request(leader, (raw) => raw.transferLeader(e.target));
        return;
      }
      case 'compact': {
        const n = this.node(e.node);
        if (n.live) n.compact();
        return;
      }
      case 'readIndex': {
        const context = new TextEncoder().encode(`r${++this.reads}`);
        this.monitor.readRequested(context);
        this.request(this.node(e.node), (raw) => raw.readIndex(context));
        return;
      }
    }
  }

  private tick(n: SimNode, ticks: number): void {
    for (let i = 0; i < ticks && n.live; i++) {
      n.raw.tick();
      n.drain();
    }
  }

  /** Make a request of a live node; a refused proposal (PROPOSAL_DROPPED) is a normal outcome. */
  private request(n: SimNode, call: (raw: SimNode['raw']) => void): void {
    if (!n.live) return;
    try {
      call(n.raw);
    } catch (err) {
      if (!isErrorCode(err, 'PROPOSAL_DROPPED')) throw err;
    }
    n.drain();
  }

  private deliver(m: Message): void {
    const to = this.node(m.to);
    if (!this.network.connected(m.from, m.to) || !to.live) {
      this.lost(m);
      return;
    }
    to.raw.step(m);
    to.drain();
    if (m.type === MessageType.Snap) this.reportSnapshot(m, true);
  }

  /** A message was lost on the way; a snapshot's sender learns it (its transport would). */
  private lost(m: Message): void {
    if (m.type === MessageType.Snap) this.reportSnapshot(m, false);
  }

  private reportSnapshot(m: Message, ok: boolean): void {
    const from = this.node(m.from);
    if (!from.live) return;
    from.raw.reportSnapshot(m.to, ok);
    from.drain();
  }

  private restart(n: SimNode): void {
    n.start();
    n.drain();
  }
}

/**
 * The membership change `op` proposes against the proposer's membership `cs`, choosing its
 * subject among `ids` with `pick`; undefined when `op` has no subject there.
 */
function membershipChange(
  cs: ConfState,
  ids: readonly number[],
  op: MembershipOp,
  pick: number,
  transition: ConfChangeTransition,
): ConfChange | undefined {
  const voters = cs.voters;
  const learners = cs.learners;
  const outsiders = ids.filter((id) => !voters.includes(id) && !learners.includes(id));
  const choose = (from: readonly number[]): number | undefined =>
    from.length === 0 ? undefined : from[pick % from.length];
  const single = (type: ConfChangeType, from: readonly number[]): ConfChange | undefined => {
    const nodeId = choose(from);
    return nodeId === undefined ? undefined : { transition, changes: [{ type, nodeId }] };
  };
  switch (op) {
    case 'addLearner':
      return single(ConfChangeType.AddLearner, outsiders);
    case 'addVoter':
      return single(ConfChangeType.AddVoter, [...learners, ...outsiders]);
    case 'removeVoter':
      return single(ConfChangeType.Remove, voters);
    case 'removeLearner':
      return single(ConfChangeType.Remove, learners);
    case 'replaceVoter': {
      const add = choose([...learners, ...outsiders]);
      const remove = choose(voters);
      if (add === undefined || remove === undefined) return undefined;
      const changes: ConfChangeSingle[] = [
        { type: ConfChangeType.AddVoter, nodeId: add },
        { type: ConfChangeType.Remove, nodeId: remove },
      ];
      return { transition, changes };
    }
    case 'leaveJoint':
      return { transition: ConfChangeTransition.Auto, changes: [] };
    case 'demoteVoter':
      return single(ConfChangeType.AddLearner, voters);
  }
}
