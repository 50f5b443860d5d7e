import { afterEach, describe, expect, it } from 'vitest';
import { RaftHost } from '../../src/partition/host.js';
import { MessageType, Role } from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { ListMachine, Mesh, TIMING } from './host-mesh.js';

const BROKERS = [1, 2, 3];
/** Six groups, two led by each broker: every broker leads some groups and follows the others. */
const GROUPS = [10, 11, 12, 13, 14, 15];
const preferred = (group: number) => BROKERS[group % BROKERS.length]!;
const encode = (s: string) => new TextEncoder().encode(s);

describe('RaftHost frames of many groups (Dragonboat-style per-peer batches)', () => {
  const hosts: RaftHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });

  /** Three hosts of every group; resolves once each group is led by its preferred broker. */
  async function cluster(mesh: Mesh): Promise<Map<number, Map<number, ListMachine>>> {
    const machines = new Map<number, Map<number, ListMachine>>();
    for (const id of BROKERS) {
      const host = new RaftHost({
        nodeId: id,
        store: new MemoryLogStore(),
        transport: mesh.transport(id),
        timing: TIMING,
      });
      hosts.push(host);
      const mine = new Map<number, ListMachine>();
      machines.set(id, mine);
      for (const group of GROUPS) {
        const machine = new ListMachine();
        mine.set(group, machine);
        host.addGroup(group, machine, { voters: BROKERS, campaignIfNew: preferred(group) === id });
      }
    }
    await waitFor('every group led by its preferred broker', () =>
      GROUPS.every((g) => hosts[preferred(g) - 1]!.groupState(g)?.role === Role.Leader),
    );
    return machines;
  }

  it('one frame carries a broker acknowledgements for groups it follows and appends for groups it leads; each group gets its own records, in order', async () => {
    const mesh = new Mesh();
    const machines = await cluster(mesh);
    const before = mesh.frames.length;
    // A pipelined writer per group, as under load: the group's next record is proposed as soon
    // as the leader sends the last one's append, so every turn of a broker has new entries for
    // the groups it leads while it acknowledges those of the groups it follows.
    const COUNT = 20;
    const records = (group: number) => Array.from({ length: COUNT }, (_, i) => `g${group}-${i}`);
    const next = new Map(GROUPS.map((g) => [g, 0]));
    const answers: Promise<unknown>[] = [];
    const write = (g: number) => {
      const i = next.get(g)!;
      if (i === COUNT) return;
      next.set(g, i + 1);
      answers.push(hosts[preferred(g) - 1]!.propose(g, encode(records(g)[i]!)));
    };
    // The mesh's drop hook as an observer (nothing is dropped): a leader's append with entries,
    // counted once (to its first follower), makes each of its groups' writers propose again.
    mesh.drop = (from, to, message) => {
      if (
        message.type === MessageType.App &&
        message.entries.length > 0 &&
        to === BROKERS.find((b) => b !== from)
      )
        for (const g of GROUPS) if (preferred(g) === from) write(g);
      return false;
    };
    for (const g of GROUPS) write(g);
    await waitFor('every record proposed', () => GROUPS.every((g) => next.get(g) === COUNT));
    await Promise.all(answers);
    await waitFor('every replica applied every record', () =>
      [...machines.values()].every((mine) => GROUPS.every((g) => mine.get(g)!.values.length === COUNT)),
    );
    // Each group has its own records, in the order they were written, on every replica.
    for (const mine of machines.values())
      for (const g of GROUPS) expect(mine.get(g)!.values).toEqual(records(g));

    const frames = mesh.frames.slice(before);
    const mixed = frames.filter(
      (f) =>
        f.messages.some((m) => m.message.type === MessageType.AppResp && preferred(m.group) !== f.from) &&
        f.messages.some(
          (m) =>
            m.message.type === MessageType.App &&
            m.message.entries.length > 0 &&
            preferred(m.group) === f.from,
        ),
    );
    expect(mixed.length).toBeGreaterThan(0);
    // Per sender, receiver and group, appends and acknowledgements travel in the order Raft made them.
    const last = new Map<string, number>();
    for (const f of frames) {
      for (const { group, message } of f.messages) {
        if (message.type !== MessageType.App && message.type !== MessageType.AppResp) continue;
        if (message.reject) continue;
        const key = `${f.from}>${f.to}/${group}/${message.type}`;
        expect(message.index).toBeGreaterThanOrEqual(last.get(key) ?? 0);
        last.set(key, message.index);
      }
    }
    // Frames carry messages of the groups their receiver hosts, each addressed to it.
    for (const f of frames) for (const { message } of f.messages) expect(message.to).toBe(f.to);
  });
});
