import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';

const HEARTBEAT = 2;
const ctx = (text: string) => new TextEncoder().encode(text);
const heartbeatsTo = (c: Cluster, to: number) => c.sentMatching({ from: 1, to, type: MessageType.Heartbeat });

/** Three voters led by node 1, heartbeating every HEARTBEAT ticks. */
function ledBy1(): Cluster {
  const c = new Cluster({ voters: [1, 2, 3], settings: { heartbeatTick: HEARTBEAT } });
  c.elect(1);
  return c;
}

describe('Raft §5.2 heartbeats', () => {
  it('a member is heartbeaten only once the leader has sent it nothing for heartbeatTick ticks', () => {
    const c = ledBy1();
    const before = [heartbeatsTo(c, 2).length, heartbeatsTo(c, 3).length];
    // A proposal every tick: both followers hear from the leader through its appends.
    for (let i = 0; i < 10; i++) {
      c.propose(1, `p${i}`);
      c.runTicks(1);
    }
    expect([heartbeatsTo(c, 2).length, heartbeatsTo(c, 3).length]).toEqual(before);
    // Nothing more to send: a heartbeat to each every heartbeatTick ticks.
    c.runTicks(3 * HEARTBEAT);
    expect([heartbeatsTo(c, 2).length, heartbeatsTo(c, 3).length]).toEqual(before.map((n) => n + 3));
    expect(c.status(2).hardState.commit).toBe(c.status(1).hardState.commit);
  });

  it('while a read waits for its confirmation, every member is heartbeaten every heartbeatTick ticks', () => {
    const c = ledBy1();
    c.node(1).readIndex(ctx('r1'));
    c.processReady(1);
    // The read's own heartbeats are lost: confirming it is up to the next ones.
    c.drop({ type: MessageType.Heartbeat });
    // Both members are sent an append every tick, yet within heartbeatTick ticks the leader asks again.
    const beats = [];
    for (let i = 0; i < HEARTBEAT; i++) {
      c.propose(1, `p${i}`);
      c.processReady(1);
      c.tick(1);
      beats.push(...(c.processReady(1)?.messages ?? []).filter((m) => m.type === MessageType.Heartbeat));
    }
    expect(beats.map((m) => m.to).sort()).toEqual([2, 3]);
    expect(beats.every((m) => m.context !== undefined && m.context.length > 0)).toBe(true);
    c.stabilize();
    expect(c.peer(1).readStates).toEqual([expect.objectContaining({ context: ctx('r1') })]);
  });
});
