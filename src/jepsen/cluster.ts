import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { BROKER_NODE_FLAGS } from '../cli/node-flags.js';
import { FrontDoor, LinkProxy } from './link-proxy.js';
import type { Rng } from './rng.js';

/**
 * The brokers of a run as real child processes on 127.0.0.1, each with a fresh data directory,
 * and a {@link LinkProxy} on every directed peer link: every broker advertises its
 * {@link FrontDoor} as its peer address (`--advertise-peer`, registered in the metadata, so
 * brokers that join later are dialled through it too), which hands each connection to the link
 * of the broker dialling. Client (HTTP) traffic and the brokers' own forwarding go straight to
 * the brokers. Brokers join (`--join`) and are removed while the cluster runs; a removed broker
 * is stopped, its links are closed and it is never started again. Every child is killed by PID
 * when the cluster stops, and when this process exits.
 */

/** Options of {@link Cluster.start}. */
export interface ClusterOptions {
  /** Number of brokers (ids 1..n). */
  readonly nodes: number;
  /** The compiled `raftlog` CLI (`dist/src/cli/main.js` or a transpiled copy). */
  readonly brokerMain: string;
  /** Data directories, logs and the cluster secret go here. */
  readonly dir: string;
  /** Seeded source for the proxies' frame loss. */
  readonly rng: Rng;
  /** The brokers' `--log-level` (default `warn`). */
  readonly logLevel?: string;
}

/** One broker's fixed addresses and its current process. */
interface BrokerSlot {
  readonly id: number;
  readonly httpPort: number;
  readonly door: FrontDoor;
  readonly dataDir: string;
  readonly logFile: string;
  /** The command line of its next start (a joined broker joins through the brokers of then). */
  readonly args: () => readonly string[];
  child: ChildProcess | undefined;
  paused: boolean;
  removed: boolean;
}

/** How a broker came out of a (re)start: see {@link Cluster.settle}. */
export type StartOutcome =
  | { readonly state: 'ready' }
  | { readonly state: 'exited'; readonly how: string; readonly error: string }
  | { readonly state: 'storage-failed' }
  | { readonly state: 'not-ready' };

/** Children alive in this process, killed on exit whatever happens. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

/** Ports {@link freePort} handed out: released until their broker or proxy binds them. */
const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 (bound then released; the broker or proxy binds it soon after),
 * never one handed out before: the OS may offer a released port again at once.
 */
async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    if (handedOut.has(address.port)) continue;
    handedOut.add(address.port);
    return address.port;
  }
}

/** A running cluster; see the module notes. */
export class Cluster {
  readonly #slots = new Map<number, BrokerSlot>();
  readonly #links = new Map<string, LinkProxy>();
  readonly #urls = new Map<number, string>();
  readonly #exits = new Map<number, string[]>();

  private constructor(
    private readonly o: ClusterOptions,
    private readonly secretFile: string,
  ) {}

