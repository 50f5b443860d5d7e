import type { Dispatcher } from 'undici';
import type { AppendOp, HistoryRecorder, ReadOp } from './history.js';
import { call, describeError, type HttpAnswer } from './http.js';
import type { LeaderView } from './leader-view.js';
import type { Rng } from './rng.js';

/**
 * The clients of a run. Writers append unique values (`<process>-<n>`, never reused) to random
 * partitions through random brokers; a writer whose append ended indeterminate is retired and a
 * new process (a new producer id) takes its place. Some writers use the idempotent producer and
 * retry an indeterminate append with the same sequence (so one logical append, one value, may
 * take several requests). Readers fetch by offset from every broker. Everything is recorded.
 */

/** Options of {@link Workload}. */
export interface WorkloadOptions {
  /** The brokers clients may use: a live view, read at every request (brokers join and leave). */
  readonly urls: ReadonlyMap<number, string>;
  readonly topic: string;
  readonly partitions: number;
  readonly writers: number;
  readonly readers: number;
  /** Share of writer processes that use the idempotent producer (0..1). */
  readonly idempotentShare: number;
  /** Client-side limit of one request (default 4000 ms). */
  readonly requestTimeoutMs?: number;
  /** Requests per idempotent append at most (default 3). */
  readonly maxAttempts?: number;
  readonly dispatcher: Dispatcher;
  readonly recorder: HistoryRecorder;
  readonly leaders: LeaderView;
  readonly rng: Rng;
  /** A distinct string per run, part of producer ids. */
  readonly runTag: string;
}

/** The broker-internal header marking a forwarded request: a request carrying it is never forwarded. */
const NO_FORWARD_HEADER = 'x-raftlog-forwarded';

/** What one request's answer means for the append. */
type Outcome =
  | { readonly kind: 'ok'; readonly offset: number; readonly duplicate: boolean }
  | { readonly kind: 'fail' | 'info'; readonly error: string };

/**
 * Classify an answer. Only answers that guarantee nothing was written are definite failures:
 * validation errors, NO_LEADER (refused before proposing, also when relayed from the leader), and
 * NOT_LEADER for a request the broker could not forward (`direct`), and a refused connection
 * (see the caller). A forwarded request's
 * NOT_LEADER may hide a forward that timed out after the leader took the write, so it, 50401
 * COMMIT_TIMEOUT, any other 5xx, resets and timeouts are indeterminate.
 */
export function classifyAppend(res: HttpAnswer, direct: boolean): Outcome {
  const body = res.body ?? {};
  if (res.status === 200 && Number.isSafeInteger(body.base_offset)) {
    return { kind: 'ok', offset: body.base_offset, duplicate: body.duplicate === true };
  }
  const code = typeof body.code === 'string' ? body.code : `HTTP ${res.status}`;
  const error = errorText(res);
  if (res.status >= 400 && res.status < 500 && res.status !== 408) return { kind: 'fail', error };
  if (code === 'NO_LEADER') return { kind: 'fail', error };
  if (code === 'NOT_LEADER' && direct) return { kind: 'fail', error };
  return { kind: 'info', error };
}

/** The clients of one run; see the module notes. */
export class Workload {
  #stopped = false;
  #nextProcess = 0;
  #nextReader = 1_000_000;
  readonly #running: Promise<void>[] = [];
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;

  constructor(private readonly o: WorkloadOptions) {
    this.#timeoutMs = o.requestTimeoutMs ?? 4000;
    this.#maxAttempts = o.maxAttempts ?? 3;
  }

  /** Start every writer and reader slot. */
  start(): void {
    for (let i = 0; i < this.o.writers; i++) this.#running.push(this.#writerSlot(this.o.rng.fork()));
    for (let i = 0; i < this.o.readers; i++) this.#running.push(this.#readerSlot(this.o.rng.fork()));
  }

