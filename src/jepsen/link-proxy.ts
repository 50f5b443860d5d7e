import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy for one directed peer link (broker i dialling broker j), so the harness can fail
 * the network between two real processes. It understands the peer protocol's framing (a u32
 * big-endian length, then the payload: see `src/partition/framing.ts`) so that it can lose whole
 * frames, which keeps the stream valid, where losing bytes would only break the connection.
 *
 * Faults apply to both directions of the proxied connections. The dialler's frames go one way
 * and only handshake answers come back, so a fault on the link i→j is a fault on what i says to j.
 */

/** What the link does with traffic. */
export type LinkMode =
  /** Forward (subject to delay and loss). */
  | 'pass'
  /** Close every connection and every new one at once: the peer looks down. */
  | 'cut'
  /** Keep connections open but forward nothing (TCP buffers fill): a silent network. */
  | 'blackhole';

/** The faults of one link. */
export interface LinkFaults {
  readonly mode: LinkMode;
  /** Every frame is held this long before it is forwarded (order is kept). */
  readonly delayMs: number;
  /** Probability that a frame after the handshake is dropped (0..1). */
  readonly dropRate: number;
}

/** No fault. */
export const HEALTHY: LinkFaults = { mode: 'pass', delayMs: 0, dropRate: 0 };

/** Frames at the start of each direction that are never dropped (the peer handshake). */
const HANDSHAKE_FRAMES = 2;
const HEADER_BYTES = 4;

/** One direction of one proxied connection. */
class Pipe {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private frames = 0;
  private readonly queue: { at: number; data: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly link: LinkProxy,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    for (;;) {
      if (this.bufferedBytes < HEADER_BYTES) return;
      let all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      const length = all.readUInt32BE(0);
      if (all.length < HEADER_BYTES + length) {
        this.buffered = [all];
        return;
      }
      const frame = all.subarray(0, HEADER_BYTES + length);
      all = all.subarray(HEADER_BYTES + length);
      this.buffered = all.length > 0 ? [all] : [];
      this.bufferedBytes = all.length;
      const n = this.frames++;
      const { dropRate, delayMs } = this.link.faults;
      if (n >= HANDSHAKE_FRAMES && dropRate > 0 && this.link.random() < dropRate) {
        this.link.stats.framesDropped++;
        continue;
      }
      this.queue.push({ at: Date.now() + delayMs, data: frame });
    }
  }

  /** Forward what is due; called after data arrives and when faults change. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.link.faults.mode !== 'pass' || this.dst.destroyed) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.at <= now) {
      const { data } = this.queue.shift()!;
      this.link.stats.framesForwarded++;
      this.dst.write(data);
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => this.flush(), this.queue[0]!.at - now);
    }
  }

  /** Stop or restart reading the source (a black hole lets the sender's buffers fill). */
  setFlowing(flowing: boolean): void {
    if (flowing) this.src.resume();
    else this.src.pause();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** One proxied connection: the dialler's socket, the upstream socket and a pipe each way. */
class Conn {
  readonly pipes: Pipe[];
  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    link: LinkProxy,
  ) {
    this.pipes = [new Pipe(client, upstream, link), new Pipe(upstream, client, link)];
    const close = () => link.drop(this);
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  }
  destroy(): void {
    for (const p of this.pipes) p.stop();
    this.client.destroy();
    this.upstream.destroy();
  }
}

/** Counters of one link. */
export interface LinkStats {
  connections: number;
  framesForwarded: number;
  framesDropped: number;
}

/** A proxy for one directed link; see the module notes. */
export class LinkProxy {
  #faults: LinkFaults = HEALTHY;
  readonly stats: LinkStats = { connections: 0, framesForwarded: 0, framesDropped: 0 };
  readonly #conns = new Set<Conn>();
  /** Connections accepted while the link was a black hole, not yet connected upstream. */
  readonly #held = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** The port the dialler should use. */
    readonly port: number,
    private readonly target: { readonly host: string; readonly port: number },
    /** Uniform [0, 1): the seeded source deciding which frames are lost. */
    readonly random: () => number,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listen on a free port of 127.0.0.1 and forward to `target`. */
  static async start(target: { host: string; port: number }, random: () => number): Promise<LinkProxy> {
    const server = createServer({ pauseOnConnect: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');
    return new LinkProxy(server, address.port, target, random);
  }

  get faults(): LinkFaults {
    return this.#faults;
  }

  /** Change the link's faults (unspecified fields keep their values). */
  set(faults: Partial<LinkFaults>): void {
    const next = { ...this.#faults, ...faults };
    this.#faults = next;
    if (next.mode === 'cut') {
      for (const c of this.#conns) c.destroy();
      this.#conns.clear();
      for (const s of this.#held) s.destroy();
      this.#held.clear();
      return;
    }
    const flowing = next.mode === 'pass';
    for (const c of this.#conns) {
      for (const p of c.pipes) {
        p.setFlowing(flowing);
        p.flush();
      }
    }
    if (flowing) {
      const held = [...this.#held];
      this.#held.clear();
      for (const s of held) this.connectUpstream(s);
    }
  }

  /** Back to {@link HEALTHY}. */
  heal(): void {
    this.set(HEALTHY);
  }

  private accept(socket: Socket): void {
    this.stats.connections++;
    socket.on('error', () => socket.destroy());
    if (this.#faults.mode === 'cut') {
      socket.destroy();
      return;
    }
    if (this.#faults.mode === 'blackhole') {
      this.#held.add(socket);
      socket.once('close', () => this.#held.delete(socket));
      return;
    }
    this.connectUpstream(socket);
  }

  private connectUpstream(client: Socket): void {
    if (client.destroyed) return;
    const upstream = connect({ host: this.target.host, port: this.target.port, noDelay: true });
    const conn = new Conn(client, upstream, this);
    this.#conns.add(conn);
    client.resume();
    // Frames written before the upstream connects wait in its buffer.
    const pump = () => {
      for (const p of conn.pipes) p.flush();
    };
    client.on('data', pump);
    upstream.on('data', pump);
  }

  /** Forget a closed connection (and close its other half). */
  drop(conn: Conn): void {
    if (!this.#conns.delete(conn)) return;
    conn.destroy();
  }

  /** Stop listening and close every connection. */
  async close(): Promise<void> {
    for (const c of this.#conns) c.destroy();
    this.#conns.clear();
    for (const s of this.#held) s.destroy();
    this.#held.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
