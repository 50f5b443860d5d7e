import { afterEach, describe, expect, it } from 'vitest';
import { EarlyVotes } from '../../src/partition/early-votes.js';
import { RaftHost } from '../../src/partition/host.js';
import type { GroupMessage } from '../../src/partition/transport.js';
import { message } from '../../src/raft/raft.js';
import { MessageType, Role } from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { ListMachine, Mesh, TIMING } from './host-mesh.js';

const GROUP = 5;

describe('EarlyVotes', () => {
  it('keeps the latest vote request per group and candidate, for its time only', () => {
    const votes = new EarlyVotes(100);
    votes.keep(1, message({ type: MessageType.App, from: 2, to: 1, term: 2 }), 0);
    votes.keep(1, message({ type: MessageType.PreVote, from: 2, to: 1, term: 2 }), 0);
    votes.keep(1, message({ type: MessageType.PreVote, from: 2, to: 1, term: 3 }), 10);
    votes.keep(1, message({ type: MessageType.Vote, from: 3, to: 1, term: 2 }), 0);
    votes.keep(2, message({ type: MessageType.Vote, from: 3, to: 1, term: 2 }), 0);
    expect(votes.take(1, 105).map((m) => [m.from, m.type, m.term])).toEqual([[2, MessageType.PreVote, 3]]);
    expect(votes.take(1, 105)).toEqual([]);
    votes.expire(101);
    expect(votes.take(2, 0)).toEqual([]);
  });
});

describe('RaftHost: vote requests that arrive before the group is hosted', () => {
  const hosts: RaftHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });

  it('are stepped when the group is added, so the preferred leader wins its first campaign', async () => {
    const mesh = new Mesh();
    // Host 1 would wait longest to campaign again, hosts 2 and 3 least: had its first campaign
    // been lost, one of them would lead.
    const start = (id: number) => {
      const host = new RaftHost({
        nodeId: id,
        store: new MemoryLogStore(),
        transport: mesh.transport(id),
        timing: TIMING,
        randomInt: id === 1 ? (n) => n - 1 : () => 0,
      });
      hosts.push(host);
      return host;
    };
    const [h1, h2, h3] = [start(1), start(2), start(3)];
    const received = new Map<number, MessageType[]>();
    for (const id of [2, 3]) {
      const handler = mesh.handlers.get(id)!;
      mesh.handlers.set(id, (from: number, messages: readonly GroupMessage[]) => {
        received.set(id, [...(received.get(id) ?? []), ...messages.map((m) => m.message.type)]);
        handler(from, messages);
      });
    }
    // As when a topic is created: the preferred leader adds the group and campaigns first, the
    // others add it only once they applied the same metadata entry.
    h1.addGroup(GROUP, new ListMachine(), { voters: [1, 2, 3], campaignIfNew: true });
    await waitFor('hosts 2 and 3 to receive the pre-vote', () =>
      [2, 3].every((id) => received.get(id)?.includes(MessageType.PreVote)),
    );
    h2.addGroup(GROUP, new ListMachine(), { voters: [1, 2, 3] });
    h3.addGroup(GROUP, new ListMachine(), { voters: [1, 2, 3] });

    const leader = await waitFor('a leader', () =>
      hosts.find((h) => h.groupState(GROUP)?.role === Role.Leader),
    );
    expect(leader).toBe(h1);
    expect(mesh.sent.filter((m) => m.type === MessageType.PreVote && m.from !== 1)).toEqual([]);
  });
});
