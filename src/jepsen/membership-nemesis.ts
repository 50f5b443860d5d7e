import type { Dispatcher } from 'undici';
import type { Cluster } from './cluster.js';
import { type HistoryRecorder, NEMESIS_PROCESS, type NemesisOp } from './history.js';
import { call, describeError, type HttpAnswer } from './http.js';
import {
  type MembershipBounds,
  type MembershipKind,
  type MembershipStep,
  type MembershipView,
  planMembership,
} from './membership-plan.js';
import type { Rng } from './rng.js';
import { StoppableSleep } from './stoppable-sleep.js';

/**
 * The membership nemesis: brokers join, drain and leave, replicas move and the cluster
 * rebalances, one operation at a time on a seeded schedule, through the HTTP admin API of any
 * serving broker — alongside (not instead of) the fault nemesis. Each operation is recorded like a
 * fault: `invoke` with its kind, `info` lines as it goes, `ok` when it is over, so the report
 * shades it. A drain waits until the broker holds nothing, then removes it and stops its process;
 * a drain that does not finish in time stays draining and a later `drain-remove` finishes it.
 */

/** Options of {@link MembershipNemesis}. */
export interface MembershipNemesisOptions {
  readonly cluster: Cluster;
  readonly kinds: readonly MembershipKind[];
  readonly recorder: HistoryRecorder;
  readonly dispatcher: Dispatcher;
  readonly topic: string;
  readonly bounds: MembershipBounds;
  readonly rng: Rng;
  /** A fresh fault number (shared with the fault nemesis). */
  readonly nextFault: () => number;
  /** Quiet spell between operations, ms (default 2000..5000). */
  readonly quietMs?: readonly [number, number];
  /** How long a joined broker, a drain or a move gets (default 60 000 ms). */
  readonly opTimeoutMs?: number;
}

/** Answers that say the request was not taken (no metadata leader now): worth another try. */
const RETRY_CODES = new Set(['NO_LEADER', 'NOT_LEADER', 'COMMIT_TIMEOUT']);

/** Runs membership operations until stopped; see the module notes. */
export class MembershipNemesis {
  readonly #sleep = new StoppableSleep();
  #loop: Promise<void> | undefined;

  constructor(private readonly o: MembershipNemesisOptions) {}

  start(): void {
    if (this.o.kinds.length > 0) this.#loop = this.#run();
  }

  /** Stop starting operations, cut the current one's waiting short, and wait for it. */
  async stop(): Promise<void> {
    this.#sleep.stop();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { rng } = this.o;
    const [quietLo, quietHi] = this.o.quietMs ?? [2000, 5000];
    while (!this.#sleep.stopped) {
      await this.#sleep.sleep(rng.between(quietLo, quietHi));
      if (this.#sleep.stopped) break;
      const fault = this.o.nextFault();
      this.#record(fault, 'invoke', 'membership');
      let outcome: string;
      try {
        const view = await this.#view();
        const plan = view && planMembership(this.o.kinds, view, this.o.bounds, rng);
        if (plan === undefined) outcome = 'skipped: no broker described the cluster';
        else if ('skipped' in plan) outcome = `skipped: ${plan.skipped}`;
        else {
          this.#record(fault, 'info', `membership: ${plan.kind}`);
          outcome = `${plan.kind}: ${await this.#take(plan.step, fault)}`;
        }
      } catch (err) {
        outcome = `failed: ${String(err)}`;
      }
      this.#record(fault, 'ok', outcome);
    }
  }

  #record(fault: number, type: 'invoke' | 'info' | 'ok', value: string): void {
    this.o.recorder.record<NemesisOp>({ f: 'fault', type, process: NEMESIS_PROCESS, value, fault });
  }

