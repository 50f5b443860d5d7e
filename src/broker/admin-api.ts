/**
 * Cluster administration a broker offers its front ends (issue 9): brokers joining, draining and
 * leaving, replica moves and rebalancing. Changes are served by the metadata group's leader
 * (NOT_LEADER with `details.leader` elsewhere, for the front end to forward).
 */

/** A broker as the metadata knows it. */
export interface BrokerInfo {
  readonly id: number;
  /** Client (HTTP) URL. */
  readonly url: string;
  /** Peer (Raft transport) address, `host:port`. */
  readonly peer: string;
  /** `draining`: no new replicas go there, and its replicas are moving away. */
  readonly state: 'active' | 'draining';
  readonly alive: boolean;
  /** Partition replicas placed on it (counting where moving partitions are heading). */
  readonly replicas: number;
}

/** A broker asking to join the cluster. */
export interface BrokerRegistration {
  readonly id: number;
  readonly url: string;
  readonly peer: string;
}

/** A replica move in progress. */
export interface MoveStatus {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly target: readonly number[];
  /**
   * Known only on the group's leader (the broker driving the move): what it is doing, and for
   * each replica being added, the log entries it holds of the leader's last index, and (for a
   * partition, from brokers that report it) the bytes it holds of the `totalBytes` it needs: the
   * leader's snapshot and its retained records.
   */
  readonly state?: string;
  readonly catchUp?: ReadonlyArray<{
    readonly broker: number;
    readonly match: number;
    readonly lastIndex: number;
    readonly bytes?: number;
    readonly totalBytes?: number;
  }>;
}

/** A planned change of one partition's replicas. */
export interface PlannedReassignment {
  readonly topic: string;
  readonly partition: number;
  readonly from: readonly number[];
  readonly to: readonly number[];
}

export interface ClusterAdminApi {
  listBrokers(): Promise<BrokerInfo[]>;
  /** Register a new broker (or a broker's new addresses); resolves with every broker. */
  registerBroker(b: BrokerRegistration): Promise<BrokerInfo[]>;
  /** Mark a broker draining: leaderships and then replicas move away from it. */
  drainBroker(id: number): Promise<void>;
  /** Remove a drained broker from the cluster (BROKER_NOT_EMPTY while it holds replicas). */
  removeBroker(id: number): Promise<void>;
  /** Start moving a partition's replicas to `target` (its first broker becomes the preferred leader). */
  moveReplicas(topic: string, partition: number, target: readonly number[]): Promise<void>;
  /** Head a move back to the replicas it started from. */
  cancelMove(topic: string, partition: number): Promise<void>;
  /** Plan moves that even out replicas and preferred leaders; start them unless `dryRun`. */
  rebalance(options: { readonly dryRun: boolean }): Promise<PlannedReassignment[]>;
  /** Moves in progress, as this broker knows them (with progress for the groups it leads). */
  moves(): MoveStatus[];
}
