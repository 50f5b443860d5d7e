import { describe, expect, it } from 'vitest';
import { MessageType, NONE, Role } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import { thrownCode } from './helpers/errors.js';

const ELECTION = 10;

/** Three voters led by node 1, node 3 cut off while five entries commit without it. */
function withLaggingNode3(): Cluster {
  const c = new Cluster({ voters: [1, 2, 3] });
  c.elect(1);
  c.isolate(3);
  for (const data of ['a', 'b', 'c', 'd', 'e']) c.propose(1, data);
  c.stabilize();
  return c;
}

describe('Raft thesis §3.10 leadership transfer', () => {
  it('§3.10: an up-to-date target gets TimeoutNow at once, campaigns without waiting, and wins despite the lease', () => {
    const c = new Cluster({ voters: [1, 2, 3] });
    c.elect(1);
    c.propose(1, 'a');
    c.stabilize();
    c.node(1).transferLeader(2);
    expect(c.processReady(1)?.messages).toEqual([
      expect.objectContaining({ type: MessageType.TimeoutNow, to: 2 }),
    ]);
    c.stabilize();
    expect(c.leader()).toBe(2);
    expect(c.status(2).hardState.term).toBe(2);
    expect(c.status(1)).toMatchObject({ role: Role.Follower, leader: 2 });
  });

  it('§3.10: a lagging target is first brought up to date, and only then gets TimeoutNow', () => {
    const c = withLaggingNode3();
    c.heal();
    const last = c.status(1).lastIndex;
    c.node(1).transferLeader(3);
    expect(c.status(1).leadTransferee).toBe(3);
    c.stabilize();
    expect(c.leader()).toBe(3);
    const timeoutNow = c.sent.findIndex((m) => m.type === MessageType.TimeoutNow);
    const caughtUp = c.sent.findIndex(
      (m) => m.type === MessageType.AppResp && m.from === 3 && !m.reject && m.index === last,
    );
    expect(caughtUp).toBeGreaterThanOrEqual(0);
    expect(timeoutNow).toBeGreaterThan(caughtUp);
    expect(c.peer(3).sm.values()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('§3.10: the leader refuses proposals while a transfer is in progress', () => {
    const c = withLaggingNode3();
    c.node(1).transferLeader(3);
    expect(thrownCode(() => c.propose(1, 'x'))).toBe('PROPOSAL_DROPPED');
    c.propose(2, 'y'); // forwarded, and dropped by the leader
    c.stabilize();
    expect(c.peer(1).sm.values()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('§3.10: a transfer that does not complete within an election timeout is abandoned, and proposals resume', () => {
    const c = withLaggingNode3();
    c.node(1).transferLeader(3);
    const ticks = c.tickUntil(() => c.status(1).leadTransferee === NONE, 2 * ELECTION);
    expect(ticks).toBeLessThanOrEqual(ELECTION);
    expect(c.status(1).role).toBe(Role.Leader);
    c.propose(1, 'f');
    c.stabilize();
    expect(c.peer(2).sm.values().at(-1)).toBe('f');
  });
});
