import { afterEach, describe, expect, it } from 'vitest';
import { type GroupStateMachine, isBootstrapSnapshot, RaftHost } from '../../src/partition/host.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  type Entry,
  EntryType,
  Role,
  type Snapshot,
} from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { Mesh } from './host-mesh.js';

const GROUP = 7;
const TIMING = { tickMs: 10, electionTick: 10, heartbeatTick: 2 };

/** Keeps the data of every applied normal entry, in order. */
class ListMachine implements GroupStateMachine {
  readonly durableApplied = 0;
  values: string[] = [];
  restore(snapshot: Snapshot): void {
    this.values = isBootstrapSnapshot(snapshot)
      ? []
      : (JSON.parse(new TextDecoder().decode(snapshot.data)) as string[]);
  }
  apply(entry: Entry): unknown {
    if (entry.type === EntryType.Normal && entry.data.byteLength > 0)
      this.values.push(new TextDecoder().decode(entry.data));
    return undefined;
  }
}

describe('RaftHost: a replica added after the group was created (Raft §6, thesis §4.2.1)', () => {
  const hosts: RaftHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });

  it('learns the initial membership from the bootstrap snapshot, not from an empty configuration', async () => {
    const mesh = new Mesh();
    const machines = new Map<number, ListMachine>();
    const start = (id: number, voters?: number[]) => {
      const host = new RaftHost({
        nodeId: id,
        store: new MemoryLogStore(),
        transport: mesh.transport(id),
        timing: TIMING,
      });
      hosts.push(host);
      const sm = new ListMachine();
      machines.set(id, sm);
      host.addGroup(GROUP, sm, voters ? { voters, campaignIfNew: id === 1 } : {});
      return host;
    };
    const initial = [start(1, [1, 2, 3]), start(2, [1, 2, 3]), start(3, [1, 2, 3])];
    const leader = await waitFor('a leader', () =>
      initial.find((h) => h.groupState(GROUP)?.role === Role.Leader),
    );
    for (const v of ['a', 'b', 'c']) await leader.propose(GROUP, new TextEncoder().encode(v));

    // Broker 4 hosts the group with no membership of its own: it must wait for the leader.
    const joiner = start(4);
    expect(joiner.status(GROUP)?.confState.voters).toEqual([]);
    await leader.proposeConfChange(GROUP, {
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }],
    });
    await waitFor('the learner to catch up', () => machines.get(4)!.values.length === 3);
    const cs = await leader.proposeConfChange(GROUP, {
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddVoter, nodeId: 4 }],
    });
    expect(cs.voters).toEqual([1, 2, 3, 4]);
    await leader.propose(GROUP, new TextEncoder().encode('d'));
    await waitFor('the new voter to apply every entry', () => machines.get(4)!.values.length === 4);

    // Before the bootstrap snapshot, broker 4 replayed the conf changes onto an empty membership,
    // believed itself the only voter and elected itself: a second leader.
    expect(joiner.status(GROUP)?.confState.voters).toEqual([1, 2, 3, 4]);
    expect(machines.get(4)!.values).toEqual(['a', 'b', 'c', 'd']);
    const leaders = hosts.filter((h) => h.groupState(GROUP)?.role === Role.Leader);
    expect(leaders).toEqual([leader]);
  });
});
