import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import { framed, frameHeader } from '../../src/partition/framing.js';
import { encodeGroupMessages } from '../../src/partition/message-codec.js';
import { parseAddress, TcpTransport } from '../../src/partition/tcp-transport.js';
import type { GroupMessage, SyncCounterExchange } from '../../src/partition/transport.js';
import { EntryType, MessageType } from '../../src/raft/types.js';
import { msg } from '../raft/helpers/messages.js';
import {
  closedByPeer,
  dataFrame,
  fakeAcceptor,
  heartbeat,
  observe,
  rawConnect,
  rawPeer,
  SECRET,
  Transports,
  until,
} from './transport-harness.js';

const transports = new Transports();
afterEach(() => transports.closeAll());

/** An append of `group` carrying one entry of `size` bytes. */
function append(from: number, to: number, size: number, group = 1): GroupMessage {
  const entries = [{ term: 1, index: 1, type: EntryType.Normal, data: new Uint8Array(size).fill(7) }];
  return { group, message: msg({ type: MessageType.App, from, to, term: 1, entries }) };
}

const flat = (frames: { messages: readonly GroupMessage[] }[]): GroupMessage[] =>
  frames.flatMap((f) => f.messages);

/** Open TCP handles of this process (sockets and listeners). */
const tcpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;

describe('TcpTransport: delivery', () => {
  it('carries a frame each way between two brokers and counts it', async () => {
    const [a, b] = await transports.mesh(2);
    const seenA = observe(a!);
    const seenB = observe(b!);

    a!.send(2, [heartbeat(1, 2, 7)]);
    await until('b receives', () => seenB.received.length === 1);
    expect(seenB.received).toEqual([{ from: 1, messages: [heartbeat(1, 2, 7)] }]);

    b!.send(1, [heartbeat(2, 1, 8, 3)]);
    await until('a receives', () => seenA.received.length === 1);
    expect(seenA.received).toEqual([{ from: 2, messages: [heartbeat(2, 1, 8, 3)] }]);

    const sa = a!.stats();
    const sb = b!.stats();
    expect(sa).toMatchObject({ framesSent: 1, messagesSent: 1, framesReceived: 1, messagesReceived: 1 });
    expect(sb).toMatchObject({ framesSent: 1, messagesSent: 1, framesReceived: 1, messagesReceived: 1 });
    expect(sa.bytesSent).toBe(sb.bytesReceived);
    expect(sb.bytesSent).toBe(sa.bytesReceived);
    expect(sa.framesRejected + sa.handshakesRejected + sb.framesRejected + sb.handshakesRejected).toBe(0);
    expect(seenA.unreachable).toEqual([]);
  });

  it('an empty send is the broker heartbeat: one empty frame', async () => {
    const [a, b] = await transports.mesh(2);
    const seenB = observe(b!);
    a!.send(2, []);
    await until('b receives', () => seenB.received.length === 1);
    expect(seenB.received).toEqual([{ from: 1, messages: [] }]);
    expect(a!.stats()).toMatchObject({ framesSent: 1, messagesSent: 0 });
  });

  it('batches everything sent to a peer in one turn, across promise continuations, into one frame', async () => {
    const [a, b] = await transports.mesh(2);
    const seenB = observe(b!);
    const sent: GroupMessage[] = [];
    for (let i = 0; i < 100; i++) {
      const m = heartbeat(1, 2, i, i);
      sent.push(m);
      a!.send(2, [m]);
      if (i % 25 === 0) await Promise.resolve(); // still the same event-loop turn
    }
    await until('b receives all', () => flat(seenB.received).length === 100);
    expect(seenB.received).toHaveLength(1);
    expect(seenB.received[0]!.messages).toEqual(sent);
    expect(a!.stats()).toMatchObject({ framesSent: 1, messagesSent: 100 });
    expect(b!.stats()).toMatchObject({ framesReceived: 1, messagesReceived: 100 });

    // The next turn is the next frame.
    a!.send(2, [heartbeat(1, 2, 100)]);
    a!.send(2, [heartbeat(1, 2, 101)]);
    await until('second frame', () => seenB.received.length === 2);
    expect(seenB.received[1]!.messages).toEqual([heartbeat(1, 2, 100), heartbeat(1, 2, 101)]);
    expect(a!.stats().framesSent).toBe(2);
  });

  it('flush() writes what is queued as one frame at once; what is sent after it is the next frame', async () => {
    const [a, b] = await transports.mesh(2);
    const seenB = observe(b!);
    // Connected first, so that flush() writes to the socket rather than queueing for the handshake.
    a!.send(2, []);
    await until('the link is up', () => seenB.received.length === 1);
    a!.send(2, [heartbeat(1, 2, 1)]);
    a!.send(2, [heartbeat(1, 2, 2, 5)]);
    a!.flush();
    expect(a!.stats()).toMatchObject({ framesSent: 2, messagesSent: 2 });
    a!.send(2, [heartbeat(1, 2, 3)]);
    await until('b receives both frames', () => seenB.received.length === 3);
    expect(seenB.received.slice(1).map((r) => r.messages)).toEqual([
      [heartbeat(1, 2, 1), heartbeat(1, 2, 2, 5)],
      [heartbeat(1, 2, 3)],
    ]);
    expect(a!.stats().framesSent).toBe(3);
  });

  it('three brokers: one frame per peer per turn, every broker hears from both others', async () => {
    const all = await transports.mesh(3);
    const seen = all.map(observe);
    for (const t of all) {
      for (const peer of all) {
        if (peer !== t)
          t.send(peer.self, [heartbeat(t.self, peer.self, 1), heartbeat(t.self, peer.self, 2, 9)]);
      }
    }
    await until('every broker receives two frames', () => seen.every((s) => s.received.length === 2));
    for (const [i, t] of all.entries()) {
      const froms = seen[i]!.received.map((r) => r.from).sort();
      expect(froms).toEqual(all.map((p) => p.self).filter((id) => id !== t.self));
      for (const { from, messages } of seen[i]!.received) {
        expect(messages).toEqual([heartbeat(from, t.self, 1), heartbeat(from, t.self, 2, 9)]);
      }
      expect(t.stats()).toMatchObject({
        framesSent: 2,
        messagesSent: 4,
        framesReceived: 2,
        messagesReceived: 4,
      });
    }
  });

  it('reports messages to an unknown peer as unreachable, after send() returns', async () => {
    const a = await transports.start(1);
    const seenA = observe(a);
    a.send(5, [heartbeat(1, 5)]);
    expect(seenA.unreachable).toEqual([]);
    await until('unreachable reported', () => seenA.unreachable.length === 1);
    expect(seenA.unreachable).toEqual([{ peer: 5, messages: [heartbeat(1, 5)] }]);
  });
});

