/**
 * raftlog as a library: a durable, replicated, partitioned log inside your own Node process.
 *
 * ```ts
 * const log = await RaftLog.open({ dataDir: './data' });
 * await log.createTopic('orders', { partitions: 3 });
 * const { baseOffset } = await log.append('orders', 0, [{ value: 'hello' }]);
 * const { records } = await log.read('orders', 0, baseOffset);
 * await log.close();
 * ```
 */
import type { FetchResult, ProduceResult, ProducerTag, TopicDescription } from './broker/api.js';
import { Broker } from './broker/broker.js';
import { RaftlogError } from './errors.js';
import type { Logger } from './logger.js';
import type { HostTiming } from './partition/host.js';
import { openPeerTransport } from './partition/open-peer-transport.js';
import type { TcpTransport } from './partition/tcp-transport.js';
import { LevelLogStore } from './storage/level-log-store.js';

export type {
  FetchedRecord,
  FetchResult,
  ProduceResult,
  ProducerTag,
  TopicDescription,
} from './broker/api.js';
export { type ErrorCode, ErrorCodes, isErrorCode, RaftlogError } from './errors.js';
export type { Logger } from './logger.js';

/** Options of {@link RaftLog.open}. */
export interface RaftLogOptions {
  /** Directory of this node's LevelDB database; created if missing. */
  readonly dataDir: string;
  /** This node's broker id. Default 1. */
  readonly nodeId?: number;
  /**
   * Peer (Raft transport) addresses `host:port` of every node of the initial cluster, this one
   * included, by node id. Omit for a single-node log.
   */
  readonly peers?: Readonly<Record<number, string>>;
  /** Where this node accepts peer connections; default its own entry of `peers`. Port 0 allowed. */
  readonly peerListen?: string;
  /** The secret every node of the cluster shares (required with `peers`). */
  readonly clusterSecret?: string;
  /** Milliseconds per Raft tick and election / heartbeat ticks. */
  readonly timing?: Partial<HostTiming>;
  /** How long an append or read waits for its commit before COMMIT_TIMEOUT. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /**
   * How long `open` waits for the log to have a leader. Default 10 s. In a cluster, it first waits
   * (as long again at most) for the peers to confirm that `dataDir` is not older than what they saw
   * from this node: a data directory put back from an earlier copy, or replaced by an empty one, is
   * refused with `STORAGE_CORRUPT` (see the README, "Rolled-back data directories").
   */
  readonly readyTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A record to append. Strings are stored as their UTF-8 bytes. */
export interface AppendRecord {
  readonly key?: string | Uint8Array;
  readonly value: string | Uint8Array;
  readonly headers?: ReadonlyArray<readonly [string, string | Uint8Array]>;
}

/** Options of {@link RaftLog.read}. */
export interface ReadOptions {
  /** Most records returned. Default 500. */
  readonly maxRecords?: number;
  /** About this many bytes of keys and values at most (at least one record). Default 1 MiB. */
  readonly maxBytes?: number;
  /** When `offset` is the end of the log, wait up to this long for a record. Default 0. */
  readonly waitMs?: number;
}

const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/**
 * A durable log in-process: topics of partitions, each partition a Raft group whose entries are
 * fsync'd to LevelDB before an append resolves. Opened alone it is a single-node cluster.
 */
export class RaftLog {
  private constructor(private readonly broker: Broker) {}

  /** Open (or create) the log in `dataDir` and wait until it can serve. */
  static async open(options: RaftLogOptions): Promise<RaftLog> {
    const id = options.nodeId ?? 1;
    const peers = new Map(Object.entries(options.peers ?? {}).map(([k, v]) => [Number(k), v] as const));
    if (peers.size > 0 && (!peers.has(id) || !options.clusterSecret)) {
      throw new RaftlogError(
        'INVALID_REQUEST',
        'peers must include this node, and a clusterSecret is required',
      );
    }
    const store = await LevelLogStore.open(options.dataDir);
    let transport: TcpTransport | undefined;
    try {
      // Refuses (STORAGE_CORRUPT) a data directory older than what the peers saw from this node.
      if (peers.size > 0) {
        transport = await openPeerTransport({
          self: id,
          listen: options.peerListen ?? peers.get(id)!,
          peers: new Map([...peers].filter(([peer]) => peer !== id)),
          clusterSecret: options.clusterSecret!,
          store,
          dir: store.dir,
          gate: { timeoutMs: options.readyTimeoutMs ?? 10_000 },
          ...(options.logger ? { logger: options.logger } : {}),
        });
      }
    } catch (err) {
      await store.close();
      throw err;
    }
    const broker = new Broker({
      id,
      store,
      ...(transport ? { transport, peerAddress: transport.address, initialBrokers: [...peers.keys()] } : {}),
      ...(options.timing ? { timing: options.timing } : {}),
      ...(options.requestTimeoutMs ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    try {
      await broker.whenReady(options.readyTimeoutMs ?? 10_000);
    } catch (err) {
      await broker.close();
      throw err;
    }
    return new RaftLog(broker);
  }

  /**
   * Create a topic (on the node leading the metadata group; elsewhere NOT_LEADER). Throws
   * `TOPIC_EXISTS` if there is one of that name. Replication factor default: 1, or 3 in a cluster
   * of 3 or more nodes.
   */
  createTopic(
    name: string,
    options: { partitions?: number; replicationFactor?: number } = {},
  ): Promise<TopicDescription> {
    const replicationFactor = options.replicationFactor ?? Math.min(3, this.broker.cluster().nodes.length);
    return this.broker.createTopic({ name, partitions: options.partitions ?? 1, replicationFactor });
  }

  /**
   * The node currently leading `topic`/`partition`, or null while there is none. In a cluster,
   * `append` and `read` must be called on that node (elsewhere they throw `NOT_LEADER` with
   * `details.leader`); the HTTP front end forwards by itself, the library leaves routing to you.
   */
  async leaderOf(topic: string, partition: number): Promise<number | null> {
    const d = await this.broker.describeTopic(topic);
    return d.partitions[partition]?.leader ?? null;
  }

  /**
   * Describe a topic (partitions, leaders, high watermarks), linearizably for every partition
   * with a leader (see `Broker.describeTopic`). Throws `TOPIC_NOT_FOUND`.
   */
  describeTopic(name: string): Promise<TopicDescription> {
    return this.broker.describeTopic(name);
  }

  /**
   * Append records to one partition, all or nothing, as one entry. Resolves with their offsets
   * once the entry is fsync'd (on a majority of replicas) and applied.
   */
  append(
    topic: string,
    partition: number,
    records: readonly AppendRecord[],
    options: { producer?: ProducerTag } = {},
  ): Promise<ProduceResult> {
    const converted = records.map((r) => ({
      value: bytes(r.value),
      ...(r.key !== undefined ? { key: bytes(r.key) } : {}),
      ...(r.headers ? { headers: r.headers.map(([k, v]) => [k, bytes(v)] as const) } : {}),
    }));
    return this.broker.produce(topic, partition, converted, options.producer);
  }

  /** Read committed records from `offset`. Throws `OFFSET_OUT_OF_RANGE` outside the log. */
  read(topic: string, partition: number, offset: number, options: ReadOptions = {}): Promise<FetchResult> {
    return this.broker.fetch(topic, partition, {
      offset,
      ...(options.maxRecords !== undefined ? { maxRecords: options.maxRecords } : {}),
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ...(options.waitMs !== undefined ? { timeoutMs: options.waitMs } : {}),
    });
  }

  /** Finish what is in flight, then close the store. */
  close(): Promise<void> {
    return this.broker.close();
  }
}
