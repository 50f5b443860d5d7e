import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type MembershipBounds,
  type MembershipView,
  planKind,
  planMembership,
} from '../../src/jepsen/membership-plan.js';
import { Rng } from '../../src/jepsen/rng.js';

const bounds: MembershipBounds = { minActive: 3, maxBrokers: 5 };

function view(v: Partial<MembershipView>): MembershipView {
  return {
    running: [1, 2, 3],
    registered: [1, 2, 3],
    draining: [],
    replicas: new Map([
      [0, [1, 2, 3]],
      [1, [2, 3, 1]],
    ]),
    ...v,
  };
}

describe('membership nemesis choices', () => {
  it('joins only below the most brokers allowed', () => {
    expect(planKind('join', view({}), bounds, new Rng(1))).toEqual({ op: 'join' });
    const full = view({ running: [1, 2, 3, 4, 5], registered: [1, 2, 3, 4, 5] });
    expect(planKind('join', full, bounds, new Rng(1)).op).toBe('skip');
  });

  it('never drains the cluster below the fewest active brokers', () => {
    expect(planKind('drain-remove', view({}), bounds, new Rng(1)).op).toBe('skip');
    // Broker 4 runs but has not registered yet: it cannot be drained, nor count as active.
    expect(planKind('drain-remove', view({ running: [1, 2, 3, 4] }), bounds, new Rng(1)).op).toBe('skip');
    for (let seed = 0; seed < 50; seed++) {
      const step = planKind(
        'drain-remove',
        view({ running: [1, 2, 3, 4], registered: [1, 2, 3, 4] }),
        bounds,
        new Rng(seed),
      );
      expect(step.op).toBe('drain');
      if (step.op === 'drain') expect([1, 2, 3, 4]).toContain(step.broker);
    }
  });

  it('finishes an unfinished drain before starting another', () => {
    const v = view({ running: [1, 2, 3, 4, 5], registered: [1, 2, 3, 4, 5], draining: [4] });
    expect(planKind('drain-remove', v, bounds, new Rng(3))).toEqual({ op: 'remove', broker: 4 });
  });

  it('moves one replica to an active broker outside the set, a draining replica first', () => {
    const v = view({ running: [1, 2, 3, 4, 5], registered: [1, 2, 3, 4, 5], draining: [2] });
    for (let seed = 0; seed < 50; seed++) {
      const step = planKind('move', v, bounds, new Rng(seed));
      expect(step.op).toBe('move');
      if (step.op !== 'move') continue;
      expect(step.to).not.toContain(2);
      expect(step.to.filter((id) => !step.from.includes(id))).toHaveLength(1);
      expect(step.to.some((id) => id === 4 || id === 5)).toBe(true);
    }
    expect(planKind('move', view({}), bounds, new Rng(1))).toMatchObject({ op: 'skip' });
  });

  it('falls back to a kind the bounds allow, and says why when none is', () => {
    const plan = planMembership(['drain-remove', 'join', 'move'], view({}), bounds, new Rng(7));
    expect(plan).toEqual({ kind: 'join', step: { op: 'join' } });
    const full = view({ running: [1, 2, 3, 4, 5], registered: [1, 2, 3, 4, 5], draining: [] });
    const none = planMembership(['join'], full, bounds, new Rng(7));
    expect(none).toEqual({ skipped: 'join: 5 brokers already (at most 5)' });
  });

  it('is the same for the same seed', () => {
    const v = view({ running: [1, 2, 3, 4, 5], registered: [1, 2, 3, 4, 5] });
    const kinds = ['join', 'drain-remove', 'move', 'rebalance'] as const;
    expect(planMembership(kinds, v, bounds, new Rng(42))).toEqual(
      planMembership(kinds, v, bounds, new Rng(42)),
    );
  });

  it('keeps the bounds in any cluster (property; fast-check prints the seed of a failure)', () => {
    const clusterView = fc
      .record({
        running: fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { minLength: 3, maxLength: 7 }),
        unregistered: fc.nat(2),
        draining: fc.nat(2),
        seed: fc.nat(),
      })
      .map(({ running, unregistered, draining, seed }) => {
        const registered = running.slice(0, Math.max(3, running.length - unregistered));
        const rng = new Rng(seed);
        const replicas = new Map([0, 1, 2].map((p) => [p, rng.shuffle(registered).slice(0, 3)] as const));
        return view({ running, registered, draining: registered.slice(0, draining), replicas });
      });
    fc.assert(
      fc.property(clusterView, fc.nat(), (v, seed) => {
        const plan = planMembership(['join', 'drain-remove', 'move', 'rebalance'], v, bounds, new Rng(seed));
        if ('skipped' in plan) return;
        const active = v.registered.filter((id) => v.running.includes(id) && !v.draining.includes(id));
        const { step } = plan;
        if (step.op === 'join') expect(v.running.length).toBeLessThan(bounds.maxBrokers);
        if (step.op === 'drain') {
          expect(active).toContain(step.broker);
          expect(active.length - 1).toBeGreaterThanOrEqual(bounds.minActive);
        }
        if (step.op === 'remove') expect(v.draining).toContain(step.broker);
        if (step.op === 'move') {
          expect(new Set(step.to).size).toBe(step.from.length);
          expect(step.to.filter((id) => v.draining.includes(id))).toEqual([]);
          expect(step.to.filter((id, i) => id !== step.from[i])).toHaveLength(1);
        }
      }),
    );
  });
});