  /** Stop issuing operations and wait for those in flight (each bounded by its timeout). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
  }

  /** Successive writer processes in one slot: a retired process is replaced by a new one. */
  async #writerSlot(rng: Rng): Promise<void> {
    while (!this.#stopped) {
      const process = this.#nextProcess++;
      const idempotent = rng.next() < this.o.idempotentShare;
      const producerId = `${this.o.runTag}-${process}`;
      const sequences = new Map<number, number>();
      let n = 0;
      while (!this.#stopped) {
        const partition = rng.int(this.o.partitions);
        const value = `${process}-${n++}`;
        const sequence = sequences.get(partition) ?? 0;
        const producer = idempotent ? { id: producerId, epoch: 0, sequence } : undefined;
        const done = await this.#append(rng, process, partition, value, producer);
        if (done.type === 'ok') sequences.set(partition, sequence + 1);
        if (done.type === 'info') break; // retired: a new process takes the slot
      }
    }
  }

  /** One logical append: one request, or up to `maxAttempts` for the idempotent producer. */
  async #append(
    rng: Rng,
    process: number,
    partition: number,
    value: string,
    producer: { id: string; epoch: number; sequence: number } | undefined,
  ): Promise<AppendOp> {
    const { recorder, topic } = this.o;
    const base = {
      f: 'append' as const,
      process,
      partition,
      value,
      ...(producer ? { idempotent: true } : {}),
    };
    let broker = this.#pickBroker(rng, partition);
    recorder.record<AppendOp>({ ...base, type: 'invoke', broker: broker.id });
    let sawIndeterminate = false;
    let last: Outcome = { kind: 'info', error: 'not sent' };
    let attempts = 0;
    while (attempts < (producer ? this.#maxAttempts : 1)) {
      if (attempts > 0) broker = this.#pickBroker(rng, partition);
      attempts++;
      try {
        const res = await call(
          this.o.dispatcher,
          `${this.o.urls.get(broker.id)}/v1/topics/${topic}/partitions/${partition}/records`,
          {
            method: 'POST',
            json: { records: [{ value }], ...(producer ? { producer } : {}) },
            ...(broker.direct ? { headers: { [NO_FORWARD_HEADER]: 'jepsen-client' } } : {}),
            timeoutMs: this.#timeoutMs,
          },
        );
        last = classifyAppend(res, broker.direct);
      } catch (err) {
        // A refused connection never carried the request; anything else may have.
        const error = describeError(err);
        last = { kind: error === 'ECONNREFUSED' ? 'fail' : 'info', error };
      }
      if (last.kind === 'ok') break;
      if (last.kind === 'info') sawIndeterminate = true;
      // A definite failure needs no retry: nothing was written by this request.
      if (last.kind === 'fail' && !sawIndeterminate) break;
      if (this.#stopped) break;
      await sleep(100 + rng.int(200));
    }
    if (last.kind === 'ok') {
      return recorder.record<AppendOp>({
        ...base,
        type: 'ok',
        broker: broker.id,
        offset: last.offset,
        ...(last.duplicate ? { duplicate: true } : {}),
        ...(attempts > 1 ? { attempts } : {}),
      });
    }
    // A definite failure after an indeterminate attempt does not make the append definite.
    const type = last.kind === 'fail' && !sawIndeterminate ? 'fail' : 'info';
    return recorder.record<AppendOp>({
      ...base,
      type,
      broker: broker.id,
      error: last.error,
      ...(attempts > 1 ? { attempts } : {}),
    });
  }

  /**
   * Half of the requests go to the believed leader (when clients may use it) and may not be
   * forwarded; the rest anywhere.
   */
  #pickBroker(rng: Rng, partition: number): { id: number; direct: boolean } {
    const leader = this.o.leaders.leader(partition);
    if (leader !== undefined && this.o.urls.has(leader) && rng.next() < 0.5)
      return { id: leader, direct: true };
    return { id: rng.pick([...this.o.urls.keys()]), direct: false };
  }

  /** A reader process: fetches from its next offset per partition, sometimes from an earlier one. */
  async #readerSlot(rng: Rng): Promise<void> {
    const process = this.#nextReader++;
    const next = new Map<number, number>();
    while (!this.#stopped) {
      const partition = rng.int(this.o.partitions);
      const known = next.get(partition) ?? 0;
      const offset = rng.next() < 0.2 ? rng.int(known + 1) : known;
      const broker = rng.pick([...this.o.urls.keys()]);
      const longPoll = rng.next() < 0.3 ? 300 : 0;
      const res = await readOnce(this.o, process, partition, broker, offset, {
        maxRecords: 500,
        longPollMs: longPoll,
        timeoutMs: this.#timeoutMs + longPoll,
        final: false,
      });
      if (res.type === 'ok' && res.records && res.records.length > 0) {
        next.set(partition, Math.max(known, res.records[res.records.length - 1]![0] + 1));
      }
      if (res.type !== 'ok') await sleep(50);
    }
  }
}

/** `503 NOT_LEADER (leader 2)`: status, code and the leader an error names, for the history. */
function errorText(res: HttpAnswer): string {
  const body = res.body ?? {};
  const code = typeof body.code === 'string' ? body.code : 'no error body';
  const leader = Number.isSafeInteger(body.leader_id) ? ` (leader ${body.leader_id})` : '';
  return `${res.status} ${code}${leader}`;
}

/** Options of one fetch. */
export interface ReadOptions {
  readonly maxRecords: number;
  readonly longPollMs: number;
  readonly timeoutMs: number;
  readonly final: boolean;
}

/**
 * One recorded fetch. OFFSET_OUT_OF_RANGE is an answer too: it reports the high watermark, so it
 * is recorded `ok` with no records (and the error code).
 */
export async function readOnce(
  o: Pick<WorkloadOptions, 'urls' | 'topic' | 'dispatcher' | 'recorder'>,
  process: number,
  partition: number,
  broker: number,
  offset: number,
  opts: ReadOptions,
): Promise<ReadOp> {
  const base = {
    f: 'read' as const,
    process,
    partition,
    broker,
    offset,
    ...(opts.final ? { final: true } : {}),
  };
  o.recorder.record<ReadOp>({ ...base, type: 'invoke' });
  try {
    const res = await call(
      o.dispatcher,
      `${o.urls.get(broker)}/v1/topics/${o.topic}/partitions/${partition}/records?offset=${offset}&max_records=${opts.maxRecords}&timeout_ms=${opts.longPollMs}`,
      { timeoutMs: opts.timeoutMs },
    );
    const body = res.body ?? {};
    if (res.status === 200 && Array.isArray(body.records) && Number.isSafeInteger(body.high_watermark)) {
      const records = (body.records as { offset: number; value: string }[]).map(
        (r) => [r.offset, r.value] as const,
      );
      return o.recorder.record<ReadOp>({ ...base, type: 'ok', records, highWatermark: body.high_watermark });
    }
    if (body.code === 'OFFSET_OUT_OF_RANGE' && Number.isSafeInteger(body.high_watermark)) {
      return o.recorder.record<ReadOp>({
        ...base,
        type: 'ok',
        records: [],
        highWatermark: body.high_watermark,
        error: 'OFFSET_OUT_OF_RANGE',
      });
    }
    return o.recorder.record<ReadOp>({ ...base, type: 'fail', error: errorText(res) });
  } catch (err) {
    return o.recorder.record<ReadOp>({ ...base, type: 'info', error: describeError(err) });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
