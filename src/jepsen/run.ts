import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CheckOptions, check, type Verdict } from './checker.js';
import { Cluster } from './cluster.js';
import {
  HistoryRecorder,
  historyToJsonl,
  NEMESIS_PROCESS,
  type NemesisOp,
  type ReplicaOp,
} from './history.js';
import { call, clientAgent } from './http.js';
import { LeaderView } from './leader-view.js';
import { Nemesis, Scenarios } from './nemesis.js';
import { type ReplicaLog, readReplicaLogs } from './replica-dump.js';
import { renderReport } from './report.js';
import { Rng } from './rng.js';
import { readOnce, Workload } from './workload.js';

/**
 * One run of the suite: start a cluster, create the topic, run the workload under the scenario's
 * nemesis for the given time, heal everything, let the cluster recover under load, read every
 * partition through every broker, stop the brokers and read each replica's committed log from
 * its data directory, then check the history and write the run directory: `history.jsonl`,
 * `verdict.json`, `report.html`, `run.json` and the brokers' logs.
 */

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** A key of {@link Scenarios}. */
  readonly scenario: string;
  /** Seconds of workload under faults. */
  readonly timeSeconds: number;
  readonly seed: number;
  /** Brokers (default 3). */
  readonly nodes?: number;
  /** Parent directory of the run directory (default: the system temp directory). */
  readonly outDir?: string;
  /** The compiled `raftlog` CLI entry point the brokers run. */
  readonly brokerMain: string;
  /** Partitions of the topic (default 3), replication factor 3. */
  readonly partitions?: number;
  readonly writers?: number;
  readonly readers?: number;
  /** Seconds of workload after healing (default 6). */
  readonly recoverySeconds?: number;
  /** Keep the brokers' data directories even when the run passes (default false). */
  readonly keepData?: boolean;
  /** The brokers' `--log-level` (default `info`: a few lines per election, start and stop). */
  readonly brokerLogLevel?: string;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  readonly check?: CheckOptions;
}

/** What a run produced. */
export interface RunResult {
  /** The run directory. */
  readonly dir: string;
  readonly verdict: Verdict;
  readonly durationMs: number;
  /** How broker processes ended, other than by the nemesis or the final stop (should be empty). */
  readonly unexpectedExits: readonly string[];
}

const TOPIC = 'jepsen';
const READY_MS = 30_000;

