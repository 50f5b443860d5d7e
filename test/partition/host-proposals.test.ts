import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RaftHost } from '../../src/partition/host.js';
import { type Entry, type Message, MessageType, Role } from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { MeshCluster } from './host-mesh.js';

const GROUP = 3;
const encode = (s: string) => new TextEncoder().encode(s);

/**
 * A store whose writes stop at will: every commit after the one that made `holdAfter` durable,
 * and every commit once an entry at `holdFrom` or above is staged, waits for `release()`.
 */
class HeldStore extends MemoryLogStore {
  holdAfter = Number.POSITIVE_INFINITY;
  holdFrom = Number.POSITIVE_INFINITY;
  /** Batches asked for without a sync, and with one. */
  unsyncedCommits = 0;
  syncedCommits = 0;
  #lastAppended = 0;
  #holding = false;
  #waiting: Array<() => void> = [];

  override append(groupId: number, entries: readonly Entry[]): void {
    super.append(groupId, entries);
    if (entries.length > 0) this.#lastAppended = entries[entries.length - 1]!.index;
  }

  override async commit(options?: { readonly sync?: boolean }): Promise<void> {
    if (options?.sync === false) this.unsyncedCommits++;
    else this.syncedCommits++;
    if (this.#holding || this.#lastAppended >= this.holdFrom) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    const makesItDurable = this.#lastAppended >= this.holdAfter;
    await super.commit(options);
    if (makesItDurable) this.#holding = true;
  }

  /** Whether a commit is waiting for `release()`. */
  get holding(): boolean {
    return this.#waiting.length > 0;
  }

  release(): void {
    this.holdAfter = Number.POSITIVE_INFINITY;
    this.holdFrom = Number.POSITIVE_INFINITY;
    this.#holding = false;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

describe('RaftHost proposals', () => {
  const stores = new Map<number, HeldStore>();
  let c: MeshCluster;
  beforeEach(() => {
    c = new MeshCluster(GROUP, {
      store: (id) => {
        const store = new HeldStore();
        stores.set(id, store);
        return store;
      },
    });
  });
  afterEach(async () => {
    for (const store of stores.values()) store.release();
    stores.clear();
    await c.close();
  });

  async function cluster(): Promise<RaftHost> {
    const leader = await c.startThree();
    await leader.propose(GROUP, encode('first'));
    return leader;
  }

  /** Append messages with entries from the leader, from the `from`-th message sent on. */
  const appends = (from: number): Message[] =>
    c.mesh.sent.slice(from).filter((m) => m.type === MessageType.App && m.entries.length > 0);

  it('proposals of one turn reach each follower in one append message, and each learns its own result', async () => {
    const leader = await cluster();
    const before = c.mesh.sent.length;
    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    await Promise.all(values.map((v) => leader.propose(GROUP, encode(v))));
    const sent = appends(before);
    expect(sent.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of sent) expect(m.entries.map((e) => new TextDecoder().decode(e.data))).toEqual(values);
    await waitFor('every replica applied them', () =>
      [...c.machines.values()].every((m) => m.values.length === values.length + 1),
    );
    for (const m of c.machines.values()) expect(m.values).toEqual(['first', ...values]);
  });

  it('resolves each proposal once its own entry is applied, in order', async () => {
    const leader = await cluster();
    const applied = c.machines.get(leader.nodeId)!;
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
    const leader = await cluster();
    const store = stores.get(leader.nodeId)!;
    // Every write of the leader after the one that makes this entry durable waits: its commit
    // is known (and it is applied) only in a later turn, whose writes (if any) never finish.
    store.holdAfter = leader.status(GROUP)!.lastIndex + 1;
    await leader.propose(GROUP, encode('answered'));
    expect(c.machines.get(leader.nodeId)!.values).toContain('answered');
  });

  it("answers a proposal that the followers' disks commit while the leader's own batch is still being synced", async () => {
    const leader = await cluster();
    const store = stores.get(leader.nodeId)!;
    store.holdFrom = leader.status(GROUP)!.lastIndex + 1; // the leader's batch with this entry waits
    let answered = false;
    const p = leader.propose(GROUP, encode('on two followers')).then(() => {
      answered = true;
    });
    await waitFor("the leader's batch is being synced", () => store.holding);
    // Both followers synced it: a majority without the leader, so it is committed and applied.
    await waitFor('answered while the batch is held', () => answered);
    expect(store.holding).toBe(true);
    expect(c.machines.get(leader.nodeId)!.values).toContain('on two followers');
    store.release();
    await p;
  });

  it('a commit index that no synced batch carries is written by the next tick', async () => {
    const leader = await cluster();
    const before = new Map([...stores].map(([id, store]) => [id, store.unsyncedCommits]));
    await leader.propose(GROUP, encode('committed'));
    // The turn that learns the commit asks for no batch (commit indexes can be recomputed); with
    // no later entries, a tick writes it, on every replica.
    for (const [id, store] of stores) {
      await waitFor(`an unsynced batch on replica ${id}`, () => store.unsyncedCommits > before.get(id)!);
    }
  });

  it('a turn that only moves the commit index asks for no batch', async () => {
    // No ticks during the test: they would write what is staged.
    c = new MeshCluster(GROUP, {
      timing: { tickMs: 3_600_000, electionTick: 50, heartbeatTick: 2 },
      // Held empty appends would wait for a tick that never comes; this test is about the write.
      holdsEmptyAppends: () => false,
      store: (id) => {
        const store = new HeldStore();
        stores.set(id, store);
        return store;
      },
    });
    const leader = await cluster();
    const appliedEverywhere = (value: string) =>
      waitFor(`every replica applied ${value}`, () =>
        [...c.machines.values()].every((m) => m.values.includes(value)),
      );
    await appliedEverywhere('first');
    const before = new Map([...stores].map(([id, s]) => [id, [s.syncedCommits, s.unsyncedCommits]]));
    await leader.propose(GROUP, encode('second'));
    await appliedEverywhere('second');
    // Each replica made its entry durable once; learning that it is committed wrote nothing.
    for (const [id, s] of stores) {
      const [synced, unsynced] = before.get(id)!;
      expect([id, s.syncedCommits - synced!, s.unsyncedCommits - unsynced!]).toEqual([id, 1, 0]);
    }
  });

  it('a turn with more bytes than one message holds sends several messages', async () => {
    const leader = await cluster();
    const before = c.mesh.sent.length;
    // Three entries of 600 KiB: no two fit in one 1 MiB message.
    const big = Array.from({ length: 3 }, (_, i) => new Uint8Array(600 * 1024).fill(i + 1));
    await Promise.all(big.map((b) => leader.propose(GROUP, b)));
    const toTwo = appends(before).filter((m) => m.to === 2);
    expect(toTwo.map((m) => m.entries.length)).toEqual([1, 1, 1]);
    expect(toTwo.map((m) => m.entries[0]!.data[0])).toEqual([1, 2, 3]);
  });

  it('proposals queued when the broker stops leading are refused as not written', async () => {
    const leader = await cluster();
    const follower = c.hosts.find((h) => h !== leader)!;
    const queued = leader.propose(GROUP, encode('late'));
    // Before the leader's next turn hands the proposal to Raft, leadership moves on.
    leader.transferLeader(GROUP, follower.nodeId);
    await expect(queued).rejects.toMatchObject({ code: 'NOT_LEADER' });
    await waitFor('the new leader', () => follower.groupState(GROUP)?.role === Role.Leader);
    await follower.propose(GROUP, encode('after'));
    await waitFor('the old leader applied it', () => c.machines.get(leader.nodeId)!.values.includes('after'));
    expect(c.machines.get(leader.nodeId)!.values).not.toContain('late');
  });

  it('queued proposals are refused as not written when their group is removed', async () => {
    const leader = await cluster();
    const queued = leader.propose(GROUP, encode('x'));
    leader.removeGroup(GROUP, false);
    await expect(queued).rejects.toMatchObject({ code: 'NOT_LEADER' });
  });
});

describe('RaftHost commit indexes', () => {
  let c: MeshCluster;
  beforeEach(() => {
    c = new MeshCluster(GROUP);
  });
  afterEach(() => c.close());

  const cluster = (): Promise<RaftHost> => c.startThree();

  it('while proposals keep coming, a new commit index rides with the next entries', async () => {
    const leader = await cluster();
    await leader.propose(GROUP, encode('first'));
    const before = c.mesh.sent.length;
    // 8 writers, each proposing again as soon as its last proposal is answered.
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) await leader.propose(GROUP, encode(`${w}.${i}`));
      }),
    );
    const appends = c.mesh.sent.slice(before).filter((m) => m.type === MessageType.App);
    const commitOnly = appends.filter((m) => m.entries.length === 0);
    // Sent on their own, commit indexes made every other append (50 of 100 here).
    expect(commitOnly.length).toBeLessThan(appends.length / 4);
  });

