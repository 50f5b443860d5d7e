import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../../src/jepsen/run.js';
import { type BrokerBuild, buildBroker } from './broker-build.js';

/**
 * The CI matrix of the jepsen-like suite: real broker processes under each scenario's faults,
 * checked for every anomaly of the checker. Each run prints its seed; a failing run keeps its
 * directory (history, verdict, report, broker logs and data) and prints it. Replay a schedule with
 * RAFTLOG_JEPSEN_SEED=<seed> or `npm run jepsen -- --scenario NAME --seed N`.
 */

/** Scenario and seconds of faults: about 30 s each with setup, healing and final reads. */
const MATRIX: readonly (readonly [string, number])[] = [
  ['none', 10],
  ['kill', 20],
  ['pause', 20],
  ['partition', 20],
  ['mix', 25],
  // Brokers join, drain and leave and replicas move, beside kills, pauses and partitions.
  ['membership-faults', 20],
];

const baseSeed = Number(process.env.RAFTLOG_JEPSEN_SEED ?? Math.floor(Math.random() * 2 ** 31));

let build: BrokerBuild;
beforeAll(async () => {
  build = await buildBroker();
});
afterAll(async () => {
  await build?.remove();
});

describe.sequential('jepsen-like matrix', () => {
  MATRIX.forEach(([scenario, seconds], i) => {
    const seed = baseSeed + i;
    it(`${scenario}: no anomaly (seed ${seed})`, { timeout: (seconds + 90) * 1000 }, async () => {
      const result = await runScenario({ scenario, timeSeconds: seconds, seed, brokerMain: build.main });
      const ok = result.verdict.valid && result.unexpectedExits.length === 0;
      if (!ok) {
        console.error(
          `jepsen-like ${scenario} FAILED, seed ${seed}; run directory kept: ${result.dir}\n` +
            `anomalies: ${JSON.stringify(result.verdict.anomalyCounts)}; unexpected exits: ${result.unexpectedExits.join('; ')}`,
        );
      } else {
        console.log(
          `jepsen-like ${scenario} seed ${seed}: valid in ${result.durationMs} ms ${JSON.stringify(result.verdict.counts)}`,
        );
        await rm(result.dir, { recursive: true, force: true });
      }
      expect(result.verdict.anomalies).toEqual([]);
      expect(result.unexpectedExits).toEqual([]);
      // The run did something: appends were acknowledged and read back.
      expect(result.verdict.counts.ok).toBeGreaterThan(0);
    });
  });
});
