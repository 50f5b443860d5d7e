import { type Logger, silentLogger } from '../logger.js';
import type { RaftHost } from '../partition/host.js';
import type { PeerTransport } from '../partition/transport.js';
import { METADATA_GROUP, type MetadataState } from '../statemachine/metadata.js';
import { ClusterAdmin } from './admin.js';
import { metadataGoal } from './metadata-membership.js';
import { type CatchUpBytesOf, MembershipDriver, ReplicaMover } from './reassign.js';

/** How often the metadata leader plans moves (off draining brokers; everywhere in automatic mode). */
const PLAN_INTERVAL_MS = 1000;

export interface ElasticityOptions {
  readonly host: RaftHost;
  readonly transport: PeerTransport;
  readonly metadata: () => MetadataState;
  readonly catchUpMetadata: () => Promise<void>;
  readonly isAlive: (id: number) => boolean;
  /** Catch-up progress in bytes, for the groups that can tell (partitions). */
  readonly catchUpBytes?: CatchUpBytesOf;
  /** Even out replicas and leaders automatically (off by default). */
  readonly autoRebalance?: boolean;
  readonly logger?: Logger;
}

/**
 * A broker's part in online elasticity (issue 9), run from its housekeeping: it learns peers'
 * addresses from the metadata, drives the replica moves of the groups it leads, and — on the
 * metadata leader — keeps the metadata group's own membership in step with the brokers and plans
 * moves off draining brokers.
 */
export class Elasticity {
  readonly admin: ClusterAdmin;
  private readonly mover: ReplicaMover;
  private readonly metadataDriver: MembershipDriver;
  private readonly peers = new Map<number, string>();
  private nextPlan = 0;

  constructor(private readonly o: ElasticityOptions) {
    const log = o.logger ?? silentLogger;
    this.mover = new ReplicaMover(o.host, log, o.catchUpBytes);
    this.metadataDriver = new MembershipDriver(o.host, log);
    this.admin = new ClusterAdmin({
      host: o.host,
      metadata: o.metadata,
      catchUpMetadata: o.catchUpMetadata,
      isAlive: o.isAlive,
      moveProgress: () => this.mover.moves(),
    });
  }

  run(now = Date.now()): void {
    const state = this.o.metadata();
    this.mover.run(state, now);
    const conf = this.o.host.status(METADATA_GROUP)?.confState;
    if (conf) this.metadataDriver.step(METADATA_GROUP, metadataGoal(state, conf), now);
    if (now >= this.nextPlan) {
      this.nextPlan = now + PLAN_INTERVAL_MS;
      this.admin.plan(this.o.autoRebalance ?? false);
    }
  }

  /** Point the transport at every registered broker's peer address; forget removed brokers. */
  syncPeers(state: MetadataState): void {
    const self = this.o.transport.self;
    for (const b of Object.values(state.brokers)) {
      if (b.id === self || b.peer === '' || this.peers.get(b.id) === b.peer) continue;
      this.peers.set(b.id, b.peer);
      this.o.transport.setPeer(b.id, b.peer);
    }
    for (const id of state.removed) {
      if (id === self || !this.peers.has(id)) continue;
      this.peers.delete(id);
      this.o.transport.removePeer(id);
    }
  }
}
