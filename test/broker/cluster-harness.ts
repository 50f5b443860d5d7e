import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { RollbackGuard } from '../../src/partition/rollback-guard.js';
import { TcpTransport } from '../../src/partition/tcp-transport.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';

const SECRET = 'test-cluster-secret';
/** Fast timing for tests: 20 ms ticks, elections after 200-400 ms. */
export const TEST_TIMING = { tickMs: 20, electionTick: 10, heartbeatTick: 2 };

/** Poll `check` until it returns a value other than undefined/false, or fail after `ms`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: lastError });
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Member {
  broker: Broker | undefined;
  transport: TcpTransport | undefined;
  /** What this broker saw of its peers' sync counters (rollback detection); kept after it stops. */
  guard: RollbackGuard | undefined;
  store: LevelLogStore | undefined;
  dir: string;
  peerAddress: string;
  /** Started with `joining` (it joined a running cluster). */
  joined: boolean;
}

/** Broker options every broker of a test cluster gets. */
export type ClusterBrokerOptions = Partial<
  Pick<BrokerOptions, 'retentionCheckMs' | 'compactionEntries' | 'moveBandwidth' | 'autoRebalance'>
>;

/** N brokers in this process, over the real TCP transport on loopback, each with its own store. */
export class InProcessCluster {
  readonly members = new Map<number, Member>();
  private constructor(
    readonly ids: number[],
    private readonly timing: typeof TEST_TIMING,
    private readonly options: ClusterBrokerOptions,
  ) {}

  static async start(
    n: number,
    timing = TEST_TIMING,
    options: ClusterBrokerOptions = {},
  ): Promise<InProcessCluster> {
    const ids = Array.from({ length: n }, (_, i) => i + 1);
    const cluster = new InProcessCluster([...ids], timing, options);
    for (const id of ids) {
      const dir = await mkdtemp(join(tmpdir(), `raftlog-cluster-${id}-`));
      cluster.members.set(id, {
        broker: undefined,
        transport: undefined,
        guard: undefined,
        store: undefined,
        dir,
        peerAddress: '127.0.0.1:0',
        joined: false,
      });
    }
    for (const id of ids) await cluster.startTransport(id);
    await Promise.all(ids.map((id) => cluster.confirm(id)));
    for (const id of ids) cluster.startBroker(id);
    return cluster;
  }

  /** Open a broker's store and transport, and wire it to the other brokers' transports. */
  private async startTransport(id: number): Promise<void> {
    const m = this.members.get(id)!;
    await this.openStore(id, m);
    m.peerAddress = m.transport!.address;
    for (const [other, om] of this.members) {
      if (other === id || !om.transport) continue;
      m.transport!.setPeer(other, om.peerAddress);
      om.transport.setPeer(id, m.peerAddress);
    }
  }

  /** Open broker `id`'s store, its rollback guard and its transport (listening, dialling nothing yet). */
  private async openStore(id: number, m: Member): Promise<void> {
    const store = await LevelLogStore.open(m.dir);
    const guard = new RollbackGuard({ store, dir: m.dir });
    m.transport = await TcpTransport.listen({
      self: id,
      listen: m.peerAddress,
      clusterSecret: SECRET,
      syncCounters: guard,
    });
    m.store = store;
    m.guard = guard;
  }

  /** The start gate: the peers confirm the store is not rolled back; on refusal, close everything. */
  private async confirm(id: number): Promise<void> {
    const m = this.members.get(id)!;
    try {
      await m.guard!.confirm(m.transport!, this.ids);
    } catch (err) {
      await m.transport!.close();
      await m.store!.close();
      m.transport = undefined;
      m.store = undefined;
      throw err;
    }
  }

  private startBroker(id: number): void {
    const m = this.members.get(id)!;
    m.broker = new Broker({
      id,
      store: m.store!,
      transport: m.transport!,
      ...(m.joined
        ? { joining: true }
        : { initialBrokers: this.ids.filter((i) => !this.members.get(i)!.joined) }),
      peerAddress: m.peerAddress,
      clientUrl: `http://broker-${id}.invalid`,
      timing: this.timing,
      requestTimeoutMs: 5000,
      ...this.options,
    });
  }

