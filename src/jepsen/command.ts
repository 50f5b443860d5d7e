import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Command } from '../cli/commands.js';
import type { CorruptionSummary } from './corruption-summary.js';
import { Scenarios } from './nemesis.js';
import { runScenario } from './run.js';

const HELP = `usage: raftlog jepsen [--scenario NAME] [--time SECONDS] [--seed N] [--nodes 3|5] [--out DIR]

Run the jepsen-like fault-injection suite against real broker processes on 127.0.0.1: a workload
of unique appends and reads under the scenario's faults, then healing, final reads through every
broker and a check of the history. Writes history.jsonl, verdict.json and report.html to a run
directory under DIR (default: the system temp directory). Exits 1 when an anomaly was found.

  --scenario NAME   ${Object.keys(Scenarios).join(', ')}, or all   [mix]
  --time SECONDS    seconds of workload under faults (per scenario)          [30]
  --seed N          seed of the fault schedule and the workload               [random]
  --nodes N         brokers                                                   [3]
  --partitions N    partitions of the test topic (replication factor 3)       [3]
  --keep-data       keep the brokers' data directories even when the run passes
`;

/** `raftlog jepsen`: see {@link HELP}. */
export const jepsenCommand: Command = {
  summary: 'run the jepsen-like fault-injection suite against local brokers',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        scenario: { type: 'string', default: 'mix' },
        time: { type: 'string', default: '30' },
        seed: { type: 'string' },
        nodes: { type: 'string', default: '3' },
        partitions: { type: 'string', default: '3' },
        out: { type: 'string' },
        'keep-data': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const time = Number(values.time);
    const nodes = Number(values.nodes);
    const partitions = Number(values.partitions);
    const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
    if (!(time > 0) || !Number.isInteger(nodes) || nodes < 3 || nodes > 9 || !Number.isSafeInteger(seed)) {
      process.stderr.write(`raftlog jepsen: invalid --time, --nodes or --seed\n\n${HELP}`);
      return 2;
    }
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 64) {
      process.stderr.write('raftlog jepsen: --partitions must be 1 to 64\n');
      return 2;
    }
    const scenarios = values.scenario === 'all' ? Object.keys(Scenarios) : [values.scenario];
    for (const s of scenarios) {
      if (Scenarios[s] === undefined) {
        process.stderr.write(`raftlog jepsen: unknown scenario ${s}\n\n${HELP}`);
        return 2;
      }
    }
    // The broker CLI sits next to this module in the compiled tree: dist/src/cli/main.js.
    const brokerMain = join(dirname(fileURLToPath(import.meta.url)), '../cli/main.js');
    const rows: string[] = [];
    let failed = false;
    for (const [i, scenario] of scenarios.entries()) {
      const runSeed = seed + i;
      process.stdout.write(`== ${scenario} (seed ${runSeed}, ${time} s, ${nodes} brokers)\n`);
      const result = await runScenario({
        scenario,
        timeSeconds: time,
        seed: runSeed,
        nodes,
        partitions,
        brokerMain,
        keepData: values['keep-data'],
        ...(values.out === undefined ? {} : { outDir: values.out }),
        log: (line) => process.stdout.write(`   ${line}\n`),
      });
      const ok = result.verdict.valid && result.unexpectedExits.length === 0;
      failed ||= !ok;
      const c = result.verdict.counts;
      rows.push(
        `| ${scenario} | ${runSeed} | ${(result.durationMs / 1000).toFixed(0)} s | ${c.ok} | ${c.failed} | ${c.indeterminate} | ${c.recovered} | ${c.lost} | ${c.duplicated} | ${c.inconsistent} | ${corruptionCell(result.verdict.corruption)} | ${ok ? 'valid' : 'INVALID'} |`,
      );
      process.stdout.write(
        `   ${ok ? 'valid' : 'INVALID'}; report: ${join(result.dir, 'report.html')}\n` +
          (result.unexpectedExits.length > 0
            ? `   unexpected exits: ${result.unexpectedExits.join('; ')}\n`
            : ''),
      );
    }
    process.stdout.write(
      `\n| scenario | seed | time | ok | failed | indeterminate | recovered | lost | duplicated | inconsistent | corruption | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
    );
    return failed ? 1 : 0;
  },
};

/** The table cell for the file-corruption faults of a run, `-` when it had none. */
function corruptionCell(c: CorruptionSummary): string {
  if (c.faults.length === 0) return '-';
  return `${c.faults.length}: ${c.refused} refused, ${c.storageFailed} failed, ${c.undetected} undetected${c.notReady > 0 ? `, ${c.notReady} not ready` : ''}`;
}
