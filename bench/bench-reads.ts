/**
 * The read side of `npm run bench`, driven from the harness process over raw HTTP (undici):
 * prefill a partition, read it from offset 0 (catch-up), long-poll its tail (tailing consumers),
 * and time records from produce to a long-polling consumer (end-to-end latency). Every loop is
 * bounded by a deadline.
 */
import { asciiValue, CpuSnapshot, call, latencySummary, MSGPACK, pool, sleep } from './bench-common.js';

const recordsPath = (topic: string, partition: number) =>
  `/v1/topics/${topic}/partitions/${partition}/records`;

/** Write about `mb` MB of `size`-byte records, `batch` per request, `inFlight` requests at a time. */
export async function prefill(
  url: string,
  topic: string,
  mb: number,
  opts: { size?: number; batch?: number; inFlight?: number; deadlineMs?: number } = {},
): Promise<{ records: number; seconds: number; errors: number }> {
  const size = opts.size ?? 1024;
  const batch = opts.batch ?? 100;
  const inFlight = opts.inFlight ?? 8;
  const total = Math.ceil((mb * 1e6) / size);
  const body = { records: Array.from({ length: batch }, () => ({ value: asciiValue(size) })) };
  const p = pool(url, inFlight);
  const t0 = performance.now();
  const deadline = Date.now() + (opts.deadlineMs ?? 600_000);
  let sent = 0;
  let acked = 0;
  let errors = 0;
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (sent < total && Date.now() < deadline && errors < 100) {
          sent += batch;
          const r = await call(p, 'POST', recordsPath(topic, 0), { body }).catch(() => ({ status: 0 }));
          if (r.status === 200) acked += batch;
          else {
            sent -= batch;
            errors++;
            await sleep(50);
          }
        }
      }),
    );
  } finally {
    await p.close();
  }
  if (acked < total) throw new Error(`prefill wrote ${acked} of ${total} records (${errors} errors)`);
  return { records: acked, seconds: (performance.now() - t0) / 1000, errors };
}

/**
 * Read a partition from offset 0 to `endOffset` with one sequential reader, `maxBytes` per fetch,
 * in JSON (values as UTF-8 strings) or msgpack (values as raw bytes). MB/s counts value bytes.
 */
export async function catchUp(
  url: string,
  topic: string,
  endOffset: number,
  format: 'json' | 'msgpack',
  pids: ReadonlyMap<string, number>,
  opts: { maxBytes?: number; deadlineMs?: number } = {},
) {
  const maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
  const p = pool(url, 1);
  const lat: number[] = [];
  let offset = 0;
  let valueBytes = 0;
  let wireBytes = 0;
  let errors = 0;
  let lastError: string | null = null;
  const deadline = Date.now() + (opts.deadlineMs ?? 300_000);
  const s0 = CpuSnapshot.take(pids);
  try {
    while (offset < endOffset && Date.now() < deadline && errors < 20) {
      const a = performance.now();
      const q = `offset=${offset}&max_records=100000&max_bytes=${maxBytes}`;
      const r = await call(p, 'GET', `${recordsPath(topic, 0)}?${q}`, {
        ...(format === 'msgpack' ? { accept: MSGPACK } : {}),
      }).catch((e) => ({ status: 0, body: { error: String(e) }, bytes: 0 }));
      if (r.status !== 200) {
        errors++;
        lastError = JSON.stringify(r.body).slice(0, 300);
        await sleep(50);
        continue;
      }
      lat.push(performance.now() - a);
      wireBytes += r.bytes;
      for (const rec of r.body.records as { value: string | Uint8Array }[]) valueBytes += rec.value.length;
      offset = r.body.next_offset;
    }
  } finally {
    await p.close();
  }
  const cpu = CpuSnapshot.take(pids).since(s0);
  const seconds = (performance.now() - s0.t) / 1000;
  return {
    records_s: Math.round(offset / seconds),
    mb_s: +(valueBytes / 1e6 / seconds).toFixed(2),
    wire_mb_s: +(wireBytes / 1e6 / seconds).toFixed(2),
    records_read: offset,
    value_mb: +(valueBytes / 1e6).toFixed(1),
    seconds: +seconds.toFixed(2),
    fetches: lat.length,
    max_bytes: maxBytes,
    ...latencySummary(lat),
    errors,
    last_error: lastError,
    cpu_pct: cpu,
  };
}

export interface Tailers {
  /** Stop the consumers; resolves with what they read. */
  stop(): Promise<{ records: number; fetches: number; errors: number; last_error: string | null }>;
}

/**
 * `n` consumers long-polling the tail of a partition (msgpack, as the TypeScript client does):
 * each starts at the high watermark and fetches from its next offset with `timeout_ms`.
 * Bounded by `deadlineMs` even if never stopped.
 */
