/**
 * The key layout of the LevelDB store. Every key of a group starts with the group id (u32,
 * big-endian) and a kind byte, so one group's records are contiguous and sort by kind; entry and
 * term-run keys end with an index as 8 big-endian bytes, so they scan in index order.
 *
 * The store's own records use keys shorter than any group key (length 1).
 */

/** Kinds of record of a group. Entries sort last, so a group's metadata precedes its log. */
export const Kind = {
  HardState: 1,
  ConfState: 2,
  Snapshot: 3,
  /** Key suffix: the value's name in UTF-8. */
  Meta: 4,
  /** Key suffix: the first index of a run of entries with one term; the value is that term. */
  TermRun: 5,
  /** Key suffix: the entry's index. */
  Entry: 6,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Key of the store's format version. */
export const FORMAT_KEY: Buffer = Buffer.of(0);

/** Key of the number of the last synced batch (see `LogStore.syncCounter`). */
export const SYNC_COUNTER_KEY: Buffer = Buffer.of(1);

/** Key of the node's own meta values, all in one record. */
export const NODE_META_KEY: Buffer = Buffer.of(2);

const PREFIX = 5;

// Keys are built byte by byte: Buffer's checked writers cost more than the rest of an append.
function prefixed(groupId: number, kind: Kind, suffixLength: number): Buffer {
  const key = Buffer.allocUnsafe(PREFIX + suffixLength);
  writeU32(key, 0, groupId);
  key[4] = kind;
  return key;
}

function writeU32(key: Buffer, at: number, n: number): void {
  key[at] = n >>> 24;
  key[at + 1] = n >>> 16;
  key[at + 2] = n >>> 8;
  key[at + 3] = n;
}

function writeIndex(key: Buffer, index: number): Buffer {
  writeU32(key, PREFIX, Math.floor(index / 0x1_0000_0000));
  writeU32(key, PREFIX + 4, index >>> 0);
  return key;
}

/** Key of a single-valued record (hard state, conf state, snapshot). */
export function recordKey(groupId: number, kind: Kind): Buffer {
  return prefixed(groupId, kind, 0);
}

/** Bytes of an entry key. */
export const ENTRY_KEY_BYTES = PREFIX + 8;

export function entryKey(groupId: number, index: number): Buffer {
  return writeEntryKey(Buffer.allocUnsafe(ENTRY_KEY_BYTES), groupId, index);
}

/** Writes the key of entry `index` of `groupId` into `key` ({@link ENTRY_KEY_BYTES} long). */
export function writeEntryKey(key: Buffer, groupId: number, index: number): Buffer {
  writeU32(key, 0, groupId);
  key[4] = Kind.Entry;
  return writeIndex(key, index);
}

export function termRunKey(groupId: number, firstIndex: number): Buffer {
  return writeIndex(prefixed(groupId, Kind.TermRun, 8), firstIndex);
}

export function metaKey(groupId: number, name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const key = prefixed(groupId, Kind.Meta, nameBytes.length);
  nameBytes.copy(key, PREFIX);
  return key;
}

/** Lower bound (inclusive) of every key of `groupId` of `kind` and above. */
export function groupLowerBound(groupId: number, kind: Kind = Kind.HardState): Buffer {
  return prefixed(groupId, kind, 0);
}

/** Upper bound (exclusive) of every key of `groupId`. */
export function groupUpperBound(groupId: number): Buffer {
  const key = Buffer.allocUnsafe(PREFIX);
  writeU32(key, 0, groupId);
  key[4] = 0xff;
  return key;
}

/** A group key taken apart; `suffix` holds the index or the meta name. */
export type DecodedKey =
  | {
      readonly groupId: number;
      readonly kind: typeof Kind.Entry | typeof Kind.TermRun;
      readonly index: number;
    }
  | { readonly groupId: number; readonly kind: typeof Kind.Meta; readonly name: string }
  | {
      readonly groupId: number;
      readonly kind: typeof Kind.HardState | typeof Kind.ConfState | typeof Kind.Snapshot;
    };

/** Decodes a group key; `undefined` for the store's own keys and for keys this version does not know. */
export function decodeKey(key: Buffer): DecodedKey | undefined {
  if (key.length < PREFIX) return undefined;
  const groupId = key.readUInt32BE(0);
  const kind = key[4];
  switch (kind) {
    case Kind.Entry:
    case Kind.TermRun:
      if (key.length !== PREFIX + 8) return undefined;
      return {
        groupId,
        kind,
        index: key.readUInt32BE(PREFIX) * 0x1_0000_0000 + key.readUInt32BE(PREFIX + 4),
      };
    case Kind.Meta:
      return { groupId, kind, name: key.toString('utf8', PREFIX) };
    case Kind.HardState:
    case Kind.ConfState:
    case Kind.Snapshot:
      return key.length === PREFIX ? { groupId, kind } : undefined;
    default:
      return undefined;
  }
}
