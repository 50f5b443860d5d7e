import { afterAll, beforeAll } from 'vitest';
import type { GroupConsumer } from '../../src/client/index.js';
import { RaftlogClient, RaftlogClientError } from '../../src/client/index.js';
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

/** A producer writing in the background; see {@link produceUntilStopped}. */
export interface BackgroundProducer {
  /** Stop after the write under way; resolves with how many writes were acknowledged. */
  stop(): Promise<number>;
}

/**
 * Produce one record at a time, round robin over `partitions` of `topic`, until stopped. A write
 * the cluster fails (a broker failover) has an unknown outcome and is not counted: the high
 * watermarks tell. Any other failure (the client closed under it, after a failed test) ends the
 * loop, rather than retrying at once forever and starving the event loop.
 */
export function produceUntilStopped(
  client: RaftlogClient,
  topic: string,
  partitions: number,
): BackgroundProducer {
  let producing = true;
  let acknowledged = 0;
  const done = (async () => {
    while (producing) {
      try {
        await client.produce(topic, acknowledged % partitions, [{ value: `r${acknowledged}` }]);
        acknowledged++;
      } catch (err) {
        if (!(err instanceof RaftlogClientError)) throw err;
      }
    }
  })();
  done.catch(() => {}); // met by stop(), unless the test failed before
  return {
    stop: async () => {
      producing = false;
      await done;
      return acknowledged;
    },
  };
}
