import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import {
  decodeGroupMessages,
  encodeGroupMessageParts,
  encodeGroupMessages,
} from '../../src/partition/message-codec.js';
import { partsLength } from '../../src/partition/msgpack-parts.js';
import type { GroupMessage } from '../../src/partition/transport.js';
import { type Entry, EntryType, type Message, MessageType } from '../../src/raft/types.js';
import { msg } from '../raft/helpers/messages.js';

/** Every type a peer may send: all but the core's local inputs. */
const PEER_TYPES = [
  MessageType.Prop,
  MessageType.App,
  MessageType.AppResp,
  MessageType.Vote,
  MessageType.VoteResp,
  MessageType.PreVote,
  MessageType.PreVoteResp,
  MessageType.Snap,
  MessageType.Heartbeat,
  MessageType.HeartbeatResp,
  MessageType.TransferLeader,
  MessageType.TimeoutNow,
  MessageType.ReadIndex,
  MessageType.ReadIndexResp,
];
const LOCAL_TYPES = [
  MessageType.Hup,
  MessageType.Beat,
  MessageType.Unreachable,
  MessageType.SnapStatus,
  MessageType.CheckQuorum,
];

// Zero often, so that runs of trailing defaults are left out and restored.
const count = fc.oneof(fc.constant(0), fc.nat(1_000), fc.maxSafeNat());
const ids = fc.array(count, { maxLength: 4 });
const smallBytes = fc.uint8Array({ maxLength: 24 });
// Now and then long enough for a 16- or 32-bit length, and to be referenced, not copied.
const anyBytes = fc.oneof(
  { arbitrary: smallBytes, weight: 8 },
  { arbitrary: fc.integer({ min: 200, max: 70_000 }).map((n) => new Uint8Array(n).fill(n % 251)), weight: 1 },
);

/** Frames of peer messages whose byte fields come from `bytes`. */
function framesWith(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<GroupMessage[]> {
  const entryArb: fc.Arbitrary<Entry> = fc.record({
    term: count,
    index: count,
    type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange),
    data: bytes,
  });

  const messageArb: fc.Arbitrary<Message> = fc.record(
    {
      type: fc.constantFrom(...PEER_TYPES),
      from: count,
      to: count,
      term: count,
      logTerm: count,
      index: count,
      entries: fc.oneof(fc.constant([]), fc.array(entryArb, { maxLength: 4 })),
      commit: count,
      reject: fc.boolean(),
      rejectHint: count,
      snapshot: fc.record({
        meta: fc.record({
          index: count,
          term: count,
          confState: fc.record({
            voters: ids,
            learners: ids,
            votersOutgoing: ids,
            learnersNext: ids,
            autoLeave: fc.boolean(),
          }),
        }),
        data: bytes,
      }),
      context: bytes,
    },
    {
      requiredKeys: [
        'type',
        'from',
        'to',
        'term',
        'logTerm',
        'index',
        'entries',
        'commit',
        'reject',
        'rejectHint',
      ],
    },
  );

  // Now and then more messages than a msgpack fixarray holds.
  return fc.array(fc.record({ group: count, message: messageArb }), { maxLength: 20 });
}

// Small byte fields: cheap to mutate byte by byte.
const frameArb = framesWith(smallBytes);

function expectInvalid(payload: Uint8Array): void {
  let thrown: unknown;
  try {
    decodeGroupMessages(payload);
  } catch (err) {
    thrown = err;
  }
  expect(isErrorCode(thrown, 'INVALID_REQUEST'), `expected INVALID_REQUEST, got ${String(thrown)}`).toBe(
    true,
  );
}

/** Decoding either fails with the typed error or yields messages that survive a round trip. */
function decodesCleanlyOrRejects(payload: Uint8Array): void {
  let decoded: GroupMessage[];
  try {
    decoded = decodeGroupMessages(payload);
  } catch (err) {
    if (!isErrorCode(err, 'INVALID_REQUEST')) throw err;
    return;
  }
  expect(decodeGroupMessages(encodeGroupMessages(decoded))).toEqual(decoded);
}

