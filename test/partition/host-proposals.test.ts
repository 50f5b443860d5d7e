import { afterEach, describe, expect, it } from 'vitest';
import { RaftHost } from '../../src/partition/host.js';
import { type Entry, type Message, MessageType, Role } from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { ListMachine, Mesh, TIMING } from './host-mesh.js';

const GROUP = 3;
const encode = (s: string) => new TextEncoder().encode(s);

/** A store whose writes stop at will: every commit after the one that made `holdAfter` durable waits for `release()`. */
class HeldStore extends MemoryLogStore {
  holdAfter = Number.POSITIVE_INFINITY;
  /** Batches asked for without a sync. */
  unsyncedCommits = 0;
  #lastAppended = 0;
  #holding = false;
  #waiting: Array<() => void> = [];

  override append(groupId: number, entries: readonly Entry[]): void {
    super.append(groupId, entries);
    if (entries.length > 0) this.#lastAppended = entries[entries.length - 1]!.index;
  }

  override async commit(options?: { readonly sync?: boolean }): Promise<void> {
    if (options?.sync === false) this.unsyncedCommits++;
    if (this.#holding) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    const makesItDurable = this.#lastAppended >= this.holdAfter;
    await super.commit(options);
    if (makesItDurable) this.#holding = true;
  }

  release(): void {
    this.holdAfter = Number.POSITIVE_INFINITY;
    this.#holding = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

describe('RaftHost proposals', () => {
  const hosts: RaftHost[] = [];
  const machines = new Map<number, ListMachine>();
  afterEach(async () => {
    for (const store of stores.values()) store.release();
    for (const h of hosts.splice(0)) await h.close();
    machines.clear();
    stores.clear();
  });

  const stores = new Map<number, HeldStore>();

  async function cluster(mesh: Mesh): Promise<RaftHost> {
    for (const id of [1, 2, 3]) {
      const store = new HeldStore();
      stores.set(id, store);
      const host = new RaftHost({
        nodeId: id,
        store,
        transport: mesh.transport(id),
        timing: TIMING,
      });
      hosts.push(host);
      const machine = new ListMachine();
      machines.set(id, machine);
      host.addGroup(GROUP, machine, { voters: [1, 2, 3], campaignIfNew: id === 1 });
    }
    const leader = await waitFor('a leader', () =>
      hosts.find((h) => h.groupState(GROUP)?.role === Role.Leader),
    );
    await leader.propose(GROUP, encode('first'));
    return leader;
  }

  /** Append messages with entries from the leader, from the `from`-th message sent on. */
  const appends = (mesh: Mesh, from: number): Message[] =>
    mesh.sent.slice(from).filter((m) => m.type === MessageType.App && m.entries.length > 0);

  it('proposals of one turn reach each follower in one append message, and each learns its own result', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const before = mesh.sent.length;
    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    await Promise.all(values.map((v) => leader.propose(GROUP, encode(v))));
    const sent = appends(mesh, before);
    expect(sent.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of sent) expect(m.entries.map((e) => new TextDecoder().decode(e.data))).toEqual(values);
    await waitFor('every replica applied them', () =>
      [...machines.values()].every((m) => m.values.length === values.length + 1),
    );
    for (const m of machines.values()) expect(m.values).toEqual(['first', ...values]);
  });

  it('resolves each proposal once its own entry is applied, in order', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const applied = machines.get(leader.nodeId)!;
    const seen: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        leader.propose(GROUP, encode(`p${i}`)).then(() => {
          // The entry is applied (and so are those before it) when its proposer hears back.
          expect(applied.values).toContain(`p${i}`);
          seen.push(i);
        }),
      ),
    );
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('answers a committed proposal without waiting for any write after its own entry', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const store = stores.get(leader.nodeId)!;
    // Every write of the leader after the one that makes this entry durable waits: its commit
    // is known (and it is applied) only in a later turn, whose writes (if any) never finish.
    store.holdAfter = leader.status(GROUP)!.lastIndex + 1;
    await leader.propose(GROUP, encode('answered'));
    expect(machines.get(leader.nodeId)!.values).toContain('answered');
  });

  it('a commit index that no synced batch carries is written by the next tick', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const before = new Map([...stores].map(([id, store]) => [id, store.unsyncedCommits]));
    await leader.propose(GROUP, encode('committed'));
    // The turn that learns the commit asks for no batch (commit indexes can be recomputed); with
    // no later entries, a tick writes it, on every replica.
    for (const [id, store] of stores) {
      await waitFor(`an unsynced batch on replica ${id}`, () => store.unsyncedCommits > before.get(id)!);
    }
  });

  it('a turn with more bytes than one message holds sends several messages', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const before = mesh.sent.length;
    // Three entries of 600 KiB: no two fit in one 1 MiB message.
    const big = Array.from({ length: 3 }, (_, i) => new Uint8Array(600 * 1024).fill(i + 1));
    await Promise.all(big.map((b) => leader.propose(GROUP, b)));
    const toTwo = appends(mesh, before).filter((m) => m.to === 2);
    expect(toTwo.map((m) => m.entries.length)).toEqual([1, 1, 1]);
    expect(toTwo.map((m) => m.entries[0]!.data[0])).toEqual([1, 2, 3]);
  });

  it('proposals queued when the broker stops leading are refused as not written', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const follower = hosts.find((h) => h !== leader)!;
    const queued = leader.propose(GROUP, encode('late'));
    // Before the leader's next turn hands the proposal to Raft, leadership moves on.
    leader.transferLeader(GROUP, follower.nodeId);
    await expect(queued).rejects.toMatchObject({ code: 'NOT_LEADER' });
    await waitFor('the new leader', () => follower.groupState(GROUP)?.role === Role.Leader);
    await follower.propose(GROUP, encode('after'));
    await waitFor('the old leader applied it', () => machines.get(leader.nodeId)!.values.includes('after'));
    expect(machines.get(leader.nodeId)!.values).not.toContain('late');
  });

  it('queued proposals are refused as not written when their group is removed', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    const queued = leader.propose(GROUP, encode('x'));
    leader.removeGroup(GROUP, false);
    await expect(queued).rejects.toMatchObject({ code: 'NOT_LEADER' });
  });
});

describe('RaftHost commit indexes', () => {
  const hosts: RaftHost[] = [];
  const machines = new Map<number, ListMachine>();
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
    machines.clear();
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
      const machine = new ListMachine();
      machines.set(id, machine);
      host.addGroup(GROUP, machine, { voters: [1, 2, 3], campaignIfNew: id === 1 });
    }
    return waitFor('a leader', () => hosts.find((h) => h.groupState(GROUP)?.role === Role.Leader));
  }

  it('while proposals keep coming, a new commit index rides with the next entries', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    await leader.propose(GROUP, encode('first'));
    const before = mesh.sent.length;
    // 8 writers, each proposing again as soon as its last proposal is answered.
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) await leader.propose(GROUP, encode(`${w}.${i}`));
      }),
    );
    const appends = mesh.sent.slice(before).filter((m) => m.type === MessageType.App);
    const commitOnly = appends.filter((m) => m.entries.length === 0);
    // Sent on their own, commit indexes made every other append (50 of 100 here).
    expect(commitOnly.length).toBeLessThan(appends.length / 4);
  });

  it('a commit index with no entries after it still reaches the followers', async () => {
    const mesh = new Mesh();
    const leader = await cluster(mesh);
    await leader.propose(GROUP, encode('last'));
    await waitFor('every replica applied it', () =>
      [...machines.values()].every((m) => m.values.includes('last')),
    );
  });
});
