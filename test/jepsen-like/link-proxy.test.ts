import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkProxy } from '../../src/jepsen/link-proxy.js';

function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** A server that collects the frames it receives, as strings. */
async function sink(): Promise<{ server: Server; port: number; received: string[]; sockets: Socket[] }> {
  const received: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let buf = Buffer.alloc(0);
    socket.on('error', () => {});
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

async function dial(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
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
  const proxy = await LinkProxy.start({ host: '127.0.0.1', port: target.port }, () => 0.5);
  cleanup.push(() => proxy.close());
  const socket = await dial(proxy.port);
  cleanup.push(() => {
    socket.destroy();
  });
  return { target, proxy, socket };
}

describe('LinkProxy', () => {
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
    await until(() => proxy.stats.framesDropped === 3 && target.received.length === 2);
    proxy.set({ dropRate: 0 });
    socket.write(frame('after'));
    await until(() => target.received.includes('after'));
    expect(target.received).toEqual(['m0', 'm1', 'after']);
    expect(proxy.stats.framesDropped).toBe(3);
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
    const { target, proxy, socket } = await setup();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    proxy.set({ mode: 'cut' });
    await closed;
    const again = await dial(proxy.port);
    await new Promise<void>((resolve) => again.once('close', () => resolve()));
    proxy.heal();
    const third = await dial(proxy.port);
    cleanup.push(() => {
      third.destroy();
    });
    third.write(frame('back'));
    await until(() => target.received.includes('back'));
  });
});
