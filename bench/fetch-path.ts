/**
 * The CPU of catch-up fetches on the broker's side (issue 7): one single-node broker in this
 * process (a LevelDB store in a fresh temp dir, the real HTTP server on 127.0.0.1), a partition
 * prefilled with 1 KiB records (100 per entry) and compacted, then read from offset 0 to its end `--passes`
 * times per format by one sequential reader in a child process, `--max-bytes` per fetch. The
 * reader only finds `next_offset` in each answer (searching from its end), decoding nothing else.
 * CPU is this process's per MB of values: all threads (the broker, LevelDB's reads, the socket
 * writes), and of those the main thread's (the event loop).
 *
 *   node dist/bench/fetch-path.js [--mb 256] [--passes 3] [--formats msgpack,json] [--max-bytes 8388608]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/fetch-path.js ...   # where it goes
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Level } from 'level';
import { Pool } from 'undici';
import { Broker } from '../src/broker/broker.js';
import { createHttpServer } from '../src/http/server.js';
import { LevelLogStore } from '../src/storage/level-log-store.js';
import { asciiValue, cpuTicks } from './bench-common.js';

type Format = 'msgpack' | 'json';
/** What the parent asks of the reader, and what it answers. */
type Pass = { url: string; format: Format; end: number; maxBytes: number };
type PassResult = { seconds: number; wire: number; fetches: number; cpuSeconds: number };

const RECORD = 1024;
const PER_ENTRY = 100;

/** CPU seconds of this process's main thread (the event loop) so far. */
function mainThreadSeconds(): number {
  const f = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** `next_offset` of an answer, found from the end of its body (the last of the top-level fields). */
function nextOffset(body: Buffer, format: Format): number {
  if (format === 'json') {
    const at = body.lastIndexOf('"next_offset":');
    return Number.parseInt(body.subarray(at + 14, at + 40).toString('latin1'), 10);
  }
  const key = Buffer.from([0xab, ...Buffer.from('next_offset')]);
  const at = body.lastIndexOf(key) + key.length;
  const tag = body[at]!;
  if (tag < 0x80) return tag;
  if (tag === 0xcc) return body.readUInt8(at + 1);
  if (tag === 0xcd) return body.readUInt16BE(at + 1);
  if (tag === 0xce) return body.readUInt32BE(at + 1);
  if (tag === 0xcb) return body.readDoubleBE(at + 1);
  throw new Error(`next_offset: unexpected msgpack tag ${tag}`);
}

/** The reader (child process): one pass over the partition per message. */
async function reader(): Promise<void> {
  process.on('message', async ({ url, format, end, maxBytes }: Pass) => {
    const pool = new Pool(url, { connections: 1, pipelining: 1 });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let offset = 0;
    let wire = 0;
    let fetches = 0;
    while (offset < end) {
      const res = await pool.request({
        method: 'GET',
        path: `/v1/topics/catchup/partitions/0/records?offset=${offset}&max_records=100000&max_bytes=${maxBytes}`,
        headers: format === 'msgpack' ? { accept: 'application/vnd.msgpack' } : {},
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200) throw new Error(`${res.statusCode}: ${body.toString().slice(0, 300)}`);
      wire += body.length;
      fetches++;
      offset = nextOffset(body, format);
    }
    const cpu = process.cpuUsage(cpu0);
    await pool.close();
    const result: PassResult = {
      seconds: (performance.now() - t0) / 1000,
      wire,
      fetches,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
    process.send!(result);
  });
}

/**
 * Prefills `dir` with `mb` MB of records in `PER_ENTRY`-record entries, then compacts the whole
 * database, so that reads meet LevelDB's settled shape (reading freshly written tables makes it
 * compact them, which would share the first passes); returns the records' end offset.
 */
async function prefill(dir: string, mb: number): Promise<number> {
  const store = await LevelLogStore.open(dir);
  const broker = new Broker({ id: 1, store });
  const entries = Math.ceil((mb * 1e6) / RECORD / PER_ENTRY);
  try {
    await broker.whenReady(10_000);
    await broker.createTopic({ name: 'catchup', partitions: 1, replicationFactor: 1 });
    const value = Buffer.from(asciiValue(RECORD));
    const records = Array.from({ length: PER_ENTRY }, () => ({ value }));
    for (let sent = 0; sent < entries; ) {
      const n = Math.min(16, entries - sent);
      await Promise.all(Array.from({ length: n }, () => broker.produce('catchup', 0, records)));
      sent += n;
    }
  } finally {
    await broker.close();
  }
  const db = new Level<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    // classic-level's own method, which the types of `level` leave out.
    const classic = db as unknown as { compactRange(start: Buffer, end: Buffer): Promise<void> };
    await classic.compactRange(Buffer.alloc(0), Buffer.alloc(64, 0xff));
  } finally {
    await db.close();
  }
  return entries * PER_ENTRY;
}

async function main(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      mb: { type: 'string', default: '256' },
      passes: { type: 'string', default: '3' },
      formats: { type: 'string', default: 'msgpack,json' },
      'max-bytes': { type: 'string', default: String(8 * 1024 * 1024) },
    },
    strict: true,
  });
  const dir = await mkdtemp(join(tmpdir(), 'raftlog-fetch-path-'));
  const child = fork(fileURLToPath(import.meta.url), ['--reader'], { stdio: 'inherit' });
  try {
    const end = await prefill(dir, Number(opt.mb));
    const valueMb = (end * RECORD) / 1e6;
    const broker = new Broker({ id: 1, store: await LevelLogStore.open(dir) });
    const http = createHttpServer({ broker });
    try {
      await broker.whenReady(10_000);
      const { url } = await http.listen('127.0.0.1', 0);
      for (const format of opt.formats.split(',').filter(Boolean) as Format[]) {
        for (let pass = 1; pass <= Number(opt.passes); pass++) {
          const load = loadavg()[0]!;
          const ticks0 = cpuTicks(process.pid)!;
          const main0 = mainThreadSeconds();
          const pass0: Pass = { url, format, end, maxBytes: Number(opt['max-bytes']) };
          child.send(pass0);
          const [r] = (await once(child, 'message')) as [PassResult];
          const brokerCpu = (cpuTicks(process.pid)! - ticks0) / 100;
          const mainCpu = mainThreadSeconds() - main0;
          console.log(
            JSON.stringify({
              format,
              pass,
              mb: +valueMb.toFixed(0),
              mb_s: +(valueMb / r.seconds).toFixed(1),
              wire_mb_s: +(r.wire / 1e6 / r.seconds).toFixed(1),
              broker_cpu_ms_per_mb: +((1000 * brokerCpu) / valueMb).toFixed(2),
              main_thread_ms_per_mb: +((1000 * mainCpu) / valueMb).toFixed(2),
              broker_cpu_pct: Math.round((100 * brokerCpu) / r.seconds),
              reader_cpu_pct: Math.round((100 * r.cpuSeconds) / r.seconds),
              ms_per_fetch: +((1000 * r.seconds) / r.fetches).toFixed(1),
              fetches: r.fetches,
              load_avg_1m: +load.toFixed(2),
            }),
          );
        }
      }
    } finally {
      await http.close();
      await broker.close();
    }
  } finally {
    child.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--reader')) await reader();
else await main();
