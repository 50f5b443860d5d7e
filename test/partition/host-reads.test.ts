import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RaftHost } from '../../src/partition/host.js';
import { MessageType } from '../../src/raft/types.js';
import { MeshCluster } from './host-mesh.js';

const GROUP = 3;
const encode = (s: string) => new TextEncoder().encode(s);

describe('RaftHost reads (ReadIndex, thesis §6.4)', () => {
  let c: MeshCluster;
  beforeEach(() => {
    c = new MeshCluster(GROUP);
  });
  afterEach(() => c.close());

  async function cluster(): Promise<RaftHost> {
    const leader = await c.startThree();
    await leader.propose(GROUP, encode('x'));
    return leader;
  }

  /** Heartbeats that carry a read context (not the quiescence marker) sent so far. */
  const readRounds = () =>
    c.mesh.sent.filter((m) => m.type === MessageType.Heartbeat && (m.context?.byteLength ?? 0) === 8).length;

  it('reads asked for in one turn share one heartbeat round and one read point', async () => {
    const leader = await cluster();
    const before = readRounds();
    const indexes = await Promise.all(Array.from({ length: 10 }, () => leader.readIndex(GROUP)));
    expect(new Set(indexes).size).toBe(1);
    expect(readRounds() - before).toBe(2); // one heartbeat to each follower
  });

  it('a read asked for after a batch reached Raft waits for a read point of its own', async () => {
    const leader = await cluster();
    const first = leader.readIndex(GROUP);
    // Let the turn hand the first batch to Raft, then acknowledge a write.
    await new Promise((resolve) => setImmediate(resolve));
    await leader.propose(GROUP, encode('y'));
    const written = leader.status(GROUP)!.hardState.commit;
    const second = await leader.readIndex(GROUP);
    expect(second).toBeGreaterThanOrEqual(written);
    expect(await first).toBeLessThan(written);
  });
});
