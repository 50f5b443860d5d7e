import { describe, it } from 'vitest';
import { SimCluster } from './sim/cluster.js';
import type { SimCase } from './sim/schedule.js';

/**
 * Schedules the simulation once shrank to a failure, replayed on every run: each must keep every
 * safety property and recover liveness. The name says what it caught and which commit fixed it.
 */
const regressions: { name: string; case: SimCase }[] = [
  {
    name: 'Liveness: a removed leader stepped down before any voter held its whole log (fixed in "Fix: a removed leader stepped down...")',
    case: {
      setup: { voters: 3, spares: 2, seed: 0, preVote: false, checkQuorum: false },
      events: [
        { kind: 'tickAll', ticks: 1 },
        { kind: 'tickAll', ticks: 2 },
        { kind: 'tickAll', ticks: 5 },
        { kind: 'tickAll', ticks: 3 },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliverAll' },
        { kind: 'deliver', pick: 0 },
        { kind: 'confChange', node: 1, op: 'removeVoter', pick: 9, transition: 0 },
        { kind: 'deliverAll' },
        { kind: 'deliverAll' },
        { kind: 'confChange', node: 1, op: 'removeVoter', pick: 278, transition: 1 },
        { kind: 'deliverAll' },
        { kind: 'deliverAll' },
        { kind: 'crash', node: 1, at: 'now' },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'propose', node: 3, size: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliver', pick: 758 },
        { kind: 'duplicate', pick: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliverAll' },
        { kind: 'crash', node: 2, at: 'now' },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'deliverAll' },
        { kind: 'duplicate', pick: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'duplicate', pick: 0 },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'deliver', pick: 0 },
        { kind: 'transferLeader', target: 1 },
        { kind: 'heal' },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'drop', pick: 0 },
        { kind: 'confChange', node: 1, op: 'addLearner', pick: 0, transition: 0 },
        { kind: 'drop', pick: 0 },
        { kind: 'compact', node: 1 },
        { kind: 'deliver', pick: 0 },
        { kind: 'duplicate', pick: 0 },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'propose', node: 1, size: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'tick', node: 1, ticks: 1 },
        { kind: 'tick', node: 1, ticks: 1 },
        { kind: 'deliver', pick: 0 },
        { kind: 'drop', pick: 0 },
        { kind: 'heal' },
        { kind: 'deliverAll' },
        { kind: 'propose', node: 1, size: 0 },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'tickAll', ticks: 1 },
        { kind: 'deliverAll' },
        { kind: 'readIndex', node: 1 },
        { kind: 'campaign', node: 1 },
        { kind: 'tick', node: 1, ticks: 1 },
        { kind: 'duplicate', pick: 0 },
        { kind: 'deliverAll' },
      ],
    },
  },
];

describe('Raft simulation regressions', () => {
  for (const r of regressions) {
    it(r.name, () => {
      const cluster = new SimCluster(r.case.setup);
      for (const e of r.case.events) cluster.run(e);
      cluster.liveness();
    });
  }
});
