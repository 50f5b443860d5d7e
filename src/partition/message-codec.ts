import { Unpackr } from 'msgpackr';
import { RaftlogError } from '../errors.js';
import {
  type ConfState,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  type Snapshot,
} from '../raft/types.js';
import { MsgpackParts } from './msgpack-parts.js';
import type { GroupMessage } from './transport.js';

/**
 * The payload of one peer frame: every Raft message one broker sends another in one turn, as one
 * msgpack array. Each message is a positional array, so no field name travels on the wire:
 *
 *     [group, type, from, to, term, logTerm, index, entries, commit, reject, rejectHint, snapshot, context]
 *
 * with trailing fields left out while they hold their default (0, false, no entries, no snapshot,
 * no context); a missing snapshot before a present context is `nil`. An entry is
 * `[term, index, type, data]`; a snapshot is
 * `[index, term, [voters, learners, votersOutgoing, learnersNext, autoLeave], data]`.
 * Entry, snapshot and context bytes are msgpack binaries.
 */

const unpackr = new Unpackr({ useRecords: false });

/** Message types a peer may send; the core's local inputs never cross the wire. */
const PEER_MESSAGE_TYPES = new Set<number>(
  Object.values(MessageType).filter(
    (t) =>
      t !== MessageType.Hup &&
      t !== MessageType.Beat &&
      t !== MessageType.Unreachable &&
      t !== MessageType.SnapStatus &&
      t !== MessageType.CheckQuorum,
  ),
);
const ENTRY_TYPES = new Set<number>(Object.values(EntryType));

/** Index of the first field a message may leave out (`entries` and everything after it). */
const FIRST_OPTIONAL_FIELD = 7;
const MESSAGE_FIELDS = 13;

/**
 * Encode `messages` as one frame payload, in parts: the msgpack bytes around the byte fields
 * (entry and snapshot data, contexts), and those fields themselves as they are, not copied, when
 * they are large (see {@link MsgpackParts}). Written back to back (one `writev`), the parts are
 * the payload: an append of a megabyte entry then costs no megabyte copy per follower.
 */
export function encodeGroupMessageParts(messages: readonly GroupMessage[]): Uint8Array[] {
  const w = new MsgpackParts();
  w.array(messages.length);
  for (const m of messages) writeMessage(w, m);
  return w.finish();
}

/** Encode `messages` as one frame payload, in one buffer. */
export function encodeGroupMessages(messages: readonly GroupMessage[]): Uint8Array {
  return Buffer.concat(encodeGroupMessageParts(messages));
}

function writeMessage(w: MsgpackParts, { group, message: m }: GroupMessage): void {
  // The fields after `index`, each with whether it differs from its default: trailing defaults
  // are left out, and one that precedes a present field is written anyway.
  const optional: Array<readonly [boolean, () => void]> = [
    [m.entries.length > 0, () => writeEntries(w, m.entries)],
    [m.commit !== 0, () => w.uint(m.commit)],
    [m.reject, () => w.bool(m.reject)],
    [m.rejectHint !== 0, () => w.uint(m.rejectHint)],
    [m.snapshot !== undefined, () => (m.snapshot === undefined ? w.nil() : writeSnapshot(w, m.snapshot))],
    [m.context !== undefined, () => w.bin(m.context!)],
  ];
  let kept = optional.length;
  while (kept > 0 && !optional[kept - 1]![0]) kept--;
  w.array(FIRST_OPTIONAL_FIELD + kept);
  for (const n of [group, m.type, m.from, m.to, m.term, m.logTerm, m.index]) w.uint(n);
  for (let i = 0; i < kept; i++) optional[i]![1]();
}

function writeEntries(w: MsgpackParts, entries: readonly Entry[]): void {
  w.array(entries.length);
  for (const e of entries) {
    w.array(4);
    w.uint(e.term);
    w.uint(e.index);
    w.uint(e.type);
    w.bin(e.data);
  }
}

function writeSnapshot(w: MsgpackParts, { meta, data }: Snapshot): void {
  const cs = meta.confState;
  w.array(4);
  w.uint(meta.index);
  w.uint(meta.term);
  w.array(5);
  for (const ids of [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext]) {
    w.array(ids.length);
    for (const id of ids) w.uint(id);
  }
  w.bool(cs.autoLeave);
  w.bin(data);
}

/**
 * Decode and validate a frame payload. Throws `INVALID_REQUEST` on anything malformed: bytes
 * that are not exactly one msgpack value, wrong shapes or types, numbers that are not safe
 * non-negative integers, unknown message or entry types. Never throws anything else.
 *
 * Byte fields are views of `payload` (no copy): the caller must not reuse its buffer.
 */
