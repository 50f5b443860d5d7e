import { type CorruptionSummary, summarizeCorruption } from './corruption-summary.js';
import type { AppendOp, NemesisOp, Op, OpType, ReadOp, ReplicaOp } from './history.js';

/**
 * The checker: a pure function from a history to a verdict. It knows nothing of how the history
 * was made. Per partition it checks the log's safety properties (one value per offset, one offset
 * per value, nothing read that was not appended or that definitely failed, acknowledged appends
 * in the final log at their acknowledged offsets, contiguous fetches, real-time order of appends,
 * no stale reads, high watermarks that never go back, identical replicas) and liveness after the
 * faults healed. Indeterminate appends may take effect at most once, at any time after their
 * invocation: never read means not lost; read means every rule applies to them.
 */

/** The kinds of anomaly the checker reports. */
export const AnomalyTypes = [
  /** Two different values at one offset (reads, replicas or acknowledgements disagree). */
  'offset-conflict',
  /** One value at two offsets. */
  'duplicate',
  /** A value read that no append of this partition wrote. */
  'unknown-value',
  /** A value read by a fetch that completed before its append was invoked. */
  'read-before-append',
  /** A value read whose append definitely failed. */
  'failed-value-read',
  /** An acknowledged value read at another offset than the one it was acknowledged with. */
  'wrong-offset',
  /** An acknowledged value missing from the final log. */
  'lost',
  /** A fetch whose records do not run contiguously from the offset asked for. */
  'noncontiguous',
  /** An append acknowledged before another was invoked got the higher offset. */
  'realtime-order',
  /** A fetch invoked after an append was acknowledged has a high watermark at or below its offset. */
  'stale-read',
  /** A fetch invoked after another completed reports a lower high watermark. */
  'hw-regression',
  /** A replica's committed log differs from the final log. */
  'replica-divergence',
  /** A serving broker's replica could not be read back after the run (nothing to compare). */
  'replica-unreadable',
  /** After healing: no successful append within the bound, or no complete final read. */
  'liveness',
] as const;

/** One kind of anomaly. */
export type AnomalyType = (typeof AnomalyTypes)[number];

/** One violation, with the history indexes of the events involved. */
export interface Anomaly {
  readonly type: AnomalyType;
  readonly partition: number;
  readonly message: string;
  /** Indexes (`Op.index`) of the events that show it. */
  readonly ops: readonly number[];
}

/** Totals over the whole history. */
export interface Counts {
  /** Appends acknowledged. */
  ok: number;
  /** Appends that definitely failed. */
  failed: number;
  /** Appends whose outcome is unknown (timeouts, resets, COMMIT_TIMEOUT, no completion). */
  indeterminate: number;
  /** Indeterminate appends whose value was read: they took effect. */
  recovered: number;
  /** Acknowledged appends missing from the final log. */
  lost: number;
  /** Values found at more than one offset. */
  duplicated: number;
  /** Offsets holding more than one value, values at unexpected offsets, replicas that differ. */
  inconsistent: number;
  readsOk: number;
  readsFailed: number;
}

/** What the checker found about one partition. */
export interface PartitionSummary {
  readonly partition: number;
  /** Highest high watermark of a final read, or null when there was none. */
  readonly finalHighWatermark: number | null;
  /** Committed offsets per replica found after the run, by broker id. */
  readonly replicaLengths: Readonly<Record<string, number>>;
  readonly appendsOk: number;
}

/** The checker's verdict. */
export interface Verdict {
  /** True when no anomaly was found. */
  readonly valid: boolean;
  readonly counts: Counts;
  readonly anomalyCounts: Readonly<Partial<Record<AnomalyType, number>>>;
  /** The anomalies, at most {@link CheckOptions.maxAnomaliesPerType} of each type. */
  readonly anomalies: readonly Anomaly[];
  readonly partitions: readonly PartitionSummary[];
  /** What the file-corruption faults did (no anomaly by itself: lost appends are). */
  readonly corruption: CorruptionSummary;
}

