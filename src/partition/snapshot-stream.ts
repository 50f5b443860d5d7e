import { Packr, Unpackr } from 'msgpackr';
import { RaftlogError } from '../errors.js';
import { MessageType } from '../raft/types.js';
import { decodeGroupMessages, encodeGroupMessages } from './message-codec.js';
import type { GroupMessage } from './transport.js';

/**
 * Snapshots stream in chunks. A Snap message whose data is larger than one chunk does not travel
 * inside an ordinary frame (which would have to hold the whole snapshot, and would queue ahead of
 * every heartbeat on the connection): its data is cut into chunk frames, written one after
 * another only as the socket drains (back-pressure), interleaved with the ordinary frames. The
 * receiver reassembles them and hands the transport's receiver the whole message.
 *
 * A chunk frame is the msgpack array
 *
 *     [-1, stream, index, count, total, header, data]
 *
 * where -1 marks a chunk (an ordinary frame is an array of message tuples), `stream` numbers the
 * sender's streams, chunk `index` of `count` carries `data` (bytes), `total` is the snapshot's
 * whole data length, and `header` (chunk 0 only, `nil` after) is the encoding of the message
 * itself with empty snapshot data.
 */

const CHUNK_TAG = -1;
/** First two bytes of every chunk frame: a 7-element fixarray, then the fixint -1. */
const CHUNK_PREFIX = [0x97, 0xff] as const;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** True when a Snap message's data is too large for one chunk and must stream. */
export function mustStream({ message }: GroupMessage, chunkBytes: number): boolean {
  return message.type === MessageType.Snap && (message.snapshot?.data.byteLength ?? 0) > chunkBytes;
}

/** Produces one snapshot message's chunk frames lazily: each is encoded only when it is sent. */
export class SnapshotChunks {
  private next = 0;
  readonly count: number;
  private readonly data: Uint8Array;

  constructor(
    private readonly message: GroupMessage,
    private readonly stream: number,
    private readonly chunkBytes: number,
  ) {
    this.data = message.message.snapshot!.data;
    this.count = Math.ceil(this.data.byteLength / chunkBytes);
  }

  /** The next chunk frame's payload, or `undefined` after the last. */
  take(): Uint8Array | undefined {
    if (this.next >= this.count) return undefined;
    const i = this.next++;
    const { group, message } = this.message;
    const header =
      i === 0
        ? encodeGroupMessages([
            {
              group,
              message: { ...message, snapshot: { meta: message.snapshot!.meta, data: new Uint8Array(0) } },
            },
          ])
        : null;
    const data = this.data.subarray(
      i * this.chunkBytes,
      Math.min(this.data.byteLength, (i + 1) * this.chunkBytes),
    );
    return packr.pack([CHUNK_TAG, this.stream, i, this.count, this.data.byteLength, header, data]);
  }
}

/** True when a frame payload is a snapshot chunk rather than a batch of messages. */
export function isChunkFrame(payload: Uint8Array): boolean {
  return payload[0] === CHUNK_PREFIX[0] && payload[1] === CHUNK_PREFIX[1];
}

interface Assembly {
  readonly stream: number;
  readonly count: number;
  readonly header: GroupMessage;
  readonly data: Uint8Array;
  nextIndex: number;
  filled: number;
}

/**
 * Reassembles the snapshot streams of one peer (chunks of one stream arrive in order, on one
 * connection). Holds at most one snapshot: a new stream replaces an unfinished one, whose sender
 * has given up on it. Throws INVALID_REQUEST for a chunk that does not fit, and forgets the stream.
 */
export class SnapshotAssembler {
  private current: Assembly | undefined;

  /**
   * @param peer the authenticated sender: the reassembled message must be from it, to `self`.
   * @param maxSnapshotBytes the largest snapshot accepted (memory held while one streams in).
   */
  constructor(
    private readonly peer: number,
    private readonly self: number,
    private readonly maxSnapshotBytes: number,
  ) {}

  /** Take one chunk frame; returns the whole message once its last chunk arrived. */
  push(payload: Uint8Array): GroupMessage | undefined {
    try {
      return this.accept(payload);
    } catch (err) {
      this.current = undefined;
      throw err;
    }
  }

  private accept(payload: Uint8Array): GroupMessage | undefined {
    const wire = unpackr.unpack(payload) as unknown;
    if (!Array.isArray(wire) || wire.length !== 7 || wire[0] !== CHUNK_TAG)
      throw invalid('not a chunk frame');
    const [stream, index, count, total, header, data] = wire.slice(1) as unknown[];
    if (
      !isCount(stream) ||
      !isCount(index) ||
      !isCount(count) ||
      !isCount(total) ||
      !(data instanceof Uint8Array)
    ) {
      throw invalid('malformed chunk');
    }
    if (index === 0) {
      if (!(header instanceof Uint8Array)) throw invalid('first chunk without the message');
      if (count === 0 || total > this.maxSnapshotBytes) {
        throw invalid(`snapshot of ${total} bytes is over the ${this.maxSnapshotBytes}-byte limit`);
      }
      this.current = {
        stream,
        count,
        header: this.snapMessage(header),
        data: new Uint8Array(total),
        nextIndex: 0,
        filled: 0,
      };
    }
    const a = this.current;
    if (
      !a ||
      a.stream !== stream ||
      a.nextIndex !== index ||
      a.count !== count ||
      a.data.byteLength !== total
    ) {
      throw invalid(`chunk ${index} of stream ${stream} out of order`);
    }
    if (a.filled + data.byteLength > total) throw invalid('chunks longer than the snapshot');
    a.data.set(data, a.filled);
    a.filled += data.byteLength;
    a.nextIndex++;
    if (a.nextIndex < a.count) return undefined;
    this.current = undefined;
    if (a.filled !== total) throw invalid('chunks shorter than the snapshot');
    const { group, message } = a.header;
    return { group, message: { ...message, snapshot: { meta: message.snapshot!.meta, data: a.data } } };
  }

  /** The message the first chunk describes: one Snap message from the peer to this broker. */
  private snapMessage(header: Uint8Array): GroupMessage {
    const messages = decodeGroupMessages(header);
    const m = messages[0];
    if (
      messages.length !== 1 ||
      m === undefined ||
      m.message.type !== MessageType.Snap ||
      m.message.snapshot === undefined ||
      m.message.from !== this.peer ||
      m.message.to !== this.self
    ) {
      throw invalid('the first chunk does not describe a snapshot from this peer to this broker');
    }
    return m;
  }
}

function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function invalid(what: string): RaftlogError {
  return new RaftlogError('INVALID_REQUEST', `snapshot stream: ${what}`);
}
