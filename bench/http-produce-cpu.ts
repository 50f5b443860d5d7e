/**
 * CPU of the HTTP layer alone per produce request, build against build: each build's server
 * (`http-produce-server.ts`: the real HTTP server over a broker that answers at once) takes the
 * shared loadgen's produce load, every build's server and loadgen at the same time, round after
 * round, so that a busy machine weighs on all of them alike. Prints the server's CPU µs per
 * request per round (from /proc ticks over the loadgen's measured window) and the medians.
 *
 *   node dist/bench/http-produce-cpu.js --builds DIR,DIR [--reps 6] [--duration 5]
 *     [--concurrency 64] [--size 100]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuTicks, sleep } from './bench-common.js';
import { copyPeers, runLoadgen } from './bench-loadgen.js';

const { values: opt } = parseArgs({
  options: {
    builds: { type: 'string', default: fileURLToPath(new URL('../..', import.meta.url)) },
    reps: { type: 'string', default: '6' },
    duration: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    size: { type: 'string', default: '100' },
  },
  strict: true,
});
const builds = opt.builds.split(',').map((b) => resolve(b));
const [REPS, DURATION, CONCURRENCY, SIZE] = [opt.reps, opt.duration, opt.concurrency, opt.size].map(
  Number,
) as [number, number, number, number];
const WARMUP = 1;
const SERVER = fileURLToPath(new URL('./http-produce-server.js', import.meta.url));

async function startServer(build: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [SERVER, build], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, url: (JSON.parse(line.toString('utf8')) as { url: string }).url };
}

async function runOnce(build: string, copy: ReturnType<typeof copyPeers>) {
  const { child, url } = await startServer(build);
  try {
    const pid = child.pid!;
    const window = (async () => {
      await sleep(WARMUP * 1000 + 300);
      const before = cpuTicks(pid)!;
      await sleep(DURATION * 1000);
      return cpuTicks(pid)! - before;
    })();
    const out = await runLoadgen(copy, {
      target: 'raftlog-http',
      endpoints: [url],
      pids: new Map([['server', pid]]),
      concurrency: CONCURRENCY,
      size: SIZE,
      recordsPerRequest: 1,
      duration: DURATION,
      warmup: WARMUP,
    });
    const requests = out.line.records_s * DURATION;
    // A clock tick is 10 ms of CPU.
    return {
      requests_s: out.line.records_s,
      errors: out.line.errors,
      us: +(((await window) * 1e4) / requests).toFixed(1),
    };
  } finally {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
  }
}

const copy = copyPeers(false);
const us = new Map<string, number[]>(builds.map((b) => [b, []]));
try {
  for (let rep = 0; rep < REPS; rep++) {
    const load = +loadavg()[0]!.toFixed(1);
    const runs = await Promise.all(builds.map((b) => runOnce(b, copy)));
    runs.forEach((r, i) => {
      us.get(builds[i]!)!.push(r.us);
      console.log(JSON.stringify({ build: builds[i], rep, load_avg_1m: load, ...r }));
    });
  }
} finally {
  copy.remove();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const [build, xs] of us)
  console.log(`${build}: median of ${xs.length}: ${median(xs)} µs of server CPU per request`);