/** A sync counter exchange that records what the transport tells it. */
function recordingExchange(own: () => number, seen: (peer: number) => number = () => 0) {
  const received: Array<[number, number]> = [];
  const answered: Array<[number, number]> = [];
  const exchange: SyncCounterExchange = {
    own,
    received: (peer, counter) => void received.push([peer, counter]),
    seenFrom: seen,
    answered: (peer, counter) => void answered.push([peer, counter]),
  };
  return { exchange, received, answered };
}

describe('TcpTransport: sync counters (rollback detection)', () => {
  it('every frame carries the counter of its sender at the time it is written, heartbeats too', async () => {
    let counter = 5;
    const a = recordingExchange(() => counter);
    const b = recordingExchange(() => 0);
    const ta = await transports.start(1, { syncCounters: a.exchange });
    const tb = await transports.start(2, { syncCounters: b.exchange });
    ta.setPeer(2, tb.address);
    tb.setPeer(1, ta.address);
    const seenB = observe(tb);
    ta.send(2, [heartbeat(1, 2)]);
    await until('the first frame', () => seenB.received.length === 1);
    counter = 9;
    ta.send(2, []);
    await until('the heartbeat', () => seenB.received.length === 2);
    expect(b.received).toEqual([
      [1, 5],
      [1, 9],
    ]);
  });

  it("the acceptor answers the dialer's handshake with the counter it has seen from it", async () => {
    const a = recordingExchange(() => 0);
    const b = recordingExchange(
      () => 0,
      (peer) => (peer === 1 ? 42 : 0),
    );
    const ta = await transports.start(1, { syncCounters: a.exchange });
    const tb = await transports.start(2, { syncCounters: b.exchange });
    ta.setPeer(2, tb.address);
    tb.setPeer(1, ta.address);
    ta.send(2, []);
    await until('a hears the answer', () => a.answered.length === 1);
    expect(a.answered).toEqual([[2, 42]]);
    // The frame the connection was opened for then arrives, with a's counter.
    await until('b receives', () => b.received.length === 1);
    expect(b.received).toEqual([[1, 0]]);
  });

  it('only the counters of accepted frames count', async () => {
    const b = recordingExchange(() => 0);
    const tb = await transports.start(2, { syncCounters: b.exchange });
    tb.setPeer(1, '127.0.0.1:1');
    const seenB = observe(tb);
    const raw = await rawPeer(tb.address, 1, 2);
    try {
      raw.write(dataFrame(Buffer.from('not msgpack'), 1000));
      raw.write(dataFrame(encodeGroupMessages([heartbeat(3, 2)]), 1001)); // from another broker
      raw.write(dataFrame(encodeGroupMessages([heartbeat(1, 2)]), 7));
      await until('the valid frame arrives', () => seenB.received.length === 1);
      expect(b.received).toEqual([[1, 7]]);
    } finally {
      raw.destroy();
    }
  });
});