/** Options of {@link check}. */
export interface CheckOptions {
  /**
   * After the `heal-all` event completes, every partition must acknowledge an append invoked
   * within this many milliseconds (default 20 000).
   */
  readonly livenessBoundMs?: number;
  /** Anomalies kept per type (all are counted; default 50). */
  readonly maxAnomaliesPerType?: number;
}

/** An append with its completion. */
interface AppendRecord {
  readonly value: string;
  readonly partition: number;
  readonly invoke: AppendOp;
  /** Undefined when the history ends before the append completed (indeterminate). */
  readonly done: AppendOp | undefined;
  readonly status: 'ok' | 'fail' | 'info';
}

/** A fetch that answered, with its invocation. */
interface ReadRecord {
  readonly invoke: ReadOp;
  readonly done: ReadOp;
  readonly records: readonly (readonly [number, string])[];
  readonly highWatermark: number;
}

/** Final reads through one broker that failed. */
interface FailedFinals {
  readonly count: number;
  readonly lastError: string;
  /** History index of the last failure. */
  readonly lastIndex: number;
}

/** Where a value was seen: offset and the events that saw it there. */
type Sightings = Map<number, number[]>;

/** Check `history`; see the module notes for the rules. */
export function check(history: readonly Op[], options: CheckOptions = {}): Verdict {
  const livenessBoundMs = options.livenessBoundMs ?? 20_000;
  const maxPerType = options.maxAnomaliesPerType ?? 50;
  const anomalies: Anomaly[] = [];
  const anomalyCounts: Partial<Record<AnomalyType, number>> = {};
  const report = (a: Anomaly) => {
    const n = (anomalyCounts[a.type] ?? 0) + 1;
    anomalyCounts[a.type] = n;
    if (n <= maxPerType) anomalies.push(a);
  };

  const { appends, reads, replicas, unreadableReplicas, failedReads, failedFinals, healEnd } = pair(history);
  const counts: Counts = {
    ok: 0,
    failed: 0,
    indeterminate: 0,
    recovered: 0,
    lost: 0,
    duplicated: 0,
    inconsistent: 0,
    readsOk: reads.length,
    readsFailed: failedReads,
  };
  for (const a of appends.values()) {
    if (a.status === 'ok') counts.ok++;
    else if (a.status === 'fail') counts.failed++;
    else counts.indeterminate++;
  }

  const partitions = new Set<number>();
  for (const a of appends.values()) partitions.add(a.partition);
  for (const r of reads) partitions.add(r.invoke.partition);
  for (const r of replicas) partitions.add(r.partition);
  for (const p of failedFinals.keys()) partitions.add(p);

  const summaries: PartitionSummary[] = [];
  for (const partition of [...partitions].sort((a, b) => a - b)) {
    const pAppends = [...appends.values()].filter((a) => a.partition === partition);
    const pReads = reads.filter((r) => r.invoke.partition === partition);
    const pReplicas = replicas.filter((r) => r.partition === partition);
    const summary = checkPartition(
      partition,
      appends,
      pAppends,
      pReads,
      pReplicas,
      failedFinals.get(partition) ?? new Map(),
      healEnd,
      livenessBoundMs,
      {
        report,
        counts,
      },
    );
    summaries.push(summary);
  }
  // A replica nobody could read is one nobody checked: identical replicas are not shown.
  for (const rep of unreadableReplicas) {
    counts.inconsistent++;
    report({
      type: 'replica-unreadable',
      partition: rep.partition,
      message: `broker ${rep.broker}'s replica could not be read back: ${rep.error ?? 'unknown error'}`,
      ops: [rep.index],
    });
  }

  return {
    valid: Object.keys(anomalyCounts).length === 0,
    counts,
    anomalyCounts,
    anomalies,
    partitions: summaries,
    corruption: summarizeCorruption(history),
  };
}

interface Sink {
  readonly report: (a: Anomaly) => void;
  readonly counts: Counts;
}