  /**
   * Start a new broker that joins the running cluster the way `raftlog start --join` does: it
   * registers through the metadata leader and learns the peers' addresses from the answer; the
   * running brokers learn its address from the metadata.
   */
  async join(id: number): Promise<Broker> {
    const dir = await mkdtemp(join(tmpdir(), `raftlog-cluster-${id}-`));
    const m: Member = {
      broker: undefined,
      transport: undefined,
      guard: undefined,
      store: undefined,
      dir,
      peerAddress: '127.0.0.1:0',
      joined: true,
    };
    this.members.set(id, m);
    this.ids.push(id);
    await this.openStore(id, m);
    m.peerAddress = m.transport!.address;
    const brokers = await (await this.metadataLeader()).admin.registerBroker({
      id,
      url: `http://broker-${id}.invalid`,
      peer: m.peerAddress,
    });
    for (const b of brokers) if (b.id !== id) m.transport!.setPeer(b.id, b.peer);
    await this.confirm(id);
    this.startBroker(id);
    return this.broker(id);
  }

  /** A broker's data directory (kept until {@link stop}). */
  dataDir(id: number): string {
    return this.members.get(id)!.dir;
  }

  /** Stop every running broker but keep their data, to read it afterwards. */
  async stopBrokers(): Promise<void> {
    for (const id of this.ids) if (this.members.get(id)?.broker) await this.kill(id);
  }

  broker(id: number): Broker {
    const b = this.members.get(id)?.broker;
    if (!b) throw new Error(`broker ${id} is not running`);
    return b;
  }

  running(): Broker[] {
    return [...this.members.values()].flatMap((m) => (m.broker ? [m.broker] : []));
  }

  /** Stop a broker without any goodbye: its peers just stop hearing from it. */
  async kill(id: number): Promise<void> {
    const m = this.members.get(id)!;
    const broker = m.broker!;
    m.broker = undefined;
    m.transport = undefined;
    m.store = undefined;
    await broker.close();
  }

  /**
   * Start a stopped broker again on its data directory and old peer address, once its peers
   * confirmed the directory is not rolled back (else this rejects with `STORAGE_CORRUPT`, and the
   * broker stays stopped).
   */
  async restart(id: number): Promise<void> {
    await this.startTransport(id);
    await this.confirm(id);
    this.startBroker(id);
  }

  /** The highest sync counter broker `id` has seen from broker `peer`. */
  seenFrom(id: number, peer: number): number {
    return this.members.get(id)!.guard!.seenFrom(peer);
  }

  async metadataLeader(): Promise<Broker> {
    return waitFor('a metadata leader', () => {
      for (const b of this.running()) {
        const leader = b.cluster().metadataLeader;
        if (leader !== null && this.members.get(leader)?.broker) return this.broker(leader);
      }
      return undefined;
    });
  }

  /** The broker leading `topic/partition`, as the running brokers agree. */
  async partitionLeader(topic: string, partition: number): Promise<Broker> {
    return waitFor(`a leader of ${topic}/${partition}`, async () => {
      for (const b of this.running()) {
        const d = await b.describeTopic(topic).catch(() => undefined);
        const leader = d?.partitions[partition]?.leader;
        if (leader && this.members.get(leader)?.broker) {
          const s = this.broker(leader)
            .partitionStatus()
            .find((p) => p.topic === topic && p.partition === partition);
          if (s?.leader === leader) return this.broker(leader);
        }
      }
      return undefined;
    });
  }

  async stop(): Promise<void> {
    for (const id of this.ids) {
      const m = this.members.get(id)!;
      if (m.broker) await m.broker.close().catch(() => {});
      m.broker = undefined;
      await rm(m.dir, { recursive: true, force: true });
    }
  }
}
