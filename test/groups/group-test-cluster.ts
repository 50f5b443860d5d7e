import { afterAll, beforeAll } from 'vitest';
import type { GroupConsumer } from '../../src/client/index.js';
import { RaftlogClient } from '../../src/client/index.js';
import { HttpCluster } from '../client/http-cluster.js';

/**
 * A 3-broker cluster over HTTP with one topic, started before a file's tests and stopped after
 * them with every client and consumer the tests registered in `clients` and `consumers`.
 */
export class GroupTestCluster {
  http!: HttpCluster;
  admin!: RaftlogClient;
  readonly clients: RaftlogClient[] = [];
  readonly consumers: GroupConsumer[] = [];

  static use(topic: string, partitions: number): GroupTestCluster {
    const t = new GroupTestCluster();
    beforeAll(async () => {
      t.http = await HttpCluster.start(3);
      t.admin = new RaftlogClient({ urls: t.http.allUrls(), retryBackoff: { initialMs: 20, maxMs: 300 } });
      await t.admin.createTopic(topic, { partitions, replicationFactor: 3 });
      await t.http.topicEverywhere(topic);
    });
    afterAll(async () => {
      await Promise.all(t.consumers.map((c) => c.close().catch(() => {})));
      for (const c of t.clients) await c.close().catch(() => {});
      await t.admin?.close();
      await t.http?.stop();
    });
    return t;
  }
}
