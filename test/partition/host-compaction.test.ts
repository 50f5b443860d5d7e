import { afterEach, describe, expect, it } from 'vitest';
import { RaftHost } from '../../src/partition/host.js';
import { ConfChangeTransition, ConfChangeType, MessageType, Role } from '../../src/raft/types.js';
import { PartitionMachine } from '../../src/statemachine/partition-machine.js';
import { encodeRecordBatch } from '../../src/statemachine/record-batch.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { Mesh, TIMING } from './host-mesh.js';

const GROUP = 5;

interface Replica {
  host: RaftHost;
  store: MemoryLogStore;
  machine: PartitionMachine;
}

/**
 * A partition snapshot taken at applied index A may sit at a lower index C (the entries above C
 * hold retained records): a replica that installs it has the state at A and receives the entries
 * C+1.. by ordinary appends, skipping those up to A when it applies them.
 */
describe('RaftHost.compactLog: snapshots whose data is ahead of their index', () => {
  const hosts: RaftHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });

  const mesh = new Mesh();
  const replicas = new Map<number, Replica>();
  const start = (id: number, store = new MemoryLogStore()): Replica => {
    const host = new RaftHost({ nodeId: id, store, transport: mesh.transport(id), timing: TIMING });
    hosts.push(host);
    const machine = new PartitionMachine(store, GROUP);
    host.addGroup(GROUP, machine, { voters: [1, 2, 3], campaignIfNew: id === 1 });
    const r = { host, store, machine };
    replicas.set(id, r);
    return r;
  };
  const stop = async (id: number): Promise<MemoryLogStore> => {
    const r = replicas.get(id)!;
    await r.host.close();
    replicas.delete(id);
    return r.store.crash();
  };
  const produce = async (leader: RaftHost, n: number) => {
    for (let i = 0; i < n; i++) {
      const value = new TextEncoder().encode(`v${i}`);
      await leader.propose(GROUP, encodeRecordBatch({ records: [{ value }], timestamp: 1000 + i }));
    }
  };

  /** Three replicas; replica 3 stops after 5 entries, 10 more follow, then 1 and 2 compact. */
  async function compactWhileThreeIsDown(): Promise<{
    leader: Replica;
    C: number;
    A: number;
    store3: MemoryLogStore;
  }> {
    mesh.drop = () => false;
    for (const id of [1, 2, 3]) start(id);
    const leaderHost = await waitFor('a leader', () =>
      hosts.find((h) => h.groupState(GROUP)?.role === Role.Leader),
    );
    const leader = [...replicas.values()].find((r) => r.host === leaderHost)!;
    await produce(leaderHost, 5);
    const applied = leader.machine.state.appliedIndex;
    await waitFor('replica 3 to apply', () => replicas.get(3)!.machine.state.appliedIndex === applied);
    expect(leader === replicas.get(3)).toBe(false);
    const store3 = await stop(3);
    await produce(leaderHost, 10);
    const A = leader.machine.state.appliedIndex;
    const C = A - 3;
    for (const r of replicas.values()) {
      await waitFor('every live replica to apply', () => r.machine.state.appliedIndex === A);
      expect(r.host.logState(GROUP)?.appliedIndex).toBe(A);
      expect(r.host.compactLog(GROUP, C, () => r.machine.state.snapshot())).toBe(true);
      // Nothing to do a second time.
      expect(r.host.compactLog(GROUP, C, () => r.machine.state.snapshot())).toBe(false);
    }
    await waitFor('the compaction to land', () => leader.store.group(GROUP).firstIndex() === C + 1);
    return { leader, C, A, store3 };
  }

  async function expectSameAsLeader(leader: Replica, id: number, C: number): Promise<void> {
    const r = replicas.get(id)!;
    const A = leader.machine.state.appliedIndex;
    await waitFor(`replica ${id} to apply ${A}`, () => r.machine.state.appliedIndex === A);
    expect(r.machine.state.snapshot()).toEqual(leader.machine.state.snapshot());
    // The entries above the snapshot arrived by appends: the records can be read here too.
    expect(r.store.group(GROUP).entries(C + 1, A + 1, 2 ** 30)).toEqual(
      leader.store.group(GROUP).entries(C + 1, A + 1, 2 ** 30),
    );
  }

  it('a replica behind the compaction point gets the snapshot, then the entries, and ends with the same state', async () => {
    const { leader, C, store3 } = await compactWhileThreeIsDown();
    const three = start(3, store3);
    await waitFor(
      'the snapshot at C on replica 3',
      () => three.store.group(GROUP).snapshot().meta.index === C,
    );
    await produce(leader.host, 2);
    await expectSameAsLeader(leader, 3, C);
  });

  it.each([
    ['its checkpoint of the restored state is durable', true],
    ['its checkpoint was lost', false],
  ])('a replica restarted between the snapshot and the entries resumes (%s)', async (_, durable) => {
    const { leader, C, A, store3 } = await compactWhileThreeIsDown();
    // Replica 3 gets the snapshot but none of the entries after it.
    const hasSnapshot = () => (replicas.get(3)?.store.group(GROUP).snapshot().meta.index ?? 0) >= C;
    mesh.drop = (_from, to, m) => to === 3 && m.type === MessageType.App && hasSnapshot();
    const three = start(3, store3);
    await waitFor('replica 3 to restore the snapshot', () => three.machine.state.appliedIndex === A);
    expect(three.store.group(GROUP).snapshot().meta.index).toBe(C);
    await three.host.whenIdle();
    if (durable) three.store.commitSync();
    const restarted = await stop(3);
    // The state machine's durable state (at A) may be ahead of the commit index found (C).
    expect(restarted.group(GROUP).initialState().hardState.commit).toBeLessThan(A);
    mesh.drop = () => false;
    start(3, restarted);
    await produce(leader.host, 2);
    await expectSameAsLeader(leader, 3, C);
  });

  it('refuses to compact above the applied index or below a later membership change', async () => {
    const store = new MemoryLogStore();
    const host = new RaftHost({ nodeId: 1, store, transport: mesh.transport(1), timing: TIMING });
    hosts.push(host);
    const machine = new PartitionMachine(store, GROUP);
    host.addGroup(GROUP, machine, { voters: [1] });
    await waitFor('a leader', () => host.groupState(GROUP)?.role === Role.Leader);
    await produce(host, 2);
    const cs = await host.proposeConfChange(GROUP, {
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddLearner, nodeId: 9 }],
    });
    await produce(host, 1);
    const applied = machine.state.appliedIndex;
    const data = () => machine.state.snapshot();
    const changeAt = applied - 1;
    expect(host.compactLog(GROUP, applied + 1, data)).toBe(false);
    expect(host.compactLog(GROUP, changeAt - 1, data)).toBe(false);
    expect(() => host.compactLog(GROUP, changeAt, () => new Uint8Array(0))).toThrow(/empty/);
    expect(host.compactLog(99, changeAt, data)).toBe(false);
    expect(host.compactLog(GROUP, changeAt, data)).toBe(true);
    // The snapshot carries the membership in force at its index.
    expect(store.group(GROUP).snapshot().meta.confState).toEqual(cs);
  });
});