function checkPartition(
  partition: number,
  allAppends: ReadonlyMap<string, AppendRecord>,
  appends: readonly AppendRecord[],
  reads: readonly ReadRecord[],
  replicas: readonly ReplicaOp[],
  finalAttempts: ReadonlyMap<number, FailedFinals>,
  healEnd: NemesisOp | undefined,
  livenessBoundMs: number,
  { report, counts }: Sink,
): PartitionSummary {
  // ---- what was seen where: every fetch and every replica log ---------------------------------
  const byOffset = new Map<number, Map<string, number[]>>();
  const byValue = new Map<string, Sightings>();
  const see = (offset: number, value: string, op: number) => {
    push(getOrCreate(byOffset, offset), value, op);
    push(getOrCreate(byValue, value), offset, op);
  };
  for (const r of reads) {
    const asked = r.invoke.offset;
    for (const [offset, value] of r.records) see(offset, value, r.done.index);
    const gap = r.records.findIndex(([offset], i) => offset !== asked + i);
    if (gap >= 0) {
      report({
        type: 'noncontiguous',
        partition,
        message: `fetch from ${asked} returned offset ${r.records[gap]![0]} at position ${gap}`,
        ops: [r.invoke.index, r.done.index],
      });
    }
    const last = r.records[r.records.length - 1];
    if (last !== undefined && last[0] >= r.highWatermark) {
      report({
        type: 'noncontiguous',
        partition,
        message: `fetch returned offset ${last[0]} at or above its high watermark ${r.highWatermark}`,
        ops: [r.invoke.index, r.done.index],
      });
    }
  }
  for (const rep of replicas) for (const [offset, value] of rep.records) see(offset, value, rep.index);

  // ---- one value per offset, one offset per value ---------------------------------------------
  const ackedAt = new Map<number, AppendRecord[]>();
  for (const a of appends) {
    if (a.status !== 'ok' || a.done?.offset === undefined) continue;
    const list = ackedAt.get(a.done.offset) ?? [];
    list.push(a);
    ackedAt.set(a.done.offset, list);
  }
  for (const [offset, values] of byOffset) {
    if (values.size > 1) {
      counts.inconsistent++;
      report({
        type: 'offset-conflict',
        partition,
        message: `offset ${offset} holds ${values.size} values: ${[...values.keys()].slice(0, 5).join(', ')}`,
        ops: [...values.values()].flatMap((ops) => ops.slice(0, 3)),
      });
    }
  }
  for (const [offset, acked] of ackedAt) {
    const values = new Set(acked.map((a) => a.value));
    if (values.size > 1) {
      counts.inconsistent++;
      report({
        type: 'offset-conflict',
        partition,
        message: `offset ${offset} was acknowledged for ${values.size} values: ${[...values].slice(0, 5).join(', ')}`,
        ops: acked.map((a) => a.done!.index),
      });
    }
  }
  for (const [value, offsets] of byValue) {
    if (offsets.size > 1) {
      counts.duplicated++;
      report({
        type: 'duplicate',
        partition,
        message: `value ${value} is at offsets ${[...offsets.keys()].sort((a, b) => a - b).join(', ')}`,
        ops: [...offsets.values()].flatMap((ops) => ops.slice(0, 3)),
      });
    }
  }

  // ---- every value read was appended here, before, and not definitely failed -------------------
  const readTimes = new Map<number, ReadRecord>();
  for (const r of reads) readTimes.set(r.done.index, r);
  for (const [value, offsets] of byValue) {
    const seenBy = [...offsets.values()].flat();
    const append = allAppends.get(value);
    if (append === undefined || append.partition !== partition) {
      report({
        type: 'unknown-value',
        partition,
        message:
          append === undefined
            ? `value ${value} was read but never appended`
            : `value ${value} was appended to partition ${append.partition} but read in ${partition}`,
        ops: seenBy.slice(0, 5),
      });
      continue;
    }
    const early = seenBy.map((i) => readTimes.get(i)).find((r) => r && r.done.time < append.invoke.time);
    if (early !== undefined) {
      report({
        type: 'read-before-append',
        partition,
        message: `value ${value} was read by a fetch that completed before its append was invoked`,
        ops: [early.invoke.index, early.done.index, append.invoke.index],
      });
    }
    if (append.status === 'fail') {
      report({
        type: 'failed-value-read',
        partition,
        message: `value ${value} was read, but its append failed: ${append.done?.error ?? ''}`,
        ops: [append.invoke.index, append.done!.index, ...seenBy.slice(0, 3)],
      });
    }
    if (append.status === 'info') counts.recovered++;
    const acked = append.status === 'ok' ? append.done?.offset : undefined;
    if (acked !== undefined) {
      const elsewhere = [...offsets.keys()].filter((o) => o !== acked);
      if (elsewhere.length > 0) {
        counts.inconsistent++;
        report({
          type: 'wrong-offset',
          partition,
          message: `value ${value} was acknowledged at offset ${acked} but read at ${elsewhere.join(', ')}`,
          ops: [append.done!.index, ...elsewhere.flatMap((o) => offsets.get(o)!.slice(0, 3))],
        });
      }
    }
  }
  for (const [offset, acked] of ackedAt) {
    const values = byOffset.get(offset);
    if (!values) continue;
    for (const a of acked) {
      const others = [...values.keys()].filter((v) => v !== a.value);
      if (others.length > 0) {
        counts.inconsistent++;
        report({
          type: 'wrong-offset',
          partition,
          message: `offset ${offset} was acknowledged for ${a.value} but read as ${others.join(', ')}`,
          ops: [a.done!.index, ...others.flatMap((v) => values.get(v)!.slice(0, 3))],
        });
      }
    }
  }

  // ---- the final log: complete, and holding every acknowledged value ----------------------------
  const finals = reads.filter((r) => r.invoke.final);
  const finalHw = finals.length > 0 ? finals.reduce((m, r) => Math.max(m, r.highWatermark), 0) : null;
  const finalLog = new Map<number, string>();
  for (const r of finals) for (const [offset, value] of r.records) finalLog.set(offset, value);
  if (finalHw === null) {
    report({ type: 'liveness', partition, message: 'no final read succeeded', ops: [] });
  } else {
    // Every broker read through must have served the whole final log.
    const brokers = new Set([...finals.map((r) => r.invoke.broker), ...finalAttempts.keys()]);
    for (const broker of [...brokers].sort((a, b) => a - b)) {
      const mine = finals.filter((r) => r.invoke.broker === broker);
      const covered = new Set(mine.flatMap((r) => r.records.map(([o]) => o)));
      const missing: number[] = [];
      for (let o = 0; o < finalHw && missing.length < 10; o++) if (!covered.has(o)) missing.push(o);
      if (missing.length === 0) continue;
      const failed = finalAttempts.get(broker);
      report({
        type: 'liveness',
        partition,
        message:
          `after healing, the final reads through broker ${broker} did not return offset${missing.length > 1 ? 's' : ''} ` +
          `${missing.join(', ')}${missing.length === 10 ? '…' : ''} below the high watermark ${finalHw}` +
          (failed ? ` (${failed.count} failed reads, the last: ${failed.lastError})` : ''),
        ops: [...mine.map((r) => r.done.index).slice(0, 3), ...(failed ? [failed.lastIndex] : [])],
      });
    }
    for (const a of appends) {
      if (a.status !== 'ok') continue;
      const offset = a.done!.offset!;
      const there = finalLog.get(offset);
      if (there === a.value) continue;
      if (there === undefined && offset < finalHw) continue; // not read: reported as liveness above
      counts.lost++;
      report({
        type: 'lost',
        partition,
        message:
          there === undefined
            ? `acknowledged value ${a.value} at offset ${offset} is beyond the final high watermark ${finalHw}`
            : `acknowledged value ${a.value} at offset ${offset} is not in the final log (it holds ${there})`,
        ops: [a.invoke.index, a.done!.index, ...finals.map((r) => r.done.index).slice(0, 3)],
      });
    }
  }

  // ---- replicas: each committed log agrees with the final log ----------------------------------
  const replicaLengths: Record<string, number> = {};
  for (const rep of replicas) {
    replicaLengths[String(rep.broker)] = rep.records.length;
    if (finalHw === null) continue;
    const differing = rep.records.filter(([o, v]) => finalLog.has(o) && finalLog.get(o) !== v);
    // An indeterminate append may still commit after the final reads (a leader's proposal from
    // before the heal); anything else beyond the final log is not in it.
    const beyond = rep.records.filter(([o, v]) => o >= finalHw && allAppends.get(v)?.status !== 'info');
    if (differing.length > 0 || beyond.length > 0) {
      counts.inconsistent++;
      report({
        type: 'replica-divergence',
        partition,
        message:
          differing.length > 0
            ? `broker ${rep.broker}'s committed log differs at offsets ${differing
                .slice(0, 5)
                .map(([o]) => o)
                .join(', ')}`
            : `broker ${rep.broker} committed offsets up to ${beyond[beyond.length - 1]![0]}, beyond the final high watermark ${finalHw}`,
        ops: [rep.index, ...finals.map((r) => r.done.index).slice(0, 3)],
      });
    }
  }

  // ---- real-time order of appends ---------------------------------------------------------------
  const acked = appends
    .filter((a) => a.status === 'ok')
    .map((a) => ({ a, offset: a.done!.offset!, end: a.done!.time }));
  const placed = appends
    .map((a) => {
      if (a.status === 'ok') return { a, offset: a.done!.offset! };
      if (a.status === 'info') {
        const seen = byValue.get(a.value);
        if (seen && seen.size > 0) return { a, offset: [...seen.keys()].reduce((m, k) => Math.min(m, k)) };
      }
      return undefined;
    })
    .filter((x) => x !== undefined);
  sweep(
    acked,
    (x) => x.end,
    placed,
    (x) => x.a.invoke.time,
    (best, x) => (best === undefined || x.offset > best.offset ? x : best),
    (best, b) => {
      if (best !== undefined && best.a !== b.a && best.offset >= b.offset) {
        report({
          type: 'realtime-order',
          partition,
          message: `${best.a.value} (offset ${best.offset}) was acknowledged before ${b.a.value} was invoked, yet ${b.a.value} has offset ${b.offset}`,
          ops: [
            best.a.invoke.index,
            best.a.done!.index,
            b.a.invoke.index,
            ...(b.a.done ? [b.a.done.index] : []),
          ],
        });
      }
    },
  );

  // ---- no stale reads, high watermarks never go back ---------------------------------------------
  sweep(
    acked,
    (x) => x.end,
    reads,
    (r) => r.invoke.time,
    (best, x) => (best === undefined || x.offset > best.offset ? x : best),
    (best, r) => {
      if (best !== undefined && r.highWatermark <= best.offset) {
        report({
          type: 'stale-read',
          partition,
          message: `a fetch invoked after ${best.a.value} was acknowledged at offset ${best.offset} has high watermark ${r.highWatermark}`,
          ops: [best.a.done!.index, r.invoke.index, r.done.index],
        });
      }
    },
  );
  sweep(
    reads,
    (r) => r.done.time,
    reads,
    (r) => r.invoke.time,
    (best, r) => (best === undefined || r.highWatermark > best.highWatermark ? r : best),
    (best, r) => {
      if (best !== undefined && r.highWatermark < best.highWatermark) {
        report({
          type: 'hw-regression',
          partition,
          message: `high watermark ${r.highWatermark} after a fetch that completed earlier saw ${best.highWatermark}`,
          ops: [best.invoke.index, best.done.index, r.invoke.index, r.done.index],
        });
      }
    },
  );

  // ---- liveness after healing ------------------------------------------------------------------
  if (healEnd !== undefined) {
    const recovered = appends.some(
      (a) =>
        a.status === 'ok' && a.invoke.time >= healEnd.time && a.invoke.time <= healEnd.time + livenessBoundMs,
    );
    if (!recovered) {
      report({
        type: 'liveness',
        partition,
        message: `no append invoked within ${livenessBoundMs} ms after healing was acknowledged`,
        ops: [healEnd.index],
      });
    }
  }

  return {
    partition,
    finalHighWatermark: finalHw,
    replicaLengths,
    appendsOk: acked.length,
  };
}

