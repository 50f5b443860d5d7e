import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrontDoor, LinkProxy } from '../../src/jepsen/link-proxy.js';

function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** A dialler's AUTH frame as the peer handshake sends it: its id (u64 BE), a nonce and a MAC. */
function auth(dialler: number): Buffer {
  const payload = Buffer.alloc(72);
  payload.writeBigUInt64BE(BigInt(dialler));
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** A server that greets every connection (as an acceptor's HELLO) and collects the frames it receives. */
async function sink(): Promise<{ server: Server; port: number; received: string[]; sockets: Socket[] }> {
  const received: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let buf = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.write(frame('hello'));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        received.push(buf.subarray(4, 4 + n).toString());
        buf = buf.subarray(4 + n);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { server, port: address.port, received, sockets };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Dial the front door as broker `dialler` (its AUTH frame first). */
async function dial(port: number, dialler = 7): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  // Read (and drop) the greeting: a socket with unread data never sees its peer close.
  socket.resume();
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(auth(dialler));
  return socket;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup() {
  const target = await sink();
  cleanup.push(() => new Promise<void>((r) => target.server.close(() => r())));
  cleanup.push(() => {
    for (const s of target.sockets) s.destroy();
  });
  const proxy = new LinkProxy(() => 0.5);
  const other = new LinkProxy(() => 0.5);
  const links = new Map([
    [7, proxy],
    [8, other],
  ]);
  const door = await FrontDoor.start(0, { host: '127.0.0.1', port: target.port }, (id) => links.get(id));
  cleanup.push(() => door.close());
  cleanup.push(() => proxy.closeConnections());
  cleanup.push(() => other.closeConnections());
  const socket = await dial(door.port);
  cleanup.push(() => {
    socket.destroy();
  });
  // The AUTH frame went through: the connection belongs to the link from 7.
  await until(() => target.received.length === 1);
  target.received.length = 0;
  return { target, proxy, door, socket };
}

describe('LinkProxy behind a FrontDoor', () => {
  it("relays the acceptor's greeting before the dialler has said who it is", async () => {
    const { door } = await setup();
    const socket = connect({ host: '127.0.0.1', port: door.port });
    socket.on('error', () => {});
    cleanup.push(() => {
      socket.destroy();
    });
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
    });
    await until(() => got.equals(frame('hello')));
  });

  it("hands each connection to the dialler's link, and disconnects unknown diallers", async () => {
    const { target, proxy, door } = await setup();
    proxy.set({ mode: 'cut' });
    const eight = await dial(door.port, 8);
    cleanup.push(() => {
      eight.destroy();
    });
    eight.write(frame('from 8'));
    await until(() => target.received.includes('from 8'));
    const stranger = await dial(door.port, 9);
    await new Promise<void>((resolve) => stranger.once('close', () => resolve()));
    expect(target.received.filter((m) => m === 'from 8')).toHaveLength(1);
  });

  it('forwards frames in order', async () => {
    const { target, socket } = await setup();
    for (let i = 0; i < 20; i++) socket.write(frame(`m${i}`));
    await until(() => target.received.length === 20);
    expect(target.received).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });

  it('drops whole frames after the handshake, keeping the stream valid', async () => {
    const { target, proxy, socket } = await setup();
    proxy.set({ dropRate: 0.6 }); // random() is 0.5: every droppable frame goes
    for (let i = 0; i < 5; i++) socket.write(frame(`m${i}`));
    // The AUTH frame and m0 are the dialler's two handshake frames: never dropped.
    await until(() => proxy.stats.framesDropped === 4 && target.received.length === 1);
    proxy.set({ dropRate: 0 });
    socket.write(frame('after'));
    await until(() => target.received.includes('after'));
    expect(target.received).toEqual(['m0', 'after']);
    expect(proxy.stats.framesDropped).toBe(4);
  });

  it('delays frames', async () => {
    const { target, proxy, socket } = await setup();
    proxy.set({ delayMs: 150 });
    const sent = Date.now();
    socket.write(frame('slow'));
    await until(() => target.received.length === 1);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(140);
  });

  it('black-holes traffic while keeping the connection open, then delivers it on heal', async () => {
    const { target, proxy, socket } = await setup();
    socket.write(frame('before'));
    await until(() => target.received.length === 1);
    proxy.set({ mode: 'blackhole' });
    socket.write(frame('held'));
    // Nothing may arrive while the hole lasts: the earlier frame did arrive within this time.
    await new Promise((r) => setTimeout(r, 100));
    expect(target.received).toEqual(['before']);
    expect(socket.destroyed).toBe(false);
    proxy.heal();
    await until(() => target.received.length === 2);
    expect(target.received).toEqual(['before', 'held']);
  });

  it('cuts: closes connections and refuses new ones until healed', async () => {
    const { target, proxy, door, socket } = await setup();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    proxy.set({ mode: 'cut' });
    await closed;
    const again = await dial(door.port);
    await new Promise<void>((resolve) => again.once('close', () => resolve()));
    proxy.heal();
    const third = await dial(door.port);
    cleanup.push(() => {
      third.destroy();
    });
    third.write(frame('back'));
    await until(() => target.received.includes('back'));
  });
});
