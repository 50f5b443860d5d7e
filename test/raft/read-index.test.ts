import { describe, expect, it } from 'vitest';
import { MessageType, Role } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import { electionTraffic } from './helpers/messages.js';

const ELECTION = 10;
const ctx = (text: string) => new TextEncoder().encode(text);

/** Three voters led by node 1, with 'a' committed everywhere. */
function ledBy1(): Cluster {
  const c = new Cluster({ voters: [1, 2, 3] });
  c.elect(1);
  c.propose(1, 'a');
  c.stabilize();
  return c;
}

describe('Raft thesis §6.4 ReadIndex', () => {
  it('§6.4: the leader answers a read with its commit index only after a heartbeat round confirms it still leads', () => {
    const c = ledBy1();
    const commit = c.status(1).hardState.commit;
    c.node(1).readIndex(ctx('r1'));
    const rd = c.processReady(1)!;
    expect(rd.readStates).toEqual([]);
    expect(
      rd.messages
        .filter((m) => m.type === MessageType.Heartbeat)
        .map((m) => m.to)
        .sort(),
    ).toEqual([2, 3]);

    c.deliver({ to: 2 });
    c.processReady(2);
    c.deliver({ from: 2, to: 1 }); // the leader and node 2: a majority still follows node 1
    c.processReady(1);
    expect(c.peer(1).readStates).toEqual([{ index: commit, context: ctx('r1') }]);
  });

  it('§6.4: a new leader answers reads only once an entry of its own term has committed', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.node(1).campaign();
    c.stabilize({ deliver: electionTraffic });
    expect(c.status(1).role).toBe(Role.Leader);
    c.node(1).readIndex(ctx('r1'));
    c.stabilize({ deliver: (m) => m.type !== MessageType.App });
    expect(c.peer(1).readStates).toEqual([]);
    c.stabilize();
    expect(c.peer(1).readStates).toEqual([{ index: 1, context: ctx('r1') }]); // its no-op
  });

  it("§6.4: a follower's read is forwarded to the leader and answered with the leader's commit index", () => {
    const c = ledBy1();
    c.node(2).readIndex(ctx('r2'));
    expect(c.processReady(2)?.messages).toEqual([
      expect.objectContaining({ type: MessageType.ReadIndex, to: 1, context: ctx('r2') }),
    ]);
    c.stabilize();
    expect(c.peer(2).readStates).toEqual([{ index: c.status(1).hardState.commit, context: ctx('r2') }]);
    expect(c.peer(1).readStates).toEqual([]);
  });

  it('§6.4: a leader cut off from the majority never answers a read, even after a new leader committed more', () => {
    const c = ledBy1();
    c.isolate(1);
    c.node(1).readIndex(ctx('stale?'));
    c.tickUntil(() => c.leader() === 2 || c.leader() === 3, 10 * ELECTION);
    const leader = c.leader()!;
    c.propose(leader, 'b');
    c.stabilize();
    const bIndex = c.status(leader).hardState.commit;
    expect(c.peer(1).readStates).toEqual([]);

    c.heal();
    c.runTicks(2 * ELECTION);
    // Answered late or never, but never with an index that misses 'b'.
    for (const rs of c.peer(1).readStates) expect(rs.index).toBeGreaterThanOrEqual(bIndex);
    expect(c.peer(1).sm.values()).toEqual(['a', 'b']);
  });
});