export function decodeGroupMessages(payload: Uint8Array): GroupMessage[] {
  let wire: unknown;
  try {
    wire = unpackr.unpack(payload);
  } catch (cause) {
    // Truncated or trailing bytes, nesting beyond the stack, unknown extensions...
    throw invalid('undecodable frame', cause);
  }
  if (!Array.isArray(wire)) throw invalid('frame is not an array');
  return wire.map(wireToGroupMessage);
}

function wireToGroupMessage(wire: unknown): GroupMessage {
  if (!Array.isArray(wire) || wire.length < FIRST_OPTIONAL_FIELD || wire.length > MESSAGE_FIELDS) {
    throw invalid('message is not a tuple of 7 to 13 fields');
  }
  const [
    group,
    type,
    from,
    to,
    term,
    logTerm,
    index,
    entries,
    commit,
    reject,
    rejectHint,
    snapshot,
    context,
  ] = wire as unknown[];
  if (!PEER_MESSAGE_TYPES.has(type as number)) throw invalid('unknown or local message type');
  const message: Message = {
    type: type as MessageType,
    from: count(from, 'from'),
    to: count(to, 'to'),
    term: count(term, 'term'),
    logTerm: count(logTerm, 'logTerm'),
    index: count(index, 'index'),
    entries: entries === undefined ? [] : wireToEntries(entries),
    commit: commit === undefined ? 0 : count(commit, 'commit'),
    reject: reject === undefined ? false : bool(reject, 'reject'),
    rejectHint: rejectHint === undefined ? 0 : count(rejectHint, 'rejectHint'),
    ...(snapshot === undefined || snapshot === null ? {} : { snapshot: wireToSnapshot(snapshot) }),
    ...(context === undefined ? {} : { context: bytes(context, 'context') }),
  };
  return { group: count(group, 'group'), message };
}

function wireToEntries(wire: unknown): Entry[] {
  if (!Array.isArray(wire)) throw invalid('entries is not an array');
  return wire.map((e: unknown): Entry => {
    if (!Array.isArray(e) || e.length !== 4) throw invalid('entry is not a [term, index, type, data] tuple');
    const [term, index, type, data] = e as unknown[];
    if (!ENTRY_TYPES.has(type as number)) throw invalid('unknown entry type');
    return {
      term: count(term, 'entry term'),
      index: count(index, 'entry index'),
      type: type as EntryType,
      data: bytes(data, 'entry data'),
    };
  });
}

function wireToSnapshot(wire: unknown): Snapshot {
  if (!Array.isArray(wire) || wire.length !== 4) {
    throw invalid('snapshot is not an [index, term, confState, data] tuple');
  }
  const [index, term, confState, data] = wire as unknown[];
  return {
    meta: {
      index: count(index, 'snapshot index'),
      term: count(term, 'snapshot term'),
      confState: wireToConfState(confState),
    },
    data: bytes(data, 'snapshot data'),
  };
}

function wireToConfState(wire: unknown): ConfState {
  if (!Array.isArray(wire) || wire.length !== 5) throw invalid('confState is not a 5-tuple');
  const [voters, learners, votersOutgoing, learnersNext, autoLeave] = wire as unknown[];
  return {
    voters: ids(voters, 'voters'),
    learners: ids(learners, 'learners'),
    votersOutgoing: ids(votersOutgoing, 'votersOutgoing'),
    learnersNext: ids(learnersNext, 'learnersNext'),
    autoLeave: bool(autoLeave, 'autoLeave'),
  };
}

function ids(wire: unknown, field: string): number[] {
  if (!Array.isArray(wire)) throw invalid(`${field} is not an array`);
  return wire.map((id: unknown) => count(id, field));
}

function count(n: unknown, field: string): number {
  if (!Number.isSafeInteger(n) || (n as number) < 0)
    throw invalid(`${field} is not a safe non-negative integer`);
  return n as number;
}

function bool(b: unknown, field: string): boolean {
  if (typeof b !== 'boolean') throw invalid(`${field} is not a boolean`);
  return b;
}

/** The bytes as a plain `Uint8Array` view: msgpackr decodes binaries as `Buffer` views of its input. */
function bytes(b: unknown, field: string): Uint8Array {
  if (!(b instanceof Uint8Array)) throw invalid(`${field} is not bytes`);
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function invalid(what: string, cause?: unknown): RaftlogError {
  return new RaftlogError(
    'INVALID_REQUEST',
    `peer frame: ${what}`,
    cause === undefined ? undefined : { cause },
  );
}
