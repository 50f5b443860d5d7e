import type { Dispatcher } from 'undici';
import type { Cluster } from './cluster.js';
import {
  type ActiveFault,
  type CorruptionFaultKind,
  CorruptionFaultKinds,
  CorruptionFaults,
} from './corruption-faults.js';
import { type HistoryRecorder, NEMESIS_PROCESS, type NemesisOp } from './history.js';
import type { LeaderView } from './leader-view.js';
import type { LinkMode } from './link-proxy.js';
import { MembershipNemesis } from './membership-nemesis.js';
import { type MembershipBounds, type MembershipKind, MembershipKinds } from './membership-plan.js';
import type { Rng } from './rng.js';
import { StoppableSleep } from './stoppable-sleep.js';

/**
 * The nemesis: faults on a seeded schedule, one at a time. Each round waits a quiet spell, starts
 * a fault (recorded as a `fault` invoke), holds it, then heals it (the matching `ok`). Targets,
 * kinds and durations come from the seeded source; only the wall-clock pacing is real. A
 * scenario's membership operations run beside the faults, one at a time too (see
 * `membership-nemesis.ts`).
 */

/** The kinds of process and network fault (the corruption faults are in `corruption-faults.ts`). */
export const FaultKinds = [
  'kill',
  'kill-leader',
  'pause',
  'pause-leader',
  'pause-then-kill',
  'restart',
  'isolate',
  'isolate-leader',
  'majority-minority',
  'bridge',
  'asymmetric',
  'delay',
  'loss',
] as const;

/** One kind of fault. */
export type FaultKind = (typeof FaultKinds)[number] | CorruptionFaultKind;

/** A fault or a membership operation. */
export type NemesisKind = FaultKind | MembershipKind;

/** The process faults and partitions of the membership-under-faults scenario. */
const MEMBERSHIP_FAULTS: readonly FaultKind[] = [
  'kill',
  'kill-leader',
  'pause',
  'pause-leader',
  'isolate',
  'isolate-leader',
  'majority-minority',
  'bridge',
  'asymmetric',
];

/** The named scenarios and the faults and membership operations each draws from. */
export const Scenarios: Readonly<Record<string, readonly NemesisKind[]>> = {
  none: [],
  kill: ['kill', 'kill-leader'],
  pause: ['pause', 'pause-leader'],
  'pause-then-kill': ['pause-then-kill'],
  restart: ['restart'],
  partition: ['isolate', 'isolate-leader', 'majority-minority', 'bridge', 'asymmetric'],
  isolate: ['isolate'],
  'isolate-leader': ['isolate-leader'],
  'majority-minority': ['majority-minority'],
  bridge: ['bridge'],
  asymmetric: ['asymmetric'],
  'delay-loss': ['delay', 'loss'],
  mix: FaultKinds,
  membership: MembershipKinds,
  'membership-faults': [...MembershipKinds, ...MEMBERSHIP_FAULTS],
  // Soak only: damage to a stopped minority broker's files.
  'corrupt-bitflip': ['corrupt-bitflip'],
  'corrupt-truncate': ['corrupt-truncate'],
  'corrupt-rollback': ['corrupt-rollback'],
  'mix-corrupt': [...FaultKinds, ...CorruptionFaultKinds],
};

/** Options of {@link Nemesis}. */
export interface NemesisOptions {
  readonly cluster: Cluster;
  readonly kinds: readonly NemesisKind[];
  readonly recorder: HistoryRecorder;
  /** For the membership operations' admin requests. */
  readonly dispatcher: Dispatcher;
  readonly topic: string;
  readonly membershipBounds: MembershipBounds;
  readonly leaders: LeaderView;
  readonly partitions: number;
  readonly rng: Rng;
  /** Quiet spell between faults, ms (default 1000..3000). */
  readonly quietMs?: readonly [number, number];
  /** How long a fault lasts, ms (default 2000..6000). */
  readonly faultMs?: readonly [number, number];
}

/** Runs faults until stopped; see the module notes. */
export class Nemesis {
  readonly #sleep = new StoppableSleep();
  #loop: Promise<void> | undefined;
  #faultId = 0;
  readonly #corruption: CorruptionFaults;
  readonly #faultKinds: readonly FaultKind[];
  readonly #membership: MembershipNemesis;