describe('TcpTransport: authentication and hostile input', () => {
  it('refuses a dialer with the wrong secret; the dialer reports its messages unreachable', async () => {
    const b = await transports.start(2);
    const c = await transports.start(3, { clusterSecret: 'not the cluster secret' });
    b.setPeer(3, c.address);
    c.setPeer(2, b.address);
    const seenB = observe(b);
    const seenC = observe(c);

    c.send(2, [heartbeat(3, 2)]);
    await until('c told unreachable', () => seenC.unreachable.length === 1);
    expect(seenC.unreachable).toEqual([{ peer: 2, messages: [heartbeat(3, 2)] }]);
    expect(b.stats().handshakesRejected).toBe(1);
    expect(seenB.received).toEqual([]);
    expect(b.stats().framesReceived).toBe(0);
  });

  it('refuses a dialer that is not a configured peer, even with the right secret', async () => {
    const b = await transports.start(2);
    await expect(rawPeer(b.address, 9, 2)).rejects.toThrow('closed during handshake');
    expect(b.stats().handshakesRejected).toBe(1);
  });

  it('the dialer refuses an acceptor that cannot prove the secret, and sends it no frame', async () => {
    const fake = await fakeAcceptor(2, 'forged-accept');
    try {
      const a = await transports.start(1);
      a.setPeer(2, fake.address);
      const seenA = observe(a);
      a.send(2, [heartbeat(1, 2)]);
      await until('a told unreachable', () => seenA.unreachable.length === 1);
      expect(seenA.unreachable).toEqual([{ peer: 2, messages: [heartbeat(1, 2)] }]);
      expect(fake.afterAuth()).toBe(0);
      expect(a.stats().framesSent).toBe(0);
    } finally {
      await fake.close();
    }
  });

  it('garbage on the port is rejected at the handshake and counted; the broker keeps serving', async () => {
    const [a, b] = await transports.mesh(2, { handshakeTimeoutMs: 200 });
    const seenB = observe(b!);
    const garbage = [
      Buffer.from('GET / HTTP/1.1\r\nHost: raftlog\r\n\r\n'), // announces a huge frame
      Buffer.of(0, 0, 0, 3, 1, 2, 3), // a frame of the wrong size
      Buffer.of(0, 0, 0, 72, 1, 2, 3), // an incomplete handshake: times out
      Buffer.of(0, 0), // not even a header: times out
    ];
    for (const bytes of garbage) {
      const socket = await rawConnect(b!.address);
      socket.write(bytes);
      await closedByPeer(socket);
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), async (bytes) => {
        const socket = await rawConnect(b!.address);
        socket.write(bytes);
        await closedByPeer(socket);
      }),
      { numRuns: 20 },
    );
    expect(b!.stats().handshakesRejected).toBe(garbage.length + 20);

    a!.send(2, [heartbeat(1, 2, 5)]);
    await until('b still receives', () => seenB.received.length === 1);
    expect(b!.stats()).toMatchObject({ framesReceived: 1, framesRejected: 0 });
  });

  it("drops an authenticated peer's undecodable or misaddressed frames, counts them, keeps the connection", async () => {
    const b = await transports.start(2);
    b.setPeer(1, '127.0.0.1:1'); // only its id matters here: the test dials b by hand
    const seenB = observe(b);
    const raw = await rawPeer(b.address, 1, 2);
    try {
      raw.write(dataFrame(Buffer.from('not msgpack')));
      raw.write(dataFrame(encodeGroupMessages([heartbeat(3, 2)]))); // from another broker
      raw.write(dataFrame(encodeGroupMessages([heartbeat(1, 2), heartbeat(1, 4)]))); // not for b
      raw.write(framed(Buffer.from(encodeGroupMessages([heartbeat(1, 2)])).subarray(0, 7))); // no counter
      raw.write(dataFrame(encodeGroupMessages([heartbeat(1, 2, 42)])));
      await until('the valid frame arrives', () => seenB.received.length === 1);
      expect(seenB.received).toEqual([{ from: 1, messages: [heartbeat(1, 2, 42)] }]);
      expect(b.stats()).toMatchObject({ framesRejected: 4, framesReceived: 1, handshakesRejected: 0 });
    } finally {
      raw.destroy();
    }
  });
});

