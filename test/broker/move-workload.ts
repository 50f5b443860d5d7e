import type { Broker } from '../../src/broker/broker.js';
import { isErrorCode, type RaftlogError } from '../../src/errors.js';
import { readReplicaLogs } from '../../src/jepsen/replica-dump.js';
import { type InProcessCluster, waitFor } from './cluster-harness.js';

/** Errors a producer retries (the same sequence, so a retry is never written twice). */
const RETRIABLE = ['NOT_LEADER', 'NO_LEADER', 'COMMIT_TIMEOUT', 'PROPOSAL_DROPPED'] as const;

/** What a {@link SteadyProducer} saw. */
export interface ProduceOutcome {
  /** Values acknowledged, in offset order, with their offsets. */
  readonly acked: ReadonlyArray<readonly [number, string]>;
  /** Retriable errors met (a leader change, a timeout): retried until acknowledged. */
  readonly retried: number;
  /** Errors that were not retriable: none is expected. */
  readonly failed: unknown[];
}

/**
 * Appends `v-0`, `v-1`, ... to one partition, one at a time, through whichever broker leads it,
 * as an idempotent producer: a retriable error is retried with the same sequence until
 * acknowledged, so every value is written exactly once. Every tenth value is read back.
 */
export class SteadyProducer {
  private stopped = false;
  private readonly acked: Array<readonly [number, string]> = [];
  private retried = 0;
  private readonly failed: unknown[] = [];
  private readonly done: Promise<void>;

  constructor(
    private readonly cluster: InProcessCluster,
    private readonly topic: string,
    private readonly partition = 0,
  ) {
    this.done = this.loop();
  }

  /** How many values were acknowledged so far; throws what stopped the producer, if anything did. */
  get count(): number {
    if (this.failed.length > 0) throw new Error('the producer stopped', { cause: this.failed[0] });
    return this.acked.length;
  }

  async stop(): Promise<ProduceOutcome> {
    this.stopped = true;
    await this.done;
    return { acked: this.acked, retried: this.retried, failed: this.failed };
  }

  private async loop(): Promise<void> {
    let leader = 0;
    for (let sequence = 0; !this.stopped; sequence++) {
      const value = `v-${sequence}`;
      for (;;) {
        const broker = this.pick(leader);
        if (broker === undefined) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        try {
          const r = await broker.produce(
            this.topic,
            this.partition,
            [{ value: new TextEncoder().encode(value) }],
            {
              id: 'steady',
              epoch: 0,
              sequence,
            },
          );
          this.acked.push([r.baseOffset, value]);
          leader = broker.id;
          if (sequence % 10 === 0) await this.readBack(broker, r.baseOffset, value);
          break;
        } catch (err) {
          if (!RETRIABLE.some((code) => isErrorCode(err, code))) {
            this.failed.push(err);
            return;
          }
          this.retried++;
          const hint = (err as RaftlogError).details.leader;
          leader = typeof hint === 'number' ? hint : 0;
          // Never retry within the same turn: a refusal is answered without any I/O, and a loop
          // of them would starve the brokers' timers.
          await new Promise((r) => setTimeout(r, leader === 0 ? 20 : 2));
        }
      }
    }
  }

  /** Reads go on during moves too: read the record just written (a linearizable read on its leader). */
  private async readBack(broker: Broker, offset: number, value: string): Promise<void> {
    let at = broker.id;
    for (let attempt = 0; attempt < 100; attempt++) {
      const target = this.pick(at) ?? broker;
      try {
        const { records } = await target.fetch(this.topic, this.partition, { offset, maxRecords: 1 });
        const got = new TextDecoder().decode(records[0]?.value);
        if (got !== value) this.failed.push(new Error(`read ${got} at offset ${offset}, wrote ${value}`));
        return;
      } catch (err) {
        if (!RETRIABLE.some((code) => isErrorCode(err, code))) {
          this.failed.push(err);
          return;
        }
        const hint = (err as RaftlogError).details.leader;
        at = typeof hint === 'number' ? hint : 0;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    this.failed.push(new Error(`could not read offset ${offset} back`));
  }

  /** The broker believed to lead, else any running one. */
  private pick(leader: number): Broker | undefined {
    const running = this.cluster.running();
    return running.find((b) => b.id === leader) ?? running[Math.floor(Math.random() * running.length)];
  }
}

/** Wait until `topic/partition`'s move is complete in the metadata and its replicas are `target`. */
export async function waitForMove(
  cluster: InProcessCluster,
  topic: string,
  partition: number,
  target: readonly number[],
  ms = 60_000,
): Promise<void> {
  await waitFor(
    `the move of ${topic}/${partition} to ${target.join(',')}`,
    async () => {
      const d = await (await cluster.metadataLeader()).describeTopic(topic);
      const p = d.partitions[partition];
      return p && p.replicas.join(',') === target.join(',') && !(await isMoving(cluster, topic, partition));
    },
    ms,
  );
}

async function isMoving(cluster: InProcessCluster, topic: string, partition: number): Promise<boolean> {
  const leader = await cluster.metadataLeader();
  return leader.admin.moves().some((m) => m.topic === topic && m.partition === partition);
}

/** The voters of a group, as its leader sees them. */
export function votersOf(cluster: InProcessCluster, group: number): number[] | undefined {
  for (const b of cluster.running()) {
    const s = b.host.status(group);
    if (s?.progress) return [...s.confState.voters].sort((a, b) => a - b);
  }
  return undefined;
}

/**
 * Whether every one of `replicas` holds the leader's whole log of `group` and knows all of it is
 * committed: a stopped replica's records are read up to its own commit index, which a follower
 * learns after its log is complete.
 */
export function caughtUp(cluster: InProcessCluster, group: number, replicas: readonly number[]): boolean {
  for (const b of cluster.running()) {
    const s = b.host.status(group);
    if (!s?.progress) continue;
    return replicas.every(
      (id) =>
        s.progress!.get(id)?.match === s.lastIndex &&
        cluster.broker(id).host.status(group)?.hardState.commit === s.lastIndex,
    );
  }
  return false;
}

/**
 * After the brokers are stopped: every broker in `replicas` holds exactly the acknowledged values
 * at their offsets (nothing lost, nothing duplicated), and all of them hold the same log.
 */
export async function replicaLogs(
  cluster: InProcessCluster,
  topic: string,
  partition: number,
  replicas: readonly number[],
): Promise<Map<number, ReadonlyArray<readonly [number, string]>>> {
  const logs = new Map<number, ReadonlyArray<readonly [number, string]>>();
  for (const id of replicas) {
    const replica = (await readReplicaLogs(cluster.dataDir(id), topic)).find(
      (r) => r.partition === partition,
    );
    logs.set(id, replica?.records ?? []);
  }
  return logs;
}