describe('message codec', () => {
  it('round-trips any frame of peer messages', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        expect(decodeGroupMessages(encodeGroupMessages(frame))).toEqual(frame);
      }),
    );
  });

  it('round-trips frames with large byte fields (16- and 32-bit lengths, referenced, not copied)', () => {
    fc.assert(
      fc.property(framesWith(anyBytes), (frame) => {
        expect(decodeGroupMessages(encodeGroupMessages(frame))).toEqual(frame);
      }),
      { numRuns: 20 },
    );
  });

  it('encodes a message as a positional array without its trailing defaults', () => {
    const heartbeat = msg({ type: MessageType.Heartbeat, from: 1, to: 2, term: 5, commit: 3 });
    expect(unpack(encodeGroupMessages([{ group: 7, message: heartbeat }]) as Buffer)).toEqual([
      [7, MessageType.Heartbeat, 1, 2, 5, 0, 0, [], 3],
    ]);
    const vote = msg({ type: MessageType.Vote, from: 1, to: 2, term: 5, logTerm: 4, index: 9 });
    expect(unpack(encodeGroupMessages([{ group: 0, message: vote }]) as Buffer)).toEqual([
      [0, MessageType.Vote, 1, 2, 5, 4, 9],
    ]);
    // A context without a snapshot keeps a nil in the snapshot's place.
    const read = msg({ type: MessageType.ReadIndex, from: 1, to: 2, term: 0, context: Uint8Array.of(1) });
    expect(unpack(encodeGroupMessages([{ group: 0, message: read }]) as Buffer)).toEqual([
      [0, MessageType.ReadIndex, 1, 2, 0, 0, 0, [], 0, false, 0, null, Buffer.of(1)],
    ]);
  });

  it('references large byte fields in the payload parts instead of copying them', () => {
    const big = new Uint8Array(1024 * 1024).fill(7);
    const small = Uint8Array.of(1, 2, 3);
    const app = msg({
      type: MessageType.App,
      from: 1,
      to: 2,
      term: 1,
      entries: [
        { term: 1, index: 1, type: EntryType.Normal, data: big },
        { term: 1, index: 2, type: EntryType.Normal, data: small },
      ],
      commit: 1,
    });
    const parts = encodeGroupMessageParts([{ group: 1, message: app }]);
    expect(parts.filter((p) => p === big)).toHaveLength(1);
    // The message around it: a few dozen bytes.
    expect(partsLength(parts.filter((p) => p !== big))).toBeLessThan(64);
    expect(decodeGroupMessages(Buffer.concat(parts))).toEqual([{ group: 1, message: app }]);
  });

  it('decodes byte fields as views of the payload, without copies', () => {
    const app = msg({
      type: MessageType.App,
      from: 1,
      to: 2,
      term: 1,
      entries: [{ term: 1, index: 1, type: EntryType.Normal, data: Uint8Array.of(1, 2, 3) }],
    });
    const payload = Buffer.from(encodeGroupMessages([{ group: 1, message: app }]));
    const data = decodeGroupMessages(payload)[0]!.message.entries[0]!.data;
    expect(data.constructor).toBe(Uint8Array);
    expect(data.buffer).toBe(payload.buffer);
    expect([...data]).toEqual([1, 2, 3]);
  });

  it('keeps an encoded payload intact while later frames are encoded (the transport holds it unsent)', () => {
    fc.assert(
      fc.property(frameArb, fc.array(frameArb, { minLength: 1, maxLength: 20 }), (first, later) => {
        const payload = encodeGroupMessages(first);
        const before = Buffer.from(payload); // a copy
        for (const frame of later) encodeGroupMessages(frame);
        encodeGroupMessages([
          {
            group: 1,
            message: msg({
              type: MessageType.App,
              from: 1,
              to: 2,
              term: 1,
              entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array(20_000) }],
            }),
          },
        ]);
        expect(Buffer.compare(payload, before)).toBe(0);
      }),
      { numRuns: 50 },
    );
  });

  const base = [1, MessageType.App, 1, 2, 3, 2, 4];
  const malformed: [string, unknown][] = [
    ['a frame that is not an array', { group: 1 }],
    ['a message that is not an array', [42]],
    ['too few fields', [base.slice(0, 6)]],
    ['too many fields', [[...base, [], 0, false, 0, null, null, 1]]],
    ['a local message type', [[1, LOCAL_TYPES[0], 1, 2, 3, 2, 4]]],
    ...LOCAL_TYPES.map((t): [string, unknown] => [`local type ${t}`, [[1, t, 1, 2, 3, 2, 4]]]),
    ['an unknown message type', [[1, 99, 1, 2, 3, 2, 4]]],
    ['a negative term', [[1, MessageType.App, 1, 2, -3, 2, 4]]],
    ['a fractional index', [[1, MessageType.App, 1, 2, 3, 2, 4.5]]],
    ['an unsafe integer', [[1, MessageType.App, 1, 2, 2 ** 53, 2, 4]]],
    ['a string group', [['1', MessageType.App, 1, 2, 3, 2, 4]]],
    ['entries that are not an array', [[...base, 'x']]],
    ['a 3-field entry', [[...base, [[1, 5, 0]]]]],
    ['an unknown entry type', [[...base, [[1, 5, 7, Buffer.of()]]]]],
    ['entry data that is a string', [[...base, [[1, 5, 0, 'data']]]]],
    ['reject that is a number', [[...base, [], 0, 1]]],
    ['a null commit', [[...base, [], null]]],
    ['a snapshot of the wrong shape', [[...base, [], 0, false, 0, [1, 2]]]],
    [
      'a confState with a negative id',
      [[...base, [], 0, false, 0, [1, 1, [[-1], [], [], [], false], Buffer.of()]]],
    ],
    ['a context that is not bytes', [[...base, [], 0, false, 0, null, 'ctx']]],
  ];
  it.each(malformed)('rejects %s with INVALID_REQUEST', (_, wire) => {
    expectInvalid(pack(wire));
  });

  it('rejects truncated payloads, trailing bytes and empty input', () => {
    const payload = encodeGroupMessages([
      { group: 1, message: msg({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1 }) },
    ]);
    expectInvalid(payload.subarray(0, payload.length - 1));
    expectInvalid(Buffer.concat([payload, Buffer.of(0)]));
    expectInvalid(new Uint8Array(0));
    expectInvalid(Buffer.alloc(100_000, 0x91)); // nested one-element arrays, deeper than the stack
  });

  it('fuzz: random bytes never throw anything but INVALID_REQUEST', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), decodesCleanlyOrRejects), { numRuns: 2_000 });
  });

  it('fuzz: mutated valid frames never throw anything but INVALID_REQUEST', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        byte: fc.integer({ min: 0, max: 255 }),
      }),
    );
    fc.assert(
      fc.property(frameArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, mutations) => {
        let bytes = Uint8Array.from(encodeGroupMessages(frame));
        for (const m of mutations) {
          const at = bytes.length === 0 ? 0 : m.at % bytes.length;
          if (m.kind === 'set') bytes[at] = m.byte;
          else if (m.kind === 'cut') bytes = bytes.slice(0, at);
          else bytes = Uint8Array.from([...bytes.subarray(0, at), m.byte, ...bytes.subarray(at)]);
        }
        decodesCleanlyOrRejects(bytes);
      }),
      { numRuns: 2_000 },
    );
  });
});
