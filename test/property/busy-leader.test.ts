/**
 * Busy groups in the deterministic simulation: a proposal on every node each tick, so that the
 * leader's appends reach its followers more often than heartbeats would, and it heartbeats none of
 * them (a member is heartbeaten only after `heartbeatTick` ticks without an append). With messages
 * dropped at random (lost appends, lost answers, lost read confirmations), reads in flight and a
 * crash now and then, every safety property must hold after every event and liveness must recover.
 *
 * `RAFTLOG_SIM_RUNS` (default 1000) sets the count with the main simulation's, a tenth here;
 * fast-check prints `{ seed, path }` on failure, and `RAFTLOG_SIM_SEED` / `RAFTLOG_SIM_PATH` replay it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimCluster } from './sim/cluster.js';
import type { SimEvent } from './sim/schedule.js';
import { addStats, emptyStats, formatStats } from './sim/stats.js';

const runs = Math.max(10, Math.ceil(Number(process.env.RAFTLOG_SIM_RUNS ?? 1000) / 10));
const seed = process.env.RAFTLOG_SIM_SEED === undefined ? undefined : Number(process.env.RAFTLOG_SIM_SEED);
const path = process.env.RAFTLOG_SIM_PATH;
const VOTERS = 3;

/** One tick of a busy group: proposals everywhere, maybe a read, drops, delivery, the tick. */
const tickArbitrary: fc.Arbitrary<SimEvent[]> = fc
  .record({
    read: fc.option(fc.integer({ min: 1, max: VOTERS })),
    drops: fc.array(fc.nat(), { maxLength: 2 }),
    // A node crashes in about one tick in 40 (values past VOTERS crash none); a crashed node restarts
    // on the next tick.
    crash: fc.integer({ min: 1, max: 40 * VOTERS }),
  })
  .map(({ read, drops, crash }) => [
    ...Array.from({ length: VOTERS }, (_, i): SimEvent => ({ kind: 'propose', node: i + 1, size: 0 })),
    ...(read === null ? [] : [{ kind: 'readIndex', node: read } as const]),
    ...drops.map((pick): SimEvent => ({ kind: 'drop', pick })),
    { kind: 'deliverAll' },
    ...(crash > VOTERS ? [] : [{ kind: 'crash', node: crash, at: 'now' } as const]),
    { kind: 'restart', pick: 0 },
    { kind: 'tickAll', ticks: 1 },
  ]);

describe('Raft deterministic simulation of busy groups', () => {
  it(`keeps every safety property and recovers liveness while appends stand in for heartbeats: ${runs} schedules`, () => {
    const stats = emptyStats();
    fc.assert(
      fc.property(
        fc.record({ seed: fc.integer(), preVote: fc.boolean(), checkQuorum: fc.boolean() }),
        fc.array(tickArbitrary, { minLength: 40, maxLength: 120 }),
        (setup, ticks) => {
          const cluster = new SimCluster({ voters: VOTERS, spares: 0, ...setup });
          for (const e of ticks.flat()) cluster.run(e);
          addStats(stats, cluster.stats());
          cluster.liveness();
        },
      ),
      {
        numRuns: runs,
        ...(seed === undefined ? {} : { seed }),
        ...(path === undefined ? {} : { path, endOnFailure: true }),
      },
    );
    console.log(`busy-group simulation: ${runs} schedules: ${formatStats(stats)}`);
    if (path !== undefined) return;
    // The schedules did what they are for: entries committed and reads answered under load.
    expect(stats.entriesApplied).toBeGreaterThan(0);
    expect(stats.readsServed).toBeGreaterThan(0);
  });
});