  it('a new commit index waits for the next entries when they come several turns later', async () => {
    const leader = await cluster();
    await leader.propose(GROUP, encode('first'));
    const before = c.mesh.sent.length;
    // One writer that lets a few event-loop turns pass (a client's round trip) before proposing
    // again: the leader's host has run turns of its own by then.
    for (let i = 0; i < 40; i++) {
      await leader.propose(GROUP, encode(`${i}`));
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
    const appends = c.mesh.sent.slice(before).filter((m) => m.type === MessageType.App);
    const commitOnly = appends.filter((m) => m.entries.length === 0);
    // Held for one turn only, commit indexes made every other append (80 of 160 here).
    expect(commitOnly.length).toBeLessThan(appends.length / 4);
  });

  it('a group exempt from holding sends a new commit index at once, not at a later tick', async () => {
    // No tick comes during the test: only an append sent at once can tell the followers.
    const exempt = new MeshCluster(GROUP, {
      timing: { tickMs: 600_000, electionTick: 10, heartbeatTick: 2 },
      holdsEmptyAppends: () => false,
    });
    try {
      const leader = await exempt.startThree();
      await leader.propose(GROUP, encode('x'));
      await waitFor('every replica applied it', () =>
        [...exempt.machines.values()].every((m) => m.values.includes('x')),
      );
    } finally {
      await exempt.close();
    }
  });

  it('a commit index with no entries after it still reaches the followers', async () => {
    const leader = await cluster();
    await leader.propose(GROUP, encode('last'));
    await waitFor('every replica applied it', () =>
      [...c.machines.values()].every((m) => m.values.includes('last')),
    );
  });
});
