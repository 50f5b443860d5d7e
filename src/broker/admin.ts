import { RaftlogError } from '../errors.js';
import type { RaftHost } from '../partition/host.js';
import { Role } from '../raft/types.js';
import {
  encodeMetadataCommand,
  METADATA_GROUP,
  type MetadataCommand,
  type MetadataState,
} from '../statemachine/metadata.js';
import { goalReplicas } from '../statemachine/placement.js';
import type {
  BrokerInfo,
  BrokerRegistration,
  ClusterAdminApi,
  MoveStatus,
  PlannedReassignment,
} from './admin-api.js';
import type { MoveProgress } from './reassign.js';
import { type PlannedMove, planReassignments } from './rebalance.js';

/** Most moves started by draining or automatic rebalancing while others still run. */
const MAX_AUTOMATIC_MOVES = 8;

/** What the admin operations need from their broker. */
export interface AdminContext {
  readonly host: RaftHost;
  metadata(): MetadataState;
  catchUpMetadata(): Promise<void>;
  isAlive(id: number): boolean;
  /** Progress of the moves this broker drives. */
  moveProgress(): readonly MoveProgress[];
}

/** {@link ClusterAdminApi} on a broker: every change is one metadata command. */
export class ClusterAdmin implements ClusterAdminApi {
  constructor(private readonly b: AdminContext) {}

  async listBrokers(): Promise<BrokerInfo[]> {
    await this.b.catchUpMetadata();
    return this.brokers(this.b.metadata());
  }

  async registerBroker(reg: BrokerRegistration): Promise<BrokerInfo[]> {
    await this.propose({ op: 'register_broker', broker: { id: reg.id, url: reg.url, peer: reg.peer } });
    return this.brokers(this.b.metadata());
  }

  async drainBroker(id: number): Promise<void> {
    await this.propose({ op: 'drain_broker', id });
  }

  async removeBroker(id: number): Promise<void> {
    await this.propose({ op: 'remove_broker', id });
  }

  async moveReplicas(topic: string, partition: number, target: readonly number[]): Promise<void> {
    const group = await this.group(topic, partition);
    const state = this.b.metadata();
    const refused = target.find((id) => state.draining.includes(id));
    if (refused !== undefined) throw new RaftlogError('INVALID_REQUEST', `broker ${refused} is draining`);
    await this.propose({ op: 'start_move', group, target });
  }

  async cancelMove(topic: string, partition: number): Promise<void> {
    await this.propose({ op: 'cancel_move', group: await this.group(topic, partition) });
  }

  async rebalance(options: { readonly dryRun: boolean }): Promise<PlannedReassignment[]> {
    this.requireMetadataLeader();
    await this.b.catchUpMetadata();
    const plan = planReassignments(this.b.metadata(), eligibleBrokers(this.b.metadata()), { even: true });
    if (!options.dryRun) for (const m of plan) await this.startPlanned(m);
    return plan.map(({ topic, partition, from, to }) => ({ topic, partition, from, to }));
  }

  moves(): MoveStatus[] {
    const progress = new Map(this.b.moveProgress().map((p) => [p.group, p]));
    const out: MoveStatus[] = [];
    for (const t of Object.values(this.b.metadata().topics)) {
      for (const p of t.partitions) {
        if (!p.move) continue;
        const mine = progress.get(p.group);
        out.push({
          topic: t.name,
          partition: p.partition,
          replicas: p.replicas,
          target: p.move.target,
          ...(mine ? { state: mine.state, catchUp: mine.catchUp } : {}),
        });
      }
    }
    return out;
  }

  /**
   * On the metadata leader, now and then: move replicas off draining brokers, and with
   * `autoRebalance` even out the rest, a few moves at a time.
   */
  plan(autoRebalance: boolean): void {
    if (this.b.host.groupState(METADATA_GROUP)?.role !== Role.Leader) return;
    const state = this.b.metadata();
    if (state.draining.length === 0 && !autoRebalance) return;
    let running = Object.values(state.topics).reduce(
      (n, t) => n + t.partitions.filter((p) => p.move).length,
      0,
    );
    const plan = planReassignments(state, eligibleBrokers(state), { even: autoRebalance });
    for (const m of plan) {
      if (running++ >= MAX_AUTOMATIC_MOVES) return;
      this.b.host.submit(
        METADATA_GROUP,
        encodeMetadataCommand({ op: 'start_move', group: m.group, target: m.to }),
      );
    }
  }

  private async startPlanned(m: PlannedMove): Promise<void> {
    const result = await this.b.host.propose(
      METADATA_GROUP,
      encodeMetadataCommand({ op: 'start_move', group: m.group, target: m.to }),
    );
    // A partition that started moving meanwhile keeps its move.
    if (result instanceof RaftlogError && result.code !== 'MOVE_IN_PROGRESS') throw result;
  }

  private async group(topic: string, partition: number): Promise<number> {
    let t = this.b.metadata().topics[topic];
    if (!t) {
      await this.b.catchUpMetadata();
      t = this.b.metadata().topics[topic];
    }
    if (!t) throw new RaftlogError('TOPIC_NOT_FOUND', `topic ${topic} does not exist`);
    const p = t.partitions[partition];
    if (!p) throw new RaftlogError('PARTITION_NOT_FOUND', `topic ${topic} has no partition ${partition}`);
    return p.group;
  }

  private requireMetadataLeader(): void {
    const s = this.b.host.groupState(METADATA_GROUP);
    if (s?.role === Role.Leader) return;
    const leader = s?.leader ?? 0;
    if (leader === 0) throw new RaftlogError('NO_LEADER', 'the metadata group has no leader right now');
    throw new RaftlogError('NOT_LEADER', 'this broker is not the leader of the metadata group', {
      details: { leader },
    });
  }

  /** Propose one metadata command on the metadata leader; a refusal it returns is thrown. */
  private async propose(cmd: MetadataCommand): Promise<void> {
    this.requireMetadataLeader();
    const result = await this.b.host.propose(METADATA_GROUP, encodeMetadataCommand(cmd));
    if (result instanceof RaftlogError) throw result;
  }

  private brokers(state: MetadataState): BrokerInfo[] {
    const replicas = new Map<number, number>();
    for (const t of Object.values(state.topics))
      for (const p of t.partitions)
        for (const id of goalReplicas(p)) replicas.set(id, (replicas.get(id) ?? 0) + 1);
    return Object.values(state.brokers)
      .map((b) => ({
        id: b.id,
        url: b.url,
        peer: b.peer,
        state: state.draining.includes(b.id) ? ('draining' as const) : ('active' as const),
        alive: this.b.isAlive(b.id),
        replicas: replicas.get(b.id) ?? 0,
      }))
      .sort((a, b) => a.id - b.id);
  }
}

/** Brokers that may be given replicas: registered and not draining. */
export function eligibleBrokers(state: MetadataState): number[] {
  return Object.values(state.brokers)
    .map((b) => b.id)
    .filter((id) => !state.draining.includes(id))
    .sort((a, b) => a - b);
}
