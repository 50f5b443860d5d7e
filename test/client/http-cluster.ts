import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import {
  type ClusterBrokerOptions,
  InProcessCluster,
  TEST_TIMING,
  waitFor,
} from '../broker/cluster-harness.js';

/**
 * A real three-broker cluster in this process ({@link InProcessCluster}) with an HTTP server in
 * front of each broker on 127.0.0.1, port 0, and every broker's client URL set to its server, so
 * brokers forward to each other and name each other's URLs in NOT_LEADER answers.
 */
export class HttpCluster {
  readonly urls = new Map<number, string>();
  readonly #servers = new Map<number, HttpServer>();

  private constructor(readonly cluster: InProcessCluster) {}

  static async start(n = 3, options: ClusterBrokerOptions = {}): Promise<HttpCluster> {
    const c = new HttpCluster(await InProcessCluster.start(n, TEST_TIMING, options));
    try {
      for (const id of c.cluster.ids) await c.#serve(id);
      // Every broker must know every other's URL (the metadata carries them) before tests forward.
      await waitFor('every broker to know every client URL', () =>
        c.cluster.running().every((b) => c.cluster.ids.every((id) => b.brokerUrl(id) === c.urls.get(id))),
      );
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Every broker's URL, in id order. */
  allUrls(): string[] {
    return this.cluster.ids.map((id) => this.urls.get(id)!);
  }

  /** The id of the broker leading `topic/partition`, as the brokers agree. */
  async leaderOf(topic: string, partition: number): Promise<number> {
    return (await this.cluster.partitionLeader(topic, partition)).id;
  }

  /**
   * Wait until every running broker knows `topic` and a leader for each of its partitions. A
   * broker answers topic requests from the metadata it has applied, which may be a heartbeat
   * behind the metadata leader that created the topic.
   */
  async topicEverywhere(topic: string): Promise<void> {
    await waitFor(`every broker to know ${topic} and its leaders`, async () => {
      for (const b of this.cluster.running()) {
        const d = await b.describeTopic(topic);
        if (d.partitions.some((p) => p.leader === null)) return false;
      }
      return true;
    });
  }

  /** Stop a broker and its HTTP server abruptly (its peers just stop hearing from it). */
  async kill(id: number): Promise<void> {
    const server = this.#servers.get(id);
    this.#servers.delete(id);
    await this.cluster.kill(id);
    await server?.close();
  }

  async stop(): Promise<void> {
    for (const server of this.#servers.values()) await server.close().catch(() => {});
    this.#servers.clear();
    await this.cluster.stop();
  }

  async #serve(id: number): Promise<void> {
    const broker = this.cluster.broker(id);
    const server = createHttpServer({ broker, forwardTimeoutMs: 5000 });
    this.#servers.set(id, server);
    const { url } = await server.listen('127.0.0.1', 0);
    this.urls.set(id, url);
    broker.setClientUrl(url);
  }
}