/**
 * For each `probe` in order of `probeTime`, call `visit` with the best (by `better`) of the
 * `events` whose `eventTime` is strictly before the probe's time.
 */
function sweep<E, P>(
  events: readonly E[],
  eventTime: (e: E) => number,
  probes: readonly P[],
  probeTime: (p: P) => number,
  better: (best: E | undefined, e: E) => E,
  visit: (best: E | undefined, p: P) => void,
): void {
  const es = [...events].sort((a, b) => eventTime(a) - eventTime(b));
  const ps = [...probes].sort((a, b) => probeTime(a) - probeTime(b));
  let best: E | undefined;
  let i = 0;
  for (const p of ps) {
    while (i < es.length && eventTime(es[i]!) < probeTime(p)) best = better(best, es[i++]!);
    visit(best, p);
  }
}

function getOrCreate<K, V, W>(map: Map<K, Map<V, W>>, key: K): Map<V, W> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

function push<K>(map: Map<K, number[]>, key: K, op: number): void {
  const list = map.get(key);
  if (list) {
    if (list[list.length - 1] !== op) list.push(op);
  } else map.set(key, [op]);
}

/** Pair invocations with completions, per process. */
function pair(history: readonly Op[]) {
  const appends = new Map<string, AppendRecord>();
  const reads: ReadRecord[] = [];
  const replicas: ReplicaOp[] = [];
  const unreadableReplicas: ReplicaOp[] = [];
  let failedReads = 0;
  /** Failed final reads by partition, then broker. */
  const failedFinals = new Map<number, Map<number, FailedFinals>>();
  let healEnd: NemesisOp | undefined;
  const pending = new Map<number, AppendOp | ReadOp>();
  const completed = (type: OpType) => type !== 'invoke';

  for (const op of history) {
    switch (op.f) {
      case 'replica-log':
        // 'info': the replica of a broker taken out of service (a refused start), unreadable by design.
        if (op.type === 'ok') replicas.push(op);
        else if (op.type === 'fail') unreadableReplicas.push(op);
        break;
      case 'heal-all':
        if (completed(op.type)) healEnd = op;
        break;
      case 'fault':
        break;
      case 'append':
      case 'read': {
        if (op.type === 'invoke') {
          pending.set(op.process, op);
          if (op.f === 'append') {
            appends.set(op.value, {
              value: op.value,
              partition: op.partition,
              invoke: op,
              done: undefined,
              status: 'info',
            });
          }
          break;
        }
        const invoke = pending.get(op.process);
        pending.delete(op.process);
        if (invoke === undefined || invoke.f !== op.f) break;
        if (invoke.f === 'append' && op.f === 'append') {
          const status = op.type === 'ok' ? 'ok' : op.type === 'fail' ? 'fail' : 'info';
          appends.set(invoke.value, {
            value: invoke.value,
            partition: invoke.partition,
            invoke,
            done: op,
            status,
          });
        } else if (invoke.f === 'read' && op.f === 'read') {
          if (op.type === 'ok' && op.highWatermark !== undefined) {
            reads.push({ invoke, done: op, records: op.records ?? [], highWatermark: op.highWatermark });
          } else {
            failedReads++;
            if (invoke.final) {
              let byBroker = failedFinals.get(invoke.partition);
              if (!byBroker) {
                byBroker = new Map();
                failedFinals.set(invoke.partition, byBroker);
              }
              const f = byBroker.get(invoke.broker) ?? { count: 0, lastError: '', lastIndex: op.index };
              byBroker.set(invoke.broker, {
                count: f.count + 1,
                lastError: op.error ?? op.type,
                lastIndex: op.index,
              });
            }
          }
        }
        break;
      }
    }
  }
  return { appends, reads, replicas, unreadableReplicas, failedReads, failedFinals, healEnd };
}
