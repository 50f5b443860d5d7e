import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/index.js';
import { TEST_TIMING, waitFor } from './cluster-harness.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('RaftLog.open with peers: an embedded three-node cluster', () => {
  const dirs: string[] = [];
  const logs: RaftLog[] = [];
  afterEach(async () => {
    await Promise.all(logs.splice(0).map((l) => l.close()));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('replicates appends across the nodes; the leader of a partition serves it', async () => {
    const ports = await Promise.all([1, 2, 3].map(() => freePort()));
    const peers = Object.fromEntries(ports.map((p, i) => [i + 1, `127.0.0.1:${p}`]));
    for (let i = 0; i < 3; i++) dirs.push(await mkdtemp(join(tmpdir(), `raftlog-embedded-${i + 1}-`)));
    logs.push(
      ...(await Promise.all(
        dirs.map((dataDir, i) =>
          RaftLog.open({ dataDir, nodeId: i + 1, peers, clusterSecret: 'shh', timing: TEST_TIMING }),
        ),
      )),
    );
    const node = (id: number) => logs[id - 1]!;
    const meta = await waitFor('a node that can create topics', async () => {
      for (const l of logs)
        if (
          await l.createTopic('orders').then(
            () => true,
            () => false,
          )
        )
          return l;
      return undefined;
    });
    expect((await meta.describeTopic('orders')).partitions[0]!.replicas).toHaveLength(3);
    const leaderId = await waitFor('a leader of orders/0', () =>
      meta.leaderOf('orders', 0).then((l) => l ?? undefined),
    );
    const leader = node(leaderId);
    expect(await leader.append('orders', 0, [{ value: 'replicated' }])).toMatchObject({ baseOffset: 0 });
    const follower = node((leaderId % 3) + 1);
    // Until a follower has heard from the leader it answers NO_LEADER (retriable); once it has,
    // it names the leader.
    await waitFor(
      'the follower to know the leader',
      async () => (await follower.leaderOf('orders', 0)) === leaderId,
    );
    await expect(follower.append('orders', 0, [{ value: 'x' }])).rejects.toMatchObject({
      code: 'NOT_LEADER',
      details: { leader: leaderId },
    });
    const { records } = await leader.read('orders', 0, 0);
    expect(records.map((r) => Buffer.from(r.value).toString())).toEqual(['replicated']);
  });
});
