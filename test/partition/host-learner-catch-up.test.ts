import { afterEach, describe, expect, it } from 'vitest';
import { RaftHost } from '../../src/partition/host.js';
import { ConfChangeTransition, ConfChangeType, MessageType, Role } from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { ListMachine, Mesh } from './host-mesh.js';

const GROUP = 3;
/** Long election timeouts: a slow test machine must not elect a new leader mid-test. */
const TIMING = { tickMs: 10, electionTick: 50, heartbeatTick: 2 };

describe('RaftHost: a learner catching up within the move bandwidth while writes go on', () => {
  const hosts: RaftHost[] = [];
  let producer: NodeJS.Timeout | undefined;
  afterEach(async () => {
    clearInterval(producer);
    for (const h of hosts.splice(0)) await h.close();
  });

  it('appends to the learner never overtake the ones the throttle holds', async () => {
    const mesh = new Mesh();
    const machines = new Map<number, ListMachine>();
    const start = (id: number, voters?: number[]) => {
      const host = new RaftHost({
        nodeId: id,
        store: new MemoryLogStore(),
        transport: mesh.transport(id),
        timing: TIMING,
        learnerBandwidth: 100 * 1024,
      });
      hosts.push(host);
      const sm = new ListMachine();
      machines.set(id, sm);
      host.addGroup(GROUP, sm, voters ? { voters, campaignIfNew: id === 1 } : {});
      return host;
    };
    const voters = [start(1, [1, 2, 3]), start(2, [1, 2, 3]), start(3, [1, 2, 3])];
    const leader = await waitFor('a leader', () =>
      voters.find((h) => h.groupState(GROUP)?.role === Role.Leader),
    );
    // 100 KiB of history: about a second of catch-up at 100 KiB/s.
    const big = 'x'.repeat(10 * 1024);
    for (let i = 0; i < 10; i++) await leader.propose(GROUP, new TextEncoder().encode(`${i}${big}`));

    // Live writes go on throughout: each commit makes the leader append to every member, the
    // learner too, while earlier appends to it wait for the bucket.
    let written = 0;
    producer = setInterval(() => {
      leader.propose(GROUP, new TextEncoder().encode(`live ${written++}`)).catch(() => {});
    }, 5);
    start(4);
    await leader.proposeConfChange(GROUP, {
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }],
    });
    await waitFor('the learner to hold 100 live entries', () => machines.get(4)!.values.length >= 110);
    clearInterval(producer);
    const total = await waitFor('the writes to settle', async () => {
      await leader.whenIdle();
      const n = machines.get(1)!.values.length;
      return machines.get(4)!.values.length === n && n;
    });
    expect(machines.get(4)!.values).toEqual(machines.get(1)!.values.slice(0, total));

    // The learner refused only the leader's first append (its log was empty then): a later
    // refusal means an append overtook held ones, and the leader sent everything from the
    // learner's match again, behind the held copies.
    const refused = mesh.sent.filter((m) => m.type === MessageType.AppResp && m.from === 4 && m.reject);
    expect(refused).toHaveLength(1);
  });
});
