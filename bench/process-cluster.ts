/**
 * A raftlog cluster of real broker processes on 127.0.0.1 for benchmarks: started through the
 * CLI contract (`raftlog start ...`) from the built `dist/`, with fresh data directories, and
 * stopped by PID — also when the benchmark fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROKER_NODE_FLAGS } from '../src/cli/node-flags.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface ProcessCluster {
  readonly urls: readonly string[];
  /** PIDs of the running brokers (index = broker id - 1). */
  readonly pids: readonly number[];
  /** kill -9 broker `id`. */
  kill(id: number): Promise<void>;
  /** Start broker `id` again on its data directory and ports. */
  restart(id: number): void;
  /**
   * Start a new broker that joins the running cluster (`raftlog start --join`), with `args`
   * added to its command line; resolves with its client URL once it answers.
   */
  join(id: number, args?: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface ProcessClusterOptions {
  /** Extra flags for each broker's `node` (e.g. `--cpu-prof`, `--cpu-prof-dir=DIR`). */
  readonly nodeArgs?: readonly string[];
  /** Extra flags for each broker's `raftlog start`. */
  readonly brokerArgs?: readonly string[];
}

export async function startProcessCluster(
  nodes: number,
  logLevel = 'warn',
  options: ProcessClusterOptions = {},
): Promise<ProcessCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'raftlog-bench-'));
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  const clientPorts = await Promise.all(ids.map(() => freePort()));
  const peerPorts = await Promise.all(ids.map(() => freePort()));
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${peerPorts[i]}`).join(',');
  /** One `raftlog start` process: its id, client port, and how it finds the cluster. */
  const spawnBroker = (
    id: number,
    clientPort: number,
    membership: readonly string[],
    extra: readonly string[] = [],
  ): ChildProcess =>
    spawn(
      process.execPath,
      [
        ...BROKER_NODE_FLAGS,
        ...(options.nodeArgs ?? []),
        CLI,
        'start',
        '--id',
        String(id),
        '--data-dir',
        join(dir, `n${id}`),
        '--listen',
        `127.0.0.1:${clientPort}`,
        ...membership,
        '--log-level',
        logLevel,
        ...(options.brokerArgs ?? []),
        ...extra,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  const launch = (id: number): ChildProcess => spawnBroker(id, clientPorts[id - 1]!, ['--peers', peers]);
  const children: ChildProcess[] = ids.map(launch);
  const kill = (id: number) =>
    new Promise<void>((resolve) => {
      const c = children[id - 1]!;
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  process.once('exit', () => {
    for (const c of children) c.kill('SIGKILL');
  });
  const urls = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  try {
    await waitReady(urls, children);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    urls,
    get pids() {
      return children.map((c) => c.pid!);
    },
    kill,
    restart: (id: number) => {
      children[id - 1] = launch(id);
    },
    async join(id: number, args: readonly string[] = []) {
      const [clientPort, peerPort] = [await freePort(), await freePort()];
      const child = spawnBroker(
        id,
        clientPort,
        ['--peer-listen', `127.0.0.1:${peerPort}`, '--join', urls.join(',')],
        args,
      );
      children[id - 1] = child;
      const url = `http://127.0.0.1:${clientPort}`;
      await waitHealthy(url, child);
      return url;
    },
    stop,
  };
}

async function waitReady(urls: readonly string[], children: readonly ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const url of urls) {
    while (
      !(await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (children.some((c) => c.exitCode !== null)) throw new Error('a broker exited during start-up');
      if (Date.now() > deadline) throw new Error(`${url} not ready after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (
    !(await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null) throw new Error(`the broker at ${url} exited during start-up`);
    if (Date.now() > deadline) throw new Error(`${url} not answering after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds (user + system) a process has used, and its resident memory in bytes. */
export async function processUsage(pid: number): Promise<{ cpuSeconds: number; rssBytes: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const rssPages = Number(stat[21]);
  return { cpuSeconds: ticks / 100, rssBytes: rssPages * 4096 };
}