  /** Ids of the brokers not removed, in order. */
  get ids(): number[] {
    return [...this.#slots.values()].filter((s) => !s.removed).map((s) => s.id);
  }

  /** Every broker id the run started, removed ones included. */
  get started(): number[] {
    return [...this.#slots.keys()];
  }

  /**
   * Client URLs of the brokers that serve clients: not removed, and (for a joined broker) ready
   * once. A live view: clients pick from it as brokers join and leave.
   */
  get urls(): ReadonlyMap<number, string> {
    return this.#urls;
  }

  /** Start the proxies and every broker (not waiting for readiness: see {@link waitReady}). */
  static async start(options: ClusterOptions): Promise<Cluster> {
    installExitHook();
    await mkdir(options.dir, { recursive: true });
    const secretFile = join(options.dir, 'cluster-secret');
    await writeFile(secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const cluster = new Cluster(options, secretFile);
    try {
      const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
      const slots: BrokerSlot[] = [];
      for (const id of ids) slots.push(await cluster.#addSlot(id, () => ['--peers', cluster.#peerList(ids)]));
      for (const slot of slots) {
        cluster.#urls.set(slot.id, cluster.url(slot.id));
        cluster.spawn(slot);
      }
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /**
   * Start a new broker (the next unused id, fresh ports and data directory) that joins through
   * the running brokers; it serves clients once ready (see {@link urls}). Returns its id.
   */
  async join(): Promise<number> {
    const id = Math.max(0, ...this.#slots.keys()) + 1;
    const slot = await this.#addSlot(id, () => [
      '--join',
      this.ids
        .filter((j) => j !== id)
        .map((j) => this.url(j))
        .join(','),
    ]);
    this.spawn(slot);
    return id;
  }

  /** Let clients use a joined broker (once it is ready). */
  serve(id: number): void {
    if (!this.slot(id).removed) this.#urls.set(id, this.url(id));
  }

  /**
   * Take a broker out for good (after the cluster removed it): clients stop using it, it is
   * stopped (SIGTERM), its links are closed and it is never restarted.
   */
  async remove(id: number): Promise<void> {
    const slot = this.slot(id);
    this.#urls.delete(id);
    slot.removed = true;
    await this.terminate(id);
    for (const [key, link] of this.#links) {
      const [from, to] = key.split('->').map(Number);
      if (from === id || to === id) link.closeConnections();
    }
    // Closing a server waits for its connections: the links' ones are closed first.
    await slot.door.close();
  }

  /** True once {@link remove}d. */
  isRemoved(id: number): boolean {
    return this.slot(id).removed;
  }

  /** `--peers` of the initial brokers: every broker's front door. */
  #peerList(ids: readonly number[]): string {
    return ids.map((j) => `${j}=127.0.0.1:${this.slot(j).door.port}`).join(',');
  }

  /** Ports, front door, links to and from every broker so far, and the command line of `id`. */
  async #addSlot(id: number, membership: () => readonly string[]): Promise<BrokerSlot> {
    const o = this.o;
    const httpPort = await freePort();
    const peerPort = await freePort();
    for (const other of this.#slots.keys()) {
      for (const key of [`${id}->${other}`, `${other}->${id}`])
        this.#links.set(key, new LinkProxy(() => o.rng.next()));
    }
    const door = await FrontDoor.start(await freePort(), { host: '127.0.0.1', port: peerPort }, (dialler) =>
      this.#links.get(`${dialler}->${id}`),
    );
    const dataDir = join(o.dir, `n${id}`);
    await mkdir(dataDir, { recursive: true });
    const slot: BrokerSlot = {
      id,
      httpPort,
      door,
      dataDir,
      logFile: join(o.dir, `n${id}.log`),
      args: () => [
        o.brokerMain,
        'start',
        '--id',
        String(id),
        '--data-dir',
        dataDir,
        '--listen',
        `127.0.0.1:${httpPort}`,
        '--peer-listen',
        `127.0.0.1:${peerPort}`,
        '--advertise-peer',
        `127.0.0.1:${door.port}`,
        ...membership(),
        '--cluster-secret-file',
        this.secretFile,
        '--log-level',
        o.logLevel ?? 'warn',
      ],
      child: undefined,
      paused: false,
      removed: false,
    };
    this.#slots.set(id, slot);
    return slot;
  }

  /** The broker's client URL. */
  url(id: number): string {
    return `http://127.0.0.1:${this.slot(id).httpPort}`;
  }

  /** The broker's data directory. */
  dataDir(id: number): string {
    return this.slot(id).dataDir;
  }

  /** The proxy of the directed link `from`→`to`. */
  link(from: number, to: number): LinkProxy {
    const link = this.#links.get(`${from}->${to}`);
    if (!link) throw new Error(`no link ${from}->${to}`);
    return link;
  }

  /** Every directed link between brokers not removed. */
  links(): { from: number; to: number; proxy: LinkProxy }[] {
    return [...this.#links]
      .map(([key, proxy]) => {
        const [from, to] = key.split('->').map(Number) as [number, number];
        return { from, to, proxy };
      })
      .filter((l) => !this.slot(l.from).removed && !this.slot(l.to).removed);
  }

  /** True while the broker's process runs (paused counts as running). */
  isRunning(id: number): boolean {
    return this.slot(id).child !== undefined;
  }

  isPaused(id: number): boolean {
    return this.slot(id).paused;
  }

  /** How each broker's earlier processes ended (unexpected exits are worth reporting). */
  exits(): ReadonlyMap<number, readonly string[]> {
    return this.#exits;
  }

  private slot(id: number): BrokerSlot {
    const slot = this.#slots.get(id);
    if (!slot) throw new Error(`no broker ${id}`);
    return slot;
  }

  private spawn(slot: BrokerSlot): void {
    const log = openSync(slot.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [...BROKER_NODE_FLAGS, ...slot.args()], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    liveChildren.add(child);
    slot.child = child;
    slot.paused = false;
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      if (slot.child === child) slot.child = undefined;
      const list = this.#exits.get(slot.id) ?? [];
      list.push(signal ?? `exit ${code}`);
      this.#exits.set(slot.id, list);
    });
  }

  /** Start the broker again (same id, ports and data) if it is not running and not removed. */
  restart(id: number): void {
    const slot = this.slot(id);
    if (slot.child === undefined && !slot.removed) this.spawn(slot);
  }

  /** Send `signal` and wait for the process to end. */
  private async stopWith(id: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    const slot = this.slot(id);
    const child = slot.child;
    if (child === undefined || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    if (slot.paused && signal !== 'SIGKILL') {
      process.kill(child.pid, 'SIGCONT');
      slot.paused = false;
    }
    process.kill(child.pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
  }

  /** kill -9. */
  kill(id: number): Promise<void> {
    return this.stopWith(id, 'SIGKILL', 10_000);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`. */
  terminate(id: number, timeoutMs = 10_000): Promise<void> {
    return this.stopWith(id, 'SIGTERM', timeoutMs);
  }

  /** SIGSTOP. */
  pause(id: number): void {
    const slot = this.slot(id);
    if (slot.child?.pid === undefined || slot.paused) return;
    process.kill(slot.child.pid, 'SIGSTOP');
    slot.paused = true;
  }

  /** SIGCONT. */
  resume(id: number): void {
    const slot = this.slot(id);
    if (slot.child?.pid === undefined || !slot.paused) return;
    process.kill(slot.child.pid, 'SIGCONT');
    slot.paused = false;
  }

  /** Heal every link, resume every paused broker and restart every stopped one (not removed). */
  healAll(): void {
    for (const link of this.#links.values()) link.heal();
    for (const id of this.ids) {
      this.resume(id);
      this.restart(id);
    }
  }

  /** Resolves when every broker of `ids` answers `/readyz` with 200; rejects after `timeoutMs`. */
  async waitReady(timeoutMs: number, ids: readonly number[] = this.ids): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const id of ids) {
      for (;;) {
        if (await this.isReady(id)) break;
        if (Date.now() > deadline) throw new Error(`broker ${id} was not ready within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Wait until the broker (just restarted) is ready, has exited (a refusal to start: with the
   * `raftlog: ...` line it printed), or `timeoutMs` passed: then it is `storage-failed` when it
   * says its own storage stopped it, else `not-ready`.
   */
  async settle(id: number, timeoutMs: number): Promise<StartOutcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.isRunning(id)) {
        const how = this.#exits.get(id)?.at(-1) ?? 'exited';
        return { state: 'exited', how, error: await this.lastError(id) };
      }
      if (await this.isReady(id)) return { state: 'ready' };
      if (Date.now() > deadline)
        return (await this.storageFailed(id)) ? { state: 'storage-failed' } : { state: 'not-ready' };
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** True when the running broker reports itself not alive: its storage failed (fail-stop). */
  async storageFailed(id: number): Promise<boolean> {
    try {
      const res = await request(`${this.url(id)}/v1/cluster`, { headersTimeout: 2000, bodyTimeout: 2000 });
      const body = (await res.body.json()) as { nodes?: { id: number; alive: boolean }[] };
      return body.nodes?.find((n) => n.id === id)?.alive === false;
    } catch {
      return false;
    }
  }

  /** The last `raftlog: ...` error line the broker printed (its log file holds its stderr). */
  private async lastError(id: number): Promise<string> {
    const text = await readFile(this.slot(id).logFile, 'utf8').catch(() => '');
    const lines = text.split('\n').filter((line) => line.startsWith('raftlog: '));
    return lines.at(-1)?.slice('raftlog: '.length) ?? '';
  }

  /** True when the broker answers `/readyz` with 200. */
  async isReady(id: number): Promise<boolean> {
    try {
      const res = await request(`${this.url(id)}/readyz`, { headersTimeout: 2000, bodyTimeout: 2000 });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  /** Stop every broker cleanly (SIGTERM, SIGKILL after `timeoutMs`), then close the proxies. */
  async stop(timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.ids.map((id) => this.terminate(id, timeoutMs)));
    await this.#closeProxies();
  }

  /** Kill every broker at once (kill -9) and close the proxies: for failures. */
  async destroy(): Promise<void> {
    await Promise.all([...this.#slots.keys()].map((id) => this.kill(id)));
    await this.#closeProxies();
  }

  async #closeProxies(): Promise<void> {
    for (const link of this.#links.values()) link.closeConnections();
    await Promise.all([...this.#slots.values()].map((s) => s.door.close()));
  }
}