describe('TcpTransport: frame size and back-pressure', () => {
  it('drops the connection on a frame over the limit, before buffering it', async () => {
    const b = await transports.start(2, { maxFrameBytes: 1024 });
    b.setPeer(1, '127.0.0.1:1');
    const raw = await rawPeer(b.address, 1, 2);
    raw.write(frameHeader(1025));
    await closedByPeer(raw);
    expect(b.stats()).toMatchObject({ framesRejected: 1, framesReceived: 0 });
  });

  it('splits a batch over the frame limit; a single message over it is reported unreachable', async () => {
    const [a, b] = await transports.mesh(2, { maxFrameBytes: 1024 });
    const seenA = observe(a!);
    const seenB = observe(b!);
    const small = Array.from({ length: 20 }, (_, i) => append(1, 2, 200, i));
    a!.send(2, [...small.slice(0, 10), append(1, 2, 2000, 99), ...small.slice(10)]);
    await until('all small messages arrive', () => flat(seenB.received).length === 20);
    expect(flat(seenB.received)).toEqual(small);
    expect(seenB.received.length).toBeGreaterThan(1);
    expect(seenA.unreachable).toEqual([{ peer: 2, messages: [append(1, 2, 2000, 99)] }]);
    expect(b!.stats().framesRejected).toBe(0);
  });

  it('over the high-water mark, new frames are dropped and reported instead of buffered', async () => {
    const stalled = await fakeAcceptor(2, 'stall');
    try {
      const highWaterMark = 64 * 1024;
      const a = await transports.start(1, { highWaterMark });
      a.setPeer(2, stalled.address);
      const seenA = observe(a);
      const big = append(1, 2, 256 * 1024);
      await until('a frame is dropped', () => {
        a.send(2, [big]);
        return seenA.unreachable.length > 0;
      });
      expect(seenA.unreachable[0]).toEqual({ peer: 2, messages: [big] });
      // What was accepted is bounded by the kernel's buffers plus one frame over the mark.
      expect(a.stats().bytesSent).toBeLessThan(64 * 1024 * 1024);
      // close() does not wait forever for a peer that stopped reading.
      await transports.close(a);
    } finally {
      await stalled.close();
    }
  });
});