  /** What the metadata says (through any serving broker), with the brokers the harness runs. */
  async #view(): Promise<MembershipView | undefined> {
    const brokers = await this.#admin('GET', '/v1/brokers');
    const topic = await this.#admin('GET', `/v1/topics/${this.o.topic}`);
    if (brokers?.status !== 200 || topic?.status !== 200) return undefined;
    const listed = brokers.body.brokers as { id: number; state: string }[];
    const partitions = topic.body.partitions as { partition: number; replicas: number[] }[];
    return {
      running: this.o.cluster.ids,
      registered: listed.map((b) => b.id),
      draining: listed.filter((b) => b.state === 'draining').map((b) => b.id),
      replicas: new Map(partitions.map((p) => [p.partition, p.replicas])),
    };
  }

  async #take(step: MembershipStep, fault: number): Promise<string> {
    switch (step.op) {
      case 'skip':
        return step.why;
      case 'join':
        return this.#join(fault);
      case 'drain': {
        const res = await this.#admin('POST', `/v1/brokers/${step.broker}/drain`);
        if (res?.status !== 202) return `drain ${step.broker} refused: ${answer(res)}`;
        this.#record(fault, 'info', `draining ${step.broker}`);
        return this.#removeWhenEmpty(step.broker, fault);
      }
      case 'remove':
        this.#record(fault, 'info', `finishing the drain of ${step.broker}`);
        return this.#removeWhenEmpty(step.broker, fault);
      case 'move': {
        const path = `/v1/topics/${this.o.topic}/partitions/${step.partition}/reassignment`;
        const res = await this.#admin('POST', path, { replicas: step.to });
        const what = `move p${step.partition} [${step.from}] -> [${step.to}]`;
        if (res?.status !== 202) return `${what} refused: ${answer(res)}`;
        this.#record(fault, 'info', what);
        const done = await this.#until(async () => {
          const t = await this.#admin('GET', `/v1/topics/${this.o.topic}`);
          const p = (t?.body?.partitions as { partition: number; replicas: number[] }[] | undefined)?.find(
            (x) => x.partition === step.partition,
          );
          return p !== undefined && sameSet(p.replicas, step.to);
        });
        return `${what}: ${done ? 'done' : 'not finished in time'}`;
      }
      case 'rebalance': {
        const res = await this.#admin('POST', '/v1/rebalance', { dry_run: false });
        if (res?.status !== 200) return `refused: ${answer(res)}`;
        const moves = (res.body.moves as { partition: number; topic: string; to: number[] }[]).map(
          (m) => `${m.topic}/${m.partition} -> [${m.to}]`,
        );
        return moves.length === 0 ? 'balanced already' : `started ${moves.join(', ')}`;
      }
    }
  }

  /** Start a broker that joins; clients use it once it is ready. */
  async #join(fault: number): Promise<string> {
    const { cluster } = this.o;
    const id = await cluster.join();
    this.#record(fault, 'info', `broker ${id} joining`);
    const settled = await this.#until(async () => !cluster.isRunning(id) || (await cluster.isReady(id)));
    if (settled && cluster.isRunning(id)) {
      cluster.serve(id);
      return `broker ${id} joined and serves`;
    }
    const why = !settled ? 'not ready yet' : `stopped (${cluster.exits().get(id)?.at(-1) ?? 'by a fault'})`;
    return `broker ${id} joined, ${why}: it serves after healing`;
  }

  /** Wait until `id` holds no replica, remove it from the cluster, then stop it. */
  async #removeWhenEmpty(id: number, fault: number): Promise<string> {
    let last = '';
    const removed = await this.#until(async () => {
      const list = await this.#admin('GET', '/v1/brokers');
      if (list?.status !== 200) return false;
      const me = (list.body.brokers as { id: number; replicas: number }[]).find((b) => b.id === id);
      if (me === undefined) return true; // removed (an earlier DELETE took effect)
      if (me.replicas > 0) {
        last = `${me.replicas} replicas left`;
        return false;
      }
      const res = await this.#admin('DELETE', `/v1/brokers/${id}`);
      last = answer(res);
      return res?.status === 204;
    });
    if (!removed) return `broker ${id} still draining (${last})`;
    this.#record(fault, 'info', `broker ${id} removed from the cluster; stopping it`);
    await this.o.cluster.remove(id);
    return `broker ${id} drained, removed and stopped`;
  }

  /** Poll `done` every 500 ms until it holds, the operation's time is up or the run stops. */
  async #until(done: () => Promise<boolean>): Promise<boolean> {
    const deadline = Date.now() + (this.o.opTimeoutMs ?? 60_000);
    while (!this.#sleep.stopped && Date.now() < deadline) {
      if (await done()) return true;
      await this.#sleep.sleep(500);
    }
    return false;
  }

  /**
   * One admin request through the serving brokers in random order: the first answer that is not
   * a network error or a "no metadata leader now", else the last one (undefined if none).
   */
  async #admin(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    json?: unknown,
  ): Promise<HttpAnswer | undefined> {
    let last: HttpAnswer | undefined;
    for (const url of this.o.rng.shuffle([...this.o.cluster.urls.values()])) {
      try {
        const res = await call(this.o.dispatcher, `${url}${path}`, {
          method,
          ...(json === undefined ? {} : { json }),
        });
        if (!RETRY_CODES.has(res.body?.code)) return res;
        last = res;
      } catch (err) {
        last = { status: 0, body: { code: describeError(err) } };
      }
    }
    return last;
  }
}

/** `409 BROKER_NOT_EMPTY`, for the history. */
function answer(res: HttpAnswer | undefined): string {
  if (res === undefined) return 'no serving broker';
  return `${res.status} ${res.body?.code ?? ''}`.trim();
}

function sameSet(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
