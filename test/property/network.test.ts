import { describe, expect, it } from 'vitest';
import { type Message, MessageType } from '../../src/raft/types.js';
import { SimNetwork } from './sim/network.js';
import { mulberry32, nodeSeed } from './sim/prng.js';

function msg(from: number, to: number, term = 1): Message {
  return {
    type: MessageType.Heartbeat,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
  };
}

describe('SimNetwork', () => {
  it('delivers any in-flight message, in any order, and duplicates', () => {
    const net = new SimNetwork();
    const [a, b, c] = [msg(1, 2), msg(2, 3), msg(3, 1)];
    for (const m of [a, b, c]) expect(net.send(m)).toBe(true);
    expect(net.take(4)).toBe(b); // 4 mod 3
    net.duplicate(1);
    expect(net.takeAll()).toEqual([a, c, c]);
    expect(net.take(0)).toBeUndefined();
  });

  it('loses messages across a partition, when sent and when still in flight, until healed', () => {
    const net = new SimNetwork();
    const inFlight = msg(1, 3);
    net.send(inFlight);
    net.partition([1, 2, 3], (id) => (id === 3 ? 1 : 0));
    expect(net.connected(1, 2)).toBe(true);
    expect(net.connected(1, 3)).toBe(false);
    expect(net.send(msg(3, 2))).toBe(false);
    expect(net.pending).toEqual([inFlight]);
    net.heal();
    expect(net.connected(1, 3)).toBe(true);
    expect(net.send(msg(3, 2))).toBe(true);
  });
});

describe('mulberry32', () => {
  it('is a deterministic stream of integers in range, distinct per node', () => {
    const draw = (seed: number) => {
      const r = mulberry32(seed);
      return Array.from({ length: 50 }, () => r(10));
    };
    expect(draw(nodeSeed(7, 1))).toEqual(draw(nodeSeed(7, 1)));
    expect(draw(nodeSeed(7, 1))).not.toEqual(draw(nodeSeed(7, 2)));
    const values = draw(123);
    expect(values.every((v) => Number.isInteger(v) && v >= 0 && v < 10)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(5);
    expect(() => mulberry32(1)(0)).toThrow(RangeError);
  });
});
