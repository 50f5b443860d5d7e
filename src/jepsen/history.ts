import { readFile } from 'node:fs/promises';

/**
 * The history of a run, Jepsen style: every client operation is an `invoke` followed by exactly
 * one completion by the same process: `ok` (it happened), `fail` (it definitely did not happen)
 * or `info` (indeterminate: it may have happened, once, at any time after its invocation). Each
 * process runs one operation at a time, so an invocation pairs with the next completion of its
 * process. Faults are recorded by the `nemesis` process. Times are milliseconds since the run
 * began (monotonic clock). Written one JSON object per line (`history.jsonl`).
 */

/** How an operation event reads. */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** The process number of the nemesis (client processes are 0, 1, 2, ...). */
export const NEMESIS_PROCESS = -1;

/** Fields every event has. */
export interface OpBase {
  /** Position in the history (0, 1, 2, ...); anomalies cite events by it. */
  readonly index: number;
  readonly type: OpType;
  readonly process: number;
  /** Milliseconds since the run began. */
  readonly time: number;
}

/** Append one record holding `value` (unique in the whole run) to `partition`. */
export interface AppendOp extends OpBase {
  readonly f: 'append';
  readonly partition: number;
  readonly value: string;
  /** The broker the request was sent to (it may have forwarded it). */
  readonly broker: number;
  /** Sent with the idempotent producer (`producer` tag); retries then reuse the same sequence. */
  readonly idempotent?: boolean;
  /** On `ok`: the acknowledged offset. */
  readonly offset?: number;
  /** On `ok`: the broker answered `duplicate: true` (a retry found the first write). */
  readonly duplicate?: boolean;
  /** Requests sent for this append (more than one only for idempotent retries). */
  readonly attempts?: number;
  /** On `fail` / `info`: what went wrong. */
  readonly error?: string;
}

/** Fetch from `offset` of `partition` through `broker`. */
export interface ReadOp extends OpBase {
  readonly f: 'read';
  readonly partition: number;
  readonly broker: number;
  /** The offset asked for. */
  readonly offset: number;
  /** A read of the final phase, after every fault healed. */
  readonly final?: boolean;
  /** On `ok`: `[offset, value]` pairs as returned. */
  readonly records?: readonly (readonly [number, string])[];
  /** On `ok`: the high watermark in the answer. */
  readonly highWatermark?: number;
  readonly error?: string;
}

/**
 * What a file-corruption fault did to one broker and how the broker took it, recorded as the
 * fault goes (an `info` event each time something is learnt).
 */
export interface CorruptionNote {
  readonly broker: number;
  readonly kind: 'bitflip' | 'truncate' | 'rollback';
  /** The damage, e.g. `000012.log: flipped bit 9310` or `rolled back to its copy of 12.3 s`. */
  readonly damage: string;
  /**
   * `refused`: it would not start on the damaged files (exited, with `error`); `storage-failed`:
   * it started, then stopped serving on finding the damage (fail-stop); `started`: it runs on
   * them, nothing detected; `not-ready`: it runs but was not ready in time.
   */
  readonly outcome: 'refused' | 'storage-failed' | 'started' | 'not-ready';
  readonly error?: string;
  /** Set when the harness repaired the broker: what it did. */
  readonly repair?: string;
}

/** A fault starting (`invoke`) or healed (`ok`/`info`), or the final heal of everything. */
export interface NemesisOp extends OpBase {
  readonly f: 'fault' | 'heal-all';
  /** What the fault is, e.g. `kill 2`, `isolate 1`, `pause leader of p0 (3)`. */
  readonly value: string;
  /** Pairs the start and the end of one fault. */
  readonly fault?: number;
  /** On `info` events of file-corruption faults. */
  readonly corruption?: CorruptionNote;
}

/**
 * The committed log of one replica as found in its data directory after the run: `[offset,
 * value]` pairs from offset 0 (or its log start) up to its commit index (`ok`), or why it could
 * not be read (`fail`: a damaged store or group).
 */
export interface ReplicaOp extends OpBase {
  readonly f: 'replica-log';
  readonly partition: number;
  readonly broker: number;
  readonly records: readonly (readonly [number, string])[];
  readonly error?: string;
}

/** One event of a history. */
export type Op = AppendOp | ReadOp | NemesisOp | ReplicaOp;

/** A history as one JSON object per line. */
export function historyToJsonl(history: readonly Op[]): string {
  return history.map((op) => JSON.stringify(op)).join('\n') + (history.length > 0 ? '\n' : '');
}

/** Parse `history.jsonl` text. */
export function parseHistory(text: string): Op[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Op);
}

/** Read a `history.jsonl` file. */
export async function readHistory(file: string): Promise<Op[]> {
  return parseHistory(await readFile(file, 'utf8'));
}

/** Appends events with their index and time; the recorder of one run. */
export class HistoryRecorder {
  readonly ops: Op[] = [];
  readonly #start: number;

  constructor(start = performance.now()) {
    this.#start = start;
  }

  /** Milliseconds since the run began. */
  now(): number {
    return Math.round((performance.now() - this.#start) * 1000) / 1000;
  }

  /** Record `op` now; returns it with its index and time. */
  record<T extends Op>(op: DistributiveOmit<T, 'index' | 'time'>): T {
    const full = { index: this.ops.length, time: this.now(), ...op } as unknown as T;
    this.ops.push(full);
    return full;
  }
}

/** `Omit` applied to each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