export async function startTailers(
  url: string,
  topic: string,
  n: number,
  opts: { timeoutMs?: number; deadlineMs?: number; minRecords?: number } = {},
): Promise<Tailers> {
  const p = pool(url, n);
  const timeoutMs = opts.timeoutMs ?? 1000;
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  let stopped = false;
  let records = 0;
  let fetches = 0;
  let errors = 0;
  let lastError: string | null = null;
  const head = await call(p, 'GET', `${recordsPath(topic, 0)}?offset=0&max_records=1`, { accept: MSGPACK });
  const start: number = head.body.high_watermark;
  const loops = Array.from({ length: n }, async () => {
    let offset = start;
    while (!stopped && Date.now() < deadline) {
      const min = opts.minRecords === undefined ? '' : `&min_records=${opts.minRecords}`;
      const q = `offset=${offset}&max_records=5000&max_bytes=${4 * 1024 * 1024}&timeout_ms=${timeoutMs}${min}`;
      const r = await call(p, 'GET', `${recordsPath(topic, 0)}?${q}`, {
        accept: MSGPACK,
        timeoutMs: timeoutMs + 10_000,
      }).catch((e) => ({ status: 0, body: { error: String(e) }, bytes: 0 }));
      fetches++;
      if (r.status !== 200) {
        errors++;
        lastError = JSON.stringify(r.body).slice(0, 300);
        await sleep(50);
        continue;
      }
      records += r.body.records.length;
      offset = r.body.next_offset;
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      await p.close();
      return { records, fetches, errors, last_error: lastError };
    },
  };
}

/**
 * End-to-end latency: a producer writes `rate` records/s (1 per request, `size` bytes, open loop,
 * at most 64 requests in flight) for `seconds`; one consumer long-polls the partition from where
 * the producer starts. Latency = time the consumer has the record − time the produce was sent.
 */
export async function endToEnd(
  url: string,
  topic: string,
  pids: ReadonlyMap<string, number>,
  opts: { rate: number; seconds: number; warmup: number; size?: number },
) {
  const size = opts.size ?? 100;
  const prod = pool(url, 64);
  const cons = pool(url, 1);
  const sentAt = new Map<number, number>();
  const e2e: number[] = [];
  const produceLat: number[] = [];
  let errors = 0;
  let lastError: string | null = null;
  let produced = 0;
  let consumed = 0;
  const head = await call(cons, 'GET', `${recordsPath(topic, 0)}?offset=0&max_records=1`, {
    accept: MSGPACK,
  });
  let offset: number = head.body.high_watermark;
  const t0 = performance.now();
  const winStart = t0 + opts.warmup * 1000;
  const end = winStart + opts.seconds * 1000;
  let s0: CpuSnapshot | undefined;
  let producing = true;
  const consumer = (async () => {
    // Runs until everything produced is seen, or 5 s after the producer stops.
    while (producing || (consumed < produced && performance.now() < end + 5000)) {
      const q = `offset=${offset}&max_records=5000&timeout_ms=500`;
      const r = await call(cons, 'GET', `${recordsPath(topic, 0)}?${q}`, { timeoutMs: 15_000 }).catch(
        (e) => ({
          status: 0,
          body: { error: String(e) },
          bytes: 0,
        }),
      );
      const now = performance.now();
      if (r.status !== 200) {
        errors++;
        lastError = JSON.stringify(r.body).slice(0, 300);
        await sleep(20);
        continue;
      }
      for (const rec of r.body.records as { value: string }[]) {
        if (!rec.value.startsWith('e2e:')) continue; // another producer's record
        const seq = Number(rec.value.slice(4, rec.value.indexOf(':', 4)));
        const sent = sentAt.get(seq);
        consumed++;
        if (sent !== undefined && sent >= winStart && sent < end) e2e.push(now - sent);
        sentAt.delete(seq);
      }
      offset = r.body.next_offset;
    }
  })();
  const inFlight = new Set<Promise<void>>();
  const interval = 1000 / opts.rate;
  let seq = 0;
  for (let next = t0; next < end; next += interval) {
    const wait = next - performance.now();
    if (wait > 1) await sleep(wait);
    if (!s0 && performance.now() >= winStart) s0 = CpuSnapshot.take(pids);
    if (inFlight.size >= 64) await Promise.race(inFlight);
    const n = seq++;
    const value = asciiValue(size, `e2e:${n}:`);
    const a = performance.now();
    sentAt.set(n, a);
    const req = call(prod, 'POST', recordsPath(topic, 0), { body: { records: [{ value }] } })
      .then((r) => {
        if (r.status !== 200) throw new Error(`${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        produced++;
        if (a >= winStart) produceLat.push(performance.now() - a);
      })
      .catch((e) => {
        errors++;
        lastError = String(e).slice(0, 300);
        sentAt.delete(n);
      })
      .finally(() => inFlight.delete(req));
    inFlight.add(req);
  }
  await Promise.all(inFlight);
  const cpu = CpuSnapshot.take(pids).since(s0 ?? CpuSnapshot.take(pids));
  producing = false;
  await consumer;
  await Promise.all([prod.close(), cons.close()]);
  const e2eSummary = latencySummary(e2e);
  const prodSummary = latencySummary(produceLat);
  return {
    records_s: Math.round(e2e.length / opts.seconds),
    mb_s: +((e2e.length * size) / 1e6 / opts.seconds).toFixed(3),
    ...e2eSummary,
    rate: opts.rate,
    produced,
    consumed,
    produce_p50_ms: prodSummary.p50_ms,
    produce_p99_ms: prodSummary.p99_ms,
    errors,
    last_error: lastError,
    cpu_pct: cpu,
  };
}
