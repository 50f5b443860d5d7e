import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * Proxies for the peer links between real broker processes, so the harness can fail the network
 * between any two of them. Every broker advertises a {@link FrontDoor} as its peer address (the
 * address the others learn from the metadata, joined brokers included); the front door relays
 * the broker's HELLO, reads the dialler's id from its AUTH frame (the first frame the dialler
 * sends, see `src/partition/peer-handshake.ts`) and hands the connection to the
 * {@link LinkProxy} of that directed link. The proxies understand the peer protocol's framing (a
 * u32 big-endian length, then the payload: `src/partition/framing.ts`) so that they can lose
 * whole frames, which keeps the stream valid, where losing bytes would only break the connection.
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
/** The dialler's id leads its AUTH payload (u64 big-endian). */
const DIALLER_ID_BYTES = 8;
/** A first frame larger than this is no AUTH frame: the front door closes the connection. */
const MAX_FIRST_FRAME = 1024;

/** One direction of one proxied connection. */
class Pipe {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly queue: { at: number; data: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly link: LinkProxy,
    /** Frames of this direction already relayed by the front door. */
    private frames: number,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  onData(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    while (this.bufferedBytes >= HEADER_BYTES) {
      let all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      const length = all.readUInt32BE(0);
      if (all.length < HEADER_BYTES + length) {
        this.buffered = [all];
        break;
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
    this.flush();
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

/**
 * One proxied connection: the dialler's socket, the upstream socket and a pipe each way. The
 * front door has relayed the upstream's HELLO and read the dialler's AUTH frame (`first`).
 */
class Conn {
  readonly pipes: [Pipe, Pipe];
  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    link: LinkProxy,
    first: Buffer,
  ) {
    this.pipes = [new Pipe(client, upstream, link, 0), new Pipe(upstream, client, link, 1)];
    this.pipes[0].onData(first);
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

/** One directed link's faults and connections; see the module notes. */
export class LinkProxy {
  #faults: LinkFaults = HEALTHY;
  readonly stats: LinkStats = { connections: 0, framesForwarded: 0, framesDropped: 0 };
  readonly #conns = new Set<Conn>();

  /** `random`: uniform [0, 1), the seeded source deciding which frames are lost. */
  constructor(readonly random: () => number) {}

  get faults(): LinkFaults {
    return this.#faults;
  }

  /** Change the link's faults (unspecified fields keep their values). */
  set(faults: Partial<LinkFaults>): void {
    const next = { ...this.#faults, ...faults };
    this.#faults = next;
    if (next.mode === 'cut') {
      this.closeConnections();
      return;
    }
    for (const c of this.#conns) this.#apply(c);
  }

  /** Back to {@link HEALTHY}. */
  heal(): void {
    this.set(HEALTHY);
  }

  /**
   * Take over a connection from a front door: both sockets paused, the upstream's HELLO relayed,
   * `first` the dialler's AUTH frame (and anything it sent after it).
   */
  adopt(client: Socket, upstream: Socket, first: Buffer): void {
    this.stats.connections++;
    if (this.#faults.mode === 'cut') {
      client.destroy();
      upstream.destroy();
      return;
    }
    const conn = new Conn(client, upstream, this, first);
    this.#conns.add(conn);
    this.#apply(conn);
  }

  /** Read and forward while the link passes; stop reading (let buffers fill) in a black hole. */
  #apply(conn: Conn): void {
    const flowing = this.#faults.mode === 'pass';
    for (const p of conn.pipes) {
      p.setFlowing(flowing);
      p.flush();
    }
  }

  /** Forget a closed connection (and close its other half). */
  drop(conn: Conn): void {
    if (!this.#conns.delete(conn)) return;
    conn.destroy();
  }

  /** Close every connection (the link itself stays usable). */
  closeConnections(): void {
    for (const c of this.#conns) c.destroy();
    this.#conns.clear();
  }
}

/**
 * The peer address one broker advertises: relays its HELLO to each dialler, reads the dialler's
 * id from its AUTH frame and hands the connection to `linkFrom(dialler)`; a dialler without a
 * link (unknown, or a removed broker) is disconnected.
 */
export class FrontDoor {
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    /** The port the diallers use. */
    readonly port: number,
    private readonly target: { readonly host: string; readonly port: number },
    private readonly linkFrom: (dialler: number) => LinkProxy | undefined,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Listen on `port` of 127.0.0.1 (0: any free one) for connections to `target`. */
  static async start(
    port: number,
    target: { host: string; port: number },
    linkFrom: (dialler: number) => LinkProxy | undefined,
  ): Promise<FrontDoor> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');
    return new FrontDoor(server, address.port, target, linkFrom);
  }

  private accept(client: Socket): void {
    const upstream = connect({ host: this.target.host, port: this.target.port, noDelay: true });
    const sockets = [client, upstream];
    const close = () => {
      for (const s of sockets) {
        s.destroy();
        this.#sockets.delete(s);
      }
    };
    for (const s of sockets) {
      this.#sockets.add(s);
      s.on('error', close);
      s.on('close', close);
    }
    const relayHello = (chunk: Buffer) => client.write(chunk);
    upstream.on('data', relayHello);
    let first = Buffer.alloc(0);
    const readAuth = (chunk: Buffer) => {
      first = Buffer.concat([first, chunk]);
      if (first.length < HEADER_BYTES) return;
      const length = first.readUInt32BE(0);
      if (length < DIALLER_ID_BYTES || length > MAX_FIRST_FRAME) return close();
      if (first.length < HEADER_BYTES + length) return;
      const link = this.linkFrom(Number(first.readBigUInt64BE(HEADER_BYTES)));
      if (link === undefined) return close();
      for (const s of sockets) {
        s.pause();
        s.off('error', close);
        s.off('close', close);
        this.#sockets.delete(s);
      }
      upstream.off('data', relayHello);
      client.off('data', readAuth);
      link.adopt(client, upstream, first);
    };
    client.on('data', readAuth);
  }

  /** Stop listening and close the connections not yet handed to a link. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