/** Run one scenario; see the module notes. Throws only when the cluster cannot be set up. */
export async function runScenario(o: RunOptions): Promise<RunResult> {
  const kinds = Scenarios[o.scenario];
  if (kinds === undefined) {
    throw new Error(`unknown scenario ${o.scenario}; one of: ${Object.keys(Scenarios).join(', ')}`);
  }
  const started = Date.now();
  const log = o.log ?? (() => {});
  const nodes = o.nodes ?? 3;
  const partitions = o.partitions ?? 3;
  const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
  const dir = join(o.outDir ?? tmpdir(), `raftlog-jepsen-${o.scenario}-seed${o.seed}-${stamp}`);
  await mkdir(dir, { recursive: true });
  const rng = new Rng(o.seed);
  const recorder = new HistoryRecorder();
  const dispatcher = clientAgent();
  let cluster: Cluster;
  try {
    cluster = await Cluster.start({
      nodes,
      brokerMain: o.brokerMain,
      dir: join(dir, 'cluster'),
      rng: rng.fork(),
      logLevel: o.brokerLogLevel ?? 'info',
    });
  } catch (err) {
    await dispatcher.close();
    throw new Error(`could not start the cluster (run directory kept: ${dir})`, { cause: err });
  }
  // A live view: brokers that join serve clients once ready, removed ones no longer.
  const urls = cluster.urls;
  const leaders = new LeaderView(urls, TOPIC, dispatcher, rng.fork());
  const expectedExits = new Map<number, number>();
  const outOfService = new Set<number>();
  let refusals: ReadonlyMap<number, number> = new Map();
  let stopped = false;
  try {
    await cluster.waitReady(READY_MS);
    await createTopic(urls, partitions, Math.min(3, nodes), dispatcher);
    await cluster.waitReady(READY_MS);
    log(`cluster ready in ${Date.now() - started} ms: ${[...urls.values()].join(' ')}`);

    leaders.start(500);
    await leaders.refresh();
    const workload = new Workload({
      urls,
      topic: TOPIC,
      partitions,
      writers: o.writers ?? 5,
      readers: o.readers ?? 2,
      idempotentShare: 0.5,
      dispatcher,
      recorder,
      leaders,
      rng: rng.fork(),
      runTag: `jepsen-${o.seed}-${started.toString(36)}`,
    });
    const nemesis = new Nemesis({
      cluster,
      kinds,
      recorder,
      leaders,
      partitions,
      rng: rng.fork(),
      dispatcher,
      topic: TOPIC,
      // Replication factor 3 and the metadata group's 3 voters need 3 active brokers.
      membershipBounds: { minActive: 3, maxBrokers: nodes + 2 },
    });
    workload.start();
    nemesis.start();
    await sleep(o.timeSeconds * 1000);
    await nemesis.stop();
    refusals = nemesis.refusals();

    recorder.record<NemesisOp>({
      f: 'heal-all',
      type: 'invoke',
      process: NEMESIS_PROCESS,
      value: 'heal all',
    });
    cluster.healAll();
    // A broker whose storage failed on damage the nemesis did stays out of service: there is no
    // safe repair, so the final phase neither waits for it nor reads through it.
    for (const id of cluster.ids) if (await cluster.storageFailed(id)) outOfService.add(id);
    let healed = outOfService.size === 0 ? 'healed' : `healed; out of service: ${[...outOfService]}`;
    try {
      const serving = cluster.ids.filter((id) => !outOfService.has(id));
      await cluster.waitReady(READY_MS, serving);
      // A broker that joined but was not ready while the membership nemesis waited serves now.
      for (const id of serving) cluster.serve(id);
    } catch (err) {
      healed = `not ready after healing: ${String(err)}`;
    }
    recorder.record<NemesisOp>({ f: 'heal-all', type: 'ok', process: NEMESIS_PROCESS, value: healed });
    log(`${healed} at ${recorder.now().toFixed(0)} ms`);
    await sleep((o.recoverySeconds ?? 6) * 1000);
    await workload.stop();
    await leaders.stop();

    const serving = new Map([...urls].filter(([id]) => !outOfService.has(id)));
    await finalReads(serving, partitions, { urls, topic: TOPIC, dispatcher, recorder });
    for (const [id, list] of cluster.exits()) expectedExits.set(id, list.length);
    await cluster.stop();
    stopped = true;
    // Brokers the scenario removed hold nothing the cluster needs: their replicas are not read.
    for (const id of cluster.ids) {
      let replicas: ReplicaLog[];
      try {
        replicas = await readReplicaLogs(cluster.dataDir(id), TOPIC);
      } catch (err) {
        // A store the nemesis damaged may not open at all: every partition is unreadable there.
        const error = String(err);
        replicas = Array.from({ length: partitions }, (_, partition) => ({ partition, records: [], error }));
      }
      for (const replica of replicas) {
        recorder.record<ReplicaOp>({
          f: 'replica-log',
          // A broker taken out of service (it refused damaged files) is not expected to read back.
          type: replica.error === undefined ? 'ok' : outOfService.has(id) ? 'info' : 'fail',
          process: NEMESIS_PROCESS,
          partition: replica.partition,
          broker: id,
          records: replica.records,
          ...(replica.error === undefined ? {} : { error: replica.error }),
        });
      }
    }
  } catch (err) {
    throw new Error(`the run failed (run directory kept: ${dir}): ${String(err)}`, { cause: err });
  } finally {
    if (!stopped) await cluster.destroy();
    await leaders.stop();
    await dispatcher.close();
  }

  // Every exit before the final stop was one the nemesis caused: a kill, or a SIGTERM it sent.
  // Exits with a code are crashes, except refusals to start on files the nemesis damaged; the
  // final SIGTERM must end every broker with code 0.
  const unexpectedExits: string[] = [];
  for (const [id, list] of cluster.exits()) {
    const before = expectedExits.get(id) ?? 0;
    let refused = refusals.get(id) ?? 0;
    list.forEach((how, i) => {
      if (i < before && how === 'exit 1' && refused > 0) {
        refused--;
        return;
      }
      const crash = i < before ? how.startsWith('exit') && how !== 'exit 0' : how !== 'exit 0';
      if (crash) unexpectedExits.push(`broker ${id}: ${how}`);
    });
  }
  const verdict = check(recorder.ops, o.check);
  const durationMs = Date.now() - started;
  await writeFile(join(dir, 'history.jsonl'), historyToJsonl(recorder.ops));
  await writeFile(join(dir, 'verdict.json'), `${JSON.stringify(verdict, null, 2)}\n`);
  const meta = {
    scenario: o.scenario,
    seed: o.seed,
    nodes,
    partitions,
    timeSeconds: o.timeSeconds,
    durationMs,
    unexpectedExits,
    command: `npm run jepsen -- --scenario ${o.scenario} --time ${o.timeSeconds} --seed ${o.seed} --nodes ${nodes}`,
  };
  await writeFile(join(dir, 'run.json'), `${JSON.stringify(meta, null, 2)}\n`);
  await writeFile(join(dir, 'report.html'), renderReport(recorder.ops, verdict, meta));
  if (!o.keepData && verdict.valid && unexpectedExits.length === 0) {
    for (const id of cluster.started) {
      for (const suffix of ['', '.undamaged', '.earlier'])
        await rm(`${cluster.dataDir(id)}${suffix}`, { recursive: true, force: true });
    }
  }
  log(
    `${verdict.valid ? 'VALID' : 'INVALID'} in ${durationMs} ms: ${JSON.stringify(verdict.counts)} -> ${dir}`,
  );
  return { dir, verdict, durationMs, unexpectedExits };
}

