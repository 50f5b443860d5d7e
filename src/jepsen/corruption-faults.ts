import type { Cluster, StartOutcome } from './cluster.js';
import { copyDataDir, flipBits, restoreDataDir, truncateFile } from './corruption.js';
import type { CorruptionNote } from './history.js';
import type { Rng } from './rng.js';

/**
 * The file-corruption faults (soak only): stop one broker — a minority — damage its data
 * directory, start it again and record how it took it (see {@link CorruptionNote}).
 *
 * - `corrupt-bitflip` / `corrupt-truncate`: flip bits in, or cut short, one LevelDB file. A
 *   broker that refuses to start ran nothing on the damaged files, so healing puts back the copy
 *   taken just before the damage (an operator restoring a backup of that moment) and starts it.
 *   A broker that started and then stopped serving on meeting the damage (storage failure) has
 *   no safe repair: it stays out of service.
 * - `corrupt-rollback`: copy the data directory of a stopped broker, let it run again for the
 *   fault's duration (voting and acknowledging), then stop it and put the copy back: its disk
 *   went back in time. Raft assumes that never happens; a broker that starts on it may vote
 *   again in a term it voted in and forget entries it acknowledged.
 *
 * Damage stays on one broker at a time: once a broker is out of service, corruption faults
 * only ever target it.
 */

/** The corruption fault kinds. */
export const CorruptionFaultKinds = ['corrupt-bitflip', 'corrupt-truncate', 'corrupt-rollback'] as const;

/** One corruption fault kind. */
export type CorruptionFaultKind = (typeof CorruptionFaultKinds)[number];

/** A started fault and how to undo it. */
export interface ActiveFault {
  readonly description: string;
  heal(): Promise<void>;
}

/** Options of {@link CorruptionFaults}. */
export interface CorruptionFaultsOptions {
  readonly cluster: Cluster;
  readonly rng: Rng;
  /** Record what was learnt about fault number `fault`. */
  readonly note: (fault: number, note: CorruptionNote) => void;
  /** How long a restarted broker gets to become ready (default 15 s). */
  readonly settleMs?: number;
}

/** Runs the corruption faults of a nemesis; see the module notes. */
export class CorruptionFaults {
  /** The broker left out of service by damage, if any: the only one damaged from then on. */
  #impaired: number | undefined;
  readonly #refusals = new Map<number, number>();

  constructor(private readonly o: CorruptionFaultsOptions) {}

  /** How many times each broker refused to start (each is an exit with an error, expected). */
  refusals(): ReadonlyMap<number, number> {
    return this.#refusals;
  }

  begin(kind: CorruptionFaultKind, fault: number): Promise<ActiveFault> {
    const id = this.#impaired ?? this.o.rng.pick(this.o.cluster.ids);
    return kind === 'corrupt-rollback' ? this.#rollback(id, fault) : this.#damage(kind, id, fault);
  }

  async #damage(
    kind: 'corrupt-bitflip' | 'corrupt-truncate',
    id: number,
    fault: number,
  ): Promise<ActiveFault> {
    const { cluster, rng } = this.o;
    const dir = cluster.dataDir(id);
    const undamaged = `${dir}.undamaged`;
    const stopped = await this.#stop(id);
    await copyDataDir(dir, undamaged);
    const d = kind === 'corrupt-bitflip' ? await flipBits(dir, rng) : await truncateFile(dir, rng);
    const base = {
      broker: id,
      kind: kind === 'corrupt-bitflip' ? 'bitflip' : 'truncate',
      damage: `${d.file}: ${d.detail}`,
    } as const;
    const outcome = await this.#restart(id, fault, base);
    return {
      description: `${stopped} ${id}, ${base.damage}, restarted: ${outcome.state}`,
      heal: async () => {
        if (outcome.state === 'exited') {
          await restoreDataDir(undamaged, dir);
          cluster.restart(id);
          this.o.note(fault, {
            ...base,
            outcome: 'refused',
            error: outcome.error,
            repair:
              'restored its files as they were before the damage (it ran nothing on them) and restarted it',
          });
        } else if (outcome.state !== 'storage-failed' && (await cluster.storageFailed(id))) {
          this.#impaired = id;
          this.o.note(fault, { ...base, outcome: 'storage-failed', repair: 'none: left out of service' });
        }
      },
    };
  }

  async #rollback(id: number, fault: number): Promise<ActiveFault> {
    const { cluster } = this.o;
    const dir = cluster.dataDir(id);
    const earlier = `${dir}.earlier`;
    const stopped = await this.#stop(id);
    await copyDataDir(dir, earlier);
    cluster.restart(id);
    const copiedAt = Date.now();
    return {
      description: `${stopped} ${id}, copied its data directory, restarted it (rolled back when healed)`,
      heal: async () => {
        const latest = `${dir}.undamaged`;
        await this.#stop(id);
        await copyDataDir(dir, latest);
        await restoreDataDir(earlier, dir);
        const base = {
          broker: id,
          kind: 'rollback',
          damage: `data directory rolled back to its copy of ${((Date.now() - copiedAt) / 1000).toFixed(1)} s earlier`,
        } as const;
        const outcome = await this.#restart(id, fault, base);
        if (outcome.state === 'exited') {
          await restoreDataDir(latest, dir);
          cluster.restart(id);
          this.o.note(fault, {
            ...base,
            outcome: 'refused',
            error: outcome.error,
            repair: 'put back its latest files',
          });
        }
      },
    };
  }

  /** kill -9 or SIGTERM, at random. */
  async #stop(id: number): Promise<string> {
    if (this.o.rng.next() < 0.5) {
      await this.o.cluster.kill(id);
      return 'kill -9';
    }
    await this.o.cluster.terminate(id);
    return 'SIGTERM';
  }

  /** Start the broker on its damaged files and note how that went (a refusal is noted by the caller). */
  async #restart(id: number, fault: number, base: Omit<CorruptionNote, 'outcome'>): Promise<StartOutcome> {
    const { cluster } = this.o;
    cluster.restart(id);
    const outcome = await cluster.settle(id, this.o.settleMs ?? 15_000);
    switch (outcome.state) {
      case 'exited':
        this.#refusals.set(id, (this.#refusals.get(id) ?? 0) + 1);
        break;
      case 'ready':
        this.o.note(fault, { ...base, outcome: 'started' });
        break;
      case 'storage-failed':
        this.#impaired = id;
        this.o.note(fault, { ...base, outcome: 'storage-failed', repair: 'none: left out of service' });
        break;
      case 'not-ready':
        this.o.note(fault, { ...base, outcome: 'not-ready' });
        break;
    }
    return outcome;
  }
}
