import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import { SnapshotAssembler, SnapshotChunks } from '../../src/partition/snapshot-stream.js';
import type { GroupMessage } from '../../src/partition/transport.js';
import { MessageType } from '../../src/raft/types.js';
import { msg } from '../raft/helpers/messages.js';
import { fakeAcceptor, heartbeat, observe, Transports, until } from './transport-harness.js';

const transports = new Transports();
afterEach(() => transports.closeAll());

/** A snapshot message of `group` from `from` to `to` carrying `data`. */
function snap(from: number, to: number, data: Uint8Array, group = 3): GroupMessage {
  const confState = {
    voters: [1, 2, 3],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  return {
    group,
    message: msg({
      type: MessageType.Snap,
      from,
      to,
      term: 4,
      snapshot: { meta: { index: 90, term: 3, confState }, data },
    }),
  };
}

const chunksOf = (m: GroupMessage, chunkBytes: number, stream = 1): Uint8Array[] => {
  const chunks = new SnapshotChunks(m, stream, chunkBytes);
  const out: Uint8Array[] = [];
  for (let c = chunks.take(); c !== undefined; c = chunks.take()) out.push(Uint8Array.from(c));
  return out;
};

describe('snapshot streaming (issue 4: snapshots stream in chunks with back-pressure)', () => {
  it('a snapshot larger than a chunk arrives whole, with the other messages of its turn', async () => {
    const [a, b] = await transports.mesh(2, { snapshotChunkBytes: 64 * 1024 });
    const seenB = observe(b!);
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const big = snap(1, 2, data);
    a!.send(2, [heartbeat(1, 2, 1), big, heartbeat(1, 2, 2)]);
    await until('the snapshot arrives', () =>
      seenB.received.some((f) => f.messages.some((m) => m.message.type === MessageType.Snap)),
    );
    const got = seenB.received.flatMap((f) => f.messages);
    expect(got.filter((m) => m.message.type === MessageType.Heartbeat).map((m) => m.message.commit)).toEqual([
      1, 2,
    ]);
    const snapshot = got.find((m) => m.message.type === MessageType.Snap)!;
    expect(snapshot.group).toBe(3);
    expect(snapshot.message.snapshot!.meta).toEqual(big.message.snapshot!.meta);
    expect(Buffer.from(snapshot.message.snapshot!.data).equals(data)).toBe(true);
    // 81 chunk frames plus the frame of the heartbeats.
    expect(b!.stats()).toMatchObject({ framesReceived: 82, messagesReceived: 3, framesRejected: 0 });
  });

  it('a stalled peer holds the stream back, so heartbeats behind it are not dropped', async () => {
    const stalled = await fakeAcceptor(2, 'stall');
    try {
      // Were the whole 64 MiB written at once, the socket would pass the 4 MiB mark and every
      // later frame would be dropped and reported unreachable.
      const a = await transports.start(1, { highWaterMark: 4 * 1024 * 1024, snapshotChunkBytes: 256 * 1024 });
      a.setPeer(2, stalled.address);
      const seenA = observe(a);
      a.send(2, [snap(1, 2, new Uint8Array(64 * 1024 * 1024))]);
      await until('the stream starts', () => a.stats().framesSent > 0);
      for (let i = 1; i <= 50; i++) {
        a.send(2, [heartbeat(1, 2, i)]);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await until('every heartbeat is written', () => a.stats().messagesSent >= 50);
      expect(seenA.unreachable).toEqual([]);
      expect(a.stats().messagesSent).toBe(50); // the snapshot is not through
      await transports.close(a);
    } finally {
      await stalled.close();
    }
  });

  it('the assembler refuses a snapshot over its limit, chunks out of order, and a header not from the peer', () => {
    const data = randomBytes(10_000);
    const chunks = chunksOf(snap(1, 2, data), 1000);
    expect(chunks).toHaveLength(10);

    const refuses = (a: SnapshotAssembler, payload: Uint8Array) => {
      try {
        a.push(payload);
      } catch (err) {
        return isErrorCode(err, 'INVALID_REQUEST');
      }
      return false;
    };
    expect(refuses(new SnapshotAssembler(1, 2, 9_999), chunks[0]!)).toBe(true);
    const skipping = new SnapshotAssembler(1, 2, 1 << 20);
    expect(skipping.push(chunks[0]!)).toBeUndefined();
    expect(refuses(skipping, chunks[2]!)).toBe(true);
    // After a refusal the stream is forgotten: its next chunk is refused too.
    expect(refuses(skipping, chunks[1]!)).toBe(true);
    expect(refuses(new SnapshotAssembler(7, 2, 1 << 20), chunks[0]!)).toBe(true);
    expect(refuses(new SnapshotAssembler(1, 2, 1 << 20), chunks[3]!)).toBe(true);

    // A new stream replaces an unfinished one.
    const restarted = new SnapshotAssembler(1, 2, 1 << 20);
    restarted.push(chunks[0]!);
    restarted.push(chunks[1]!);
    const again = chunksOf(snap(1, 2, data), 1000, 2);
    let whole: GroupMessage | undefined;
    for (const c of again) whole = restarted.push(c);
    expect(Buffer.from(whole!.message.snapshot!.data).equals(data)).toBe(true);
  });
});
