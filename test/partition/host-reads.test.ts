import { afterEach, describe, expect, it } from 'vitest';
import { RaftHost } from '../../src/partition/host.js';
import { MessageType, Role } from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { ListMachine, Mesh, TIMING } from './host-mesh.js';

const GROUP = 3;
const encode = (s: string) => new TextEncoder().encode(s);

describe('RaftHost reads (ReadIndex, thesis §6.4)', () => {
  const hosts: RaftHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });

  async function cluster(mesh: Mesh): Promise<RaftHost> {
    for (const id of [1, 2, 3]) {
      const host = new RaftHost({
        nodeId: id,
        store: new MemoryLogStore(),
        transport: mesh.transport(id),
        timing: TIMING,
      });
      hosts.push(host);
      host.addGroup(GROUP, new ListMachine(), { voters: [1, 2, 3], campaignIfNew: id === 1 });
    }
    const leader = await waitFor('a leader', () =>
      hosts.find((h) => h.groupState(GROUP)?.role === Role.Leader),
    );
    await leader.propose(GROUP, encode('x'));
    return leader;
  }

  /** Heartbeats that carry a read context (not the quiescence marker) sent so far. */
  const readRounds = (mesh: Mesh) =>
    mesh.sent.filter((m) => m.type === MessageType.Heartbeat && (m.context?.byteLength ?? 0) === 8).length;

  it('reads asked for in one turn share one heartbeat round and one read point', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const before = readRounds(mesh);
    const indexes = await Promise.all(Array.from({ length: 10 }, () => leader.readIndex(GROUP)));
    expect(new Set(indexes).size).toBe(1);
    expect(readRounds(mesh) - before).toBe(2); // one heartbeat to each follower
  });

  it('a read asked for after a batch reached Raft waits for a read point of its own', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
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
