import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS_TOPIC } from '../../src/broker/groups.js';
import { RaftlogClient } from '../../src/client/index.js';
import { HttpCluster } from '../client/http-cluster.js';

describe('GET /v1/groups on four brokers (each hosts only some coordinators)', () => {
  let http: HttpCluster;
  let client: RaftlogClient;

  beforeAll(async () => {
    http = await HttpCluster.start(4);
    client = new RaftlogClient({ urls: http.allUrls(), retryBackoff: { initialMs: 20, maxMs: 300 } });
    await client.createTopic('events', { partitions: 1, replicationFactor: 4 });
    await http.topicEverywhere('events');
  });
  afterAll(async () => {
    await client?.close();
    await http?.stop();
  });

  it('lists the groups of every coordinator, whichever broker is asked', async () => {
    const names = Array.from({ length: 16 }, (_, i) => `team-${i}`);
    for (const group of names) {
      // A commit from outside the group creates it (and, the first time, the internal topic).
      await client.request(
        {
          method: 'PUT',
          path: `/v1/groups/${group}/offsets`,
          body: { offsets: [{ topic: 'events', partition: 0, offset: 0 }] },
        },
        'idempotent',
        40,
      );
    }
    const internal = await client.describeTopic(GROUPS_TOPIC);
    expect(internal.replicationFactor).toBe(3);
    // Every broker misses some coordinator, so every list below needs the others.
    for (const id of http.cluster.ids) {
      expect(internal.partitions.some((p) => !p.replicas.includes(id))).toBe(true);
    }
    for (const url of http.allUrls()) {
      const one = new RaftlogClient({ url });
      try {
        const groups = await one.listGroups();
        expect(groups.map((g) => g.group)).toEqual([...names].sort());
        expect(groups.every((g) => g.members === 0 && g.generation === 0)).toBe(true);
      } finally {
        await one.close();
      }
    }
  });
});