  constructor(private readonly o: NemesisOptions) {
    const membership = new Set<NemesisKind>(MembershipKinds);
    this.#faultKinds = o.kinds.filter((k): k is FaultKind => !membership.has(k));
    const membershipKinds = o.kinds.filter((k): k is MembershipKind => membership.has(k));
    this.#membership = new MembershipNemesis({
      cluster: o.cluster,
      kinds: membershipKinds,
      recorder: o.recorder,
      dispatcher: o.dispatcher,
      topic: o.topic,
      bounds: o.membershipBounds,
      // Forked only when used, so that the fault schedules of other scenarios' seeds stay as they were.
      rng: membershipKinds.length > 0 ? o.rng.fork() : o.rng,
      nextFault: () => ++this.#faultId,
    });
    this.#corruption = new CorruptionFaults({
      cluster: o.cluster,
      rng: o.rng,
      note: (fault, corruption) =>
        o.recorder.record<NemesisOp>({
          f: 'fault',
          type: 'info',
          process: NEMESIS_PROCESS,
          value: `broker ${corruption.broker} ${corruption.outcome} after ${corruption.kind}: ${corruption.damage}`,
          fault,
          corruption,
        }),
    });
  }

  /** How many times each broker refused to start on damaged files (expected exits). */
  refusals(): ReadonlyMap<number, number> {
    return this.#corruption.refusals();
  }

  start(): void {
    this.#membership.start();
    if (this.#faultKinds.length > 0) this.#loop = this.#run();
  }

  /** Stop starting faults, heal the current one, end the membership operation; wait for both. */
  async stop(): Promise<void> {
    this.#sleep.stop();
    await Promise.all([this.#loop, this.#membership.stop()]);
  }

  async #run(): Promise<void> {
    const { rng, recorder } = this.o;
    const [quietLo, quietHi] = this.o.quietMs ?? [1000, 3000];
    const [faultLo, faultHi] = this.o.faultMs ?? [2000, 6000];
    while (!this.#sleep.stopped) {
      await this.#sleep.sleep(rng.between(quietLo, quietHi));
      if (this.#sleep.stopped) break;
      const kind = rng.pick(this.#faultKinds);
      const fault = ++this.#faultId;
      await this.o.leaders.refresh();
      const invoke = recorder.record<NemesisOp>({
        f: 'fault',
        type: 'invoke',
        process: NEMESIS_PROCESS,
        value: kind,
        fault,
      });
      let active: ActiveFault;
      try {
        active = await this.#begin(kind, rng.between(faultLo, faultHi), fault);
      } catch (err) {
        recorder.record<NemesisOp>({
          f: 'fault',
          type: 'info',
          process: NEMESIS_PROCESS,
          value: `${invoke.value}: could not start: ${String(err)}`,
          fault,
        });
        continue;
      }
      recorder.record<NemesisOp>({
        f: 'fault',
        type: 'info',
        process: NEMESIS_PROCESS,
        value: active.description,
        fault,
      });
      await this.#sleep.sleep(rng.between(faultLo, faultHi));
      await active.heal();
      recorder.record<NemesisOp>({
        f: 'fault',
        type: 'ok',
        process: NEMESIS_PROCESS,
        value: `healed: ${active.description}`,
        fault,
      });
    }
  }

  /** A broker: the believed leader of a random partition, else a random one. */
  #leaderOrAny(): { id: number; what: string } {
    const { rng, leaders, partitions, cluster } = this.o;
    const partition = rng.int(partitions);
    const leader = leaders.leader(partition);
    if (leader !== undefined && cluster.isRunning(leader))
      return { id: leader, what: `leader of p${partition}` };
    return { id: rng.pick(cluster.ids), what: 'random broker (leader unknown)' };
  }

  async #begin(kind: FaultKind, holdMs: number, fault: number): Promise<ActiveFault> {
    const { cluster, rng } = this.o;
    const ids = cluster.ids;
    switch (kind) {
      case 'corrupt-bitflip':
      case 'corrupt-truncate':
      case 'corrupt-rollback':
        return this.#corruption.begin(kind, fault);
      case 'kill':
      case 'kill-leader': {
        const target = kind === 'kill' ? { id: rng.pick(ids), what: 'random broker' } : this.#leaderOrAny();
        await cluster.kill(target.id);
        return {
          description: `kill -9 ${target.id} (${target.what})`,
          heal: async () => cluster.restart(target.id),
        };
      }
      case 'restart': {
        const id = rng.pick(ids);
        await cluster.terminate(id);
        return { description: `SIGTERM ${id}`, heal: async () => cluster.restart(id) };
      }
      case 'pause':
      case 'pause-leader': {
        const target = kind === 'pause' ? { id: rng.pick(ids), what: 'random broker' } : this.#leaderOrAny();
        cluster.pause(target.id);
        return {
          description: `SIGSTOP ${target.id} (${target.what})`,
          heal: async () => cluster.resume(target.id),
        };
      }
      case 'pause-then-kill': {
        const target = this.#leaderOrAny();
        cluster.pause(target.id);
        await this.#sleep.sleep(Math.min(holdMs, 2000));
        await cluster.kill(target.id);
        return {
          description: `SIGSTOP then kill -9 ${target.id} (${target.what})`,
          heal: async () => cluster.restart(target.id),
        };
      }
      case 'isolate':
      case 'isolate-leader': {
        const target =
          kind === 'isolate' ? { id: rng.pick(ids), what: 'random broker' } : this.#leaderOrAny();
        const others = ids.filter((i) => i !== target.id);
        return this.#split([[target.id], others], `isolate ${target.id} (${target.what})`);
      }
      case 'majority-minority': {
        const shuffled = rng.shuffle(ids);
        const minority = shuffled.slice(0, Math.floor(ids.length / 2));
        return this.#split([minority, shuffled.slice(minority.length)], 'majority/minority');
      }
      case 'bridge': {
        // Two halves that cannot talk to each other; one broker talks to both.
        const [bridge, ...rest] = rng.shuffle(ids) as [number, ...number[]];
        const half = Math.ceil(rest.length / 2);
        const a = rest.slice(0, half);
        const b = rest.slice(half);
        const mode = this.#mode();
        const blocked = a.flatMap((x) => b.flatMap((y) => [[x, y] as const, [y, x] as const]));
        return this.#block(blocked, mode, `bridge ${bridge} between [${a}] and [${b}] (${mode})`);
      }
      case 'asymmetric': {
        const id = rng.pick(ids);
        const others = ids.filter((i) => i !== id);
        const outbound = rng.next() < 0.5;
        const blocked = others.map((o) => (outbound ? ([id, o] as const) : ([o, id] as const)));
        return this.#block(
          blocked,
          'blackhole',
          outbound ? `${id} cannot be heard (black hole)` : `${id} cannot hear (black hole)`,
        );
      }
      case 'delay':
      case 'loss': {
        const id = rng.pick(ids);
        const links = cluster.links().filter((l) => l.from === id || l.to === id);
        const delayMs = kind === 'delay' ? rng.between(50, 400) : 0;
        const dropRate = kind === 'loss' ? 0.05 + rng.next() * 0.35 : 0;
        for (const l of links) l.proxy.set({ delayMs, dropRate });
        return {
          description:
            kind === 'delay'
              ? `delay ${delayMs} ms on ${id}'s links`
              : `lose ${Math.round(dropRate * 100)}% of frames on ${id}'s links`,
          heal: async () => {
            for (const l of links) l.proxy.heal();
          },
        };
      }
    }
  }

  #mode(): LinkMode {
    return this.o.rng.next() < 0.5 ? 'cut' : 'blackhole';
  }

  /** Block every link between different groups. */
  #split(groups: readonly (readonly number[])[], what: string): Promise<ActiveFault> {
    const blocked: (readonly [number, number])[] = [];
    for (const g of groups)
      for (const h of groups) if (g !== h) for (const x of g) for (const y of h) blocked.push([x, y]);
    const mode = this.#mode();
    return this.#block(blocked, mode, `${what}: ${groups.map((g) => `[${g}]`).join(' ')} (${mode})`);
  }

  async #block(
    links: readonly (readonly [number, number])[],
    mode: LinkMode,
    description: string,
  ): Promise<ActiveFault> {
    const { cluster } = this.o;
    for (const [from, to] of links) cluster.link(from, to).set({ mode });
    return {
      description,
      heal: async () => {
        for (const [from, to] of links) cluster.link(from, to).heal();
      },
    };
  }
}