/** Create the topic through any broker; retried until it exists (bounded). */
async function createTopic(
  urls: ReadonlyMap<number, string>,
  partitions: number,
  replicationFactor: number,
  dispatcher: ReturnType<typeof clientAgent>,
): Promise<void> {
  const deadline = Date.now() + READY_MS;
  let last = '';
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const url = [...urls.values()][attempt % urls.size]!;
    try {
      const res = await call(dispatcher, `${url}/v1/topics`, {
        method: 'POST',
        json: { name: TOPIC, partitions, replication_factor: replicationFactor },
      });
      if (res.status === 201 || res.body?.code === 'TOPIC_EXISTS') return;
      last = `${res.status} ${JSON.stringify(res.body)}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  throw new Error(`could not create the topic: ${last}`);
}

/**
 * Read every partition from offset 0 to its high watermark through every broker, in pages; a
 * failed page is retried (each attempt recorded) until a deadline.
 */
async function finalReads(
  brokers: ReadonlyMap<number, string>,
  partitions: number,
  o: Parameters<typeof readOnce>[0],
): Promise<void> {
  const deadline = Date.now() + 30_000;
  const jobs: Promise<void>[] = [];
  for (const broker of brokers.keys()) {
    for (let partition = 0; partition < partitions; partition++) {
      // One process per broker and partition, so that one stuck partition holds up no other.
      const process = 2_000_000 + broker * 1000 + partition;
      jobs.push(
        (async () => {
          let offset = 0;
          while (Date.now() < deadline) {
            const res = await readOnce(o, process, partition, broker, offset, {
              maxRecords: 2000,
              longPollMs: 0,
              timeoutMs: 5000,
              final: true,
            });
            if (res.type !== 'ok' || res.records === undefined || res.highWatermark === undefined) {
              await sleep(250);
              continue;
            }
            const last = res.records[res.records.length - 1];
            if (last !== undefined) offset = last[0] + 1;
            if (offset >= res.highWatermark) break;
          }
        })(),
      );
    }
  }
  await Promise.all(jobs);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