describe('TcpTransport: failures and lifecycle', () => {
  it('a restarted peer is reconnected to and delivery resumes, both ways', async () => {
    const backoff = { reconnectBackoff: { initialMs: 10, maxMs: 50 } };
    const [a, b] = await transports.mesh(2, backoff);
    const seenA = observe(a!);
    const seenB = observe(b!);
    a!.send(2, [heartbeat(1, 2, 1)]);
    await until('first delivery', () => seenB.received.length === 1);

    const address = b!.address;
    await transports.close(b!);
    await until('a reports b unreachable', () => {
      a!.send(2, [heartbeat(1, 2, 2)]);
      return seenA.unreachable.length > 0;
    });
    expect(seenA.unreachable[0]!.peer).toBe(2);

    const b2 = await transports.start(2, { listen: address, ...backoff });
    b2.setPeer(1, a!.address);
    const seenB2 = observe(b2);
    await until('delivery to the restarted peer resumes', () => {
      a!.send(2, [heartbeat(1, 2, 3)]);
      return seenB2.received.length > 0;
    });
    // Messages queued during a connection attempt that raced b2's start may arrive too.
    expect(flat(seenB2.received)).toContainEqual(heartbeat(1, 2, 3));

    b2.send(1, [heartbeat(2, 1, 4)]);
    await until('and back', () => seenA.received.length === 1);
    expect(seenA.received).toEqual([{ from: 2, messages: [heartbeat(2, 1, 4)] }]);
  });

  it('close() closes every socket and the listener, mid-handshake and with sends pending', async () => {
    // A listener's handle is released just after its 'close' event: wait for that, boundedly.
    // Tests run one at a time in this process, so every TCP handle here is one of ours.
    await until('no TCP handles are left from earlier tests', () => tcpHandles() === 0);
    const [a, b] = await transports.mesh(2);
    const seenA = observe(a!);
    const seenB = observe(b!);
    a!.send(2, [heartbeat(1, 2)]);
    b!.send(1, [heartbeat(2, 1)]);
    await until('both connected', () => seenA.received.length === 1 && seenB.received.length === 1);
    const halfway = await rawConnect(a!.address); // never answers the handshake
    a!.send(2, [heartbeat(1, 2, 2)]); // still queued when close() is called
    a!.send(3, [heartbeat(1, 3)]); // to be reported unreachable: must not be, after close()

    await Promise.all([transports.close(a!), transports.close(b!), closedByPeer(halfway)]);
    await until('every TCP handle is released', () => tcpHandles() === 0, 1_000);
    expect(seenA.unreachable).toEqual([]);
    a!.send(2, [heartbeat(1, 2, 3)]); // ignored after close
    await new Promise((resolve) => setImmediate(resolve));
    expect(seenA.unreachable).toEqual([]);
    expect(tcpHandles()).toBe(0);
  });

  it('validates its options and peers', async () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return isErrorCode(err, 'INVALID_REQUEST');
      }
      return false;
    };
    const rejects = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (err) {
        return isErrorCode(err, 'INVALID_REQUEST');
      }
      return false;
    };
    const listen = (o: Partial<Parameters<typeof TcpTransport.listen>[0]>) =>
      TcpTransport.listen({ self: 1, listen: '127.0.0.1:0', clusterSecret: SECRET, ...o });
    expect(await rejects(listen({ self: 0 }))).toBe(true);
    expect(await rejects(listen({ listen: 'localhost' }))).toBe(true);
    expect(await rejects(listen({ listen: '127.0.0.1:70000' }))).toBe(true);
    expect(await rejects(listen({ clusterSecret: '' }))).toBe(true);
    expect(await rejects(listen({ maxFrameBytes: 2 ** 32 }))).toBe(true);
    const a = await transports.start(1);
    expect(bad(() => a.setPeer(1, '127.0.0.1:1'))).toBe(true);
    expect(bad(() => a.setPeer(2, '127.0.0.1'))).toBe(true);
    expect(bad(() => a.setPeer(-2, '127.0.0.1:1'))).toBe(true);
    expect(parseAddress('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseAddress('broker-2.internal:9000')).toEqual({ host: 'broker-2.internal', port: 9000 });
  });
});
