import { randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { FrameReader, framed, stampedHeader } from '../../src/partition/framing.js';
import {
  ACCEPT_BYTES,
  AUTH_BYTES,
  acceptPayload,
  authPayload,
  HELLO_BYTES,
  helloPayload,
  newNonce,
  openAccept,
  parseAuth,
  parseHello,
  verifyAuth,
} from '../../src/partition/peer-handshake.js';
import { parseAddress, TcpTransport, type TcpTransportOptions } from '../../src/partition/tcp-transport.js';
import type { GroupMessage } from '../../src/partition/transport.js';
import { MessageType } from '../../src/raft/types.js';
import { msg } from '../raft/helpers/messages.js';

export const SECRET = 'test cluster secret';

/** A data frame as a peer writes it: length prefix, sync counter, body. */
export function dataFrame(body: Uint8Array, counter = 0): Buffer {
  return Buffer.concat([stampedHeader(body.length, counter), body]);
}

/** Poll `condition` until it holds; fail after `timeoutMs` with `what`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A heartbeat of `group` from `from` to `to`, marked with `commit` so tests can tell messages apart. */
export function heartbeat(from: number, to: number, commit = 0, group = 1): GroupMessage {
  return { group, message: msg({ type: MessageType.Heartbeat, from, to, term: 1, commit }) };
}

/** What one transport has received and been told was unreachable. */
export interface Observed {
  readonly received: { from: number; messages: readonly GroupMessage[] }[];
  readonly unreachable: { peer: number; messages: readonly GroupMessage[] }[];
}

export function observe(t: TcpTransport): Observed {
  const seen: Observed = { received: [], unreachable: [] };
  t.onReceive((from, messages) => seen.received.push({ from, messages }));
  t.onUnreachable((peer, messages) => seen.unreachable.push({ peer, messages }));
  return seen;
}

/** Transports started by a test; `closeAll` in `afterEach` closes them even when the test failed. */
export class Transports {
  private readonly open = new Set<TcpTransport>();

  async start(self: number, options: Partial<Omit<TcpTransportOptions, 'self'>> = {}): Promise<TcpTransport> {
    const t = await TcpTransport.listen({ self, listen: '127.0.0.1:0', clusterSecret: SECRET, ...options });
    this.open.add(t);
    return t;
  }

  /** `n` transports, ids 1..n, each configured with every other as a peer. */
  async mesh(n: number, options: Partial<Omit<TcpTransportOptions, 'self'>> = {}): Promise<TcpTransport[]> {
    const ts: TcpTransport[] = [];
    for (let id = 1; id <= n; id++) ts.push(await this.start(id, options));
    for (const a of ts) for (const b of ts) if (a !== b) a.setPeer(b.self, b.address);
    return ts;
  }

  async close(t: TcpTransport): Promise<void> {
    this.open.delete(t);
    await t.close();
  }

  async closeAll(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((t) => t.close()));
  }
}

/** Open a raw TCP connection to a transport's listening address. */
export async function rawConnect(address: string): Promise<Socket> {
  const { host, port } = parseAddress(address);
  const socket = connect({ host, port });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/**
 * Dial `address` as broker `self` and complete the handshake by hand, so a test can then write
 * arbitrary bytes on an authenticated connection. `answered` gets the sync counter the acceptor
 * said it has seen from `self`.
 */
export async function rawPeer(
  address: string,
  self: number,
  acceptor: number,
  secret = SECRET,
  answered: (seen: number) => void = () => {},
): Promise<Socket> {
  const socket = await rawConnect(address);
  const key = Buffer.from(secret);
  const reader = new FrameReader(HELLO_BYTES);
  let dialerNonce: Buffer | undefined;
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => reject(new Error('closed during handshake')));
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      for (let payload = reader.next(); payload !== undefined; payload = reader.next()) {
        if (payload === 'oversize') return reject(new Error('oversize handshake frame'));
        if (dialerNonce === undefined) {
          const nonce = parseHello(payload);
          if (nonce === undefined) return reject(new Error('bad hello'));
          dialerNonce = newNonce();
          socket.write(framed(authPayload(key, self, acceptor, nonce, dialerNonce)));
          reader.setMaxPayload(ACCEPT_BYTES);
        } else {
          const seen = openAccept(key, payload, acceptor, self, dialerNonce);
          if (seen === undefined) return reject(new Error('bad accept'));
          answered(seen);
          socket.removeAllListeners('data');
          socket.removeAllListeners('close');
          return resolve();
        }
      }
    });
  });
  return socket;
}

/** Resolves when the other end has closed `socket` (reading, and dropping, what it sent until then). */
export function closedByPeer(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) return resolve();
    socket.once('close', () => resolve());
    socket.resume();
  });
}

/**
 * A stand-in acceptor for broker `self`: it sends a real HELLO and checks the dialer's proof, then
 * either answers with a forged ACCEPT (`'forged-accept'`) or accepts and stops reading
 * (`'stall'`, to build back-pressure). `afterAuth` counts the bytes received after the proof.
 */
export async function fakeAcceptor(
  self: number,
  behaviour: 'forged-accept' | 'stall',
): Promise<{ address: string; afterAuth: () => number; close: () => Promise<void> }> {
  const key = Buffer.from(SECRET);
  const sockets = new Set<Socket>();
  let afterAuth = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const nonce = newNonce();
    socket.write(framed(helloPayload(nonce)));
    const reader = new FrameReader(AUTH_BYTES);
    let authed = false;
    socket.on('data', (chunk: Buffer) => {
      if (authed) {
        afterAuth += chunk.length;
        return;
      }
      reader.push(chunk);
      const payload = reader.next();
      if (payload === undefined) return;
      const claim = payload === 'oversize' ? undefined : parseAuth(payload);
      if (claim === undefined || !verifyAuth(key, claim, self, nonce)) {
        socket.destroy();
        return;
      }
      authed = true;
      if (behaviour === 'forged-accept') {
        socket.write(framed(randomBytes(ACCEPT_BYTES)));
      } else {
        socket.write(framed(acceptPayload(key, self, claim.dialer, claim.dialerNonce, 0)));
        socket.pause();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    afterAuth: () => afterAuth,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
