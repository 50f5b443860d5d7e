/**
 * The vocabulary of the pure Raft core: entries, messages, persistent state and the `Ready`
 * hand-off between the core and its driver. Everything here is plain data: it can be encoded with
 * msgpackr, stored, sent and compared.
 *
 * Terms, indexes and node ids are safe non-negative integers. Node id 0 means "none".
 */

/** Node id meaning "no node" (no leader known, no vote cast). */
export const NONE = 0;

/** Kinds of log entry. */
export const EntryType = {
  /** Application data; an entry with empty data is the no-op a new leader appends. */
  Normal: 0,
  /** A membership change; `data` is an encoded {@link ConfChange} (see `confchange-codec.ts`). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One Raft log entry. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be on stable storage before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** Who this node voted for in `term`, or {@link NONE}. */
  readonly vote: number;
  readonly commit: number;
}

/**
 * The membership of a group. While a joint configuration is in force, `votersOutgoing` holds the
 * old voters and both majorities are needed (Raft §6, joint consensus).
 */
export interface ConfState {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  /** Old voters of a joint configuration; empty when not joint. */
  readonly votersOutgoing: readonly number[];
  /** Learners to add when the joint configuration is left (voters demoted to learners). */
  readonly learnersNext: readonly number[];
  /** Leave the joint configuration automatically once it is committed. */
  readonly autoLeave: boolean;
}

/** What a snapshot covers: the log prefix up to `index` (whose term is `term`) and the membership then. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** A snapshot: metadata plus the state machine's bytes, opaque to the core. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** One change of a membership change request. */
export const ConfChangeType = {
  AddVoter: 0,
  AddLearner: 1,
  Remove: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: number;
}

/** How a membership change moves between configurations. */
export const ConfChangeTransition = {
  /** One voter change: applied directly. Several: joint consensus, left automatically. */
  Auto: 0,
  /** Always joint consensus, left automatically once committed. */
  JointImplicit: 1,
  /** Always joint consensus; the application proposes the empty change that leaves it. */
  JointExplicit: 2,
} as const;
export type ConfChangeTransition = (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

/**
 * A membership change. An empty `changes` list means "leave the joint configuration".
 */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  /** Opaque application context (for example the new node's address). */
  readonly context?: Uint8Array;
}

/** Messages exchanged between Raft nodes, and local inputs given to `step`. */
export const MessageType = {
  /** Local: start an election. */
  Hup: 0,
  /** Local: leader sends heartbeats. */
  Beat: 1,
  /** Propose entries (local, or forwarded by a follower to its leader). */
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  PreVote: 7,
  PreVoteResp: 8,
  Snap: 9,
  Heartbeat: 10,
  HeartbeatResp: 11,
  /** Local: the driver could not deliver to `from`. */
  Unreachable: 12,
  /** Local: the driver finished (or failed) sending a snapshot to `from`. */
  SnapStatus: 13,
  /** Local: leader checks that a quorum is active. */
  CheckQuorum: 14,
  TransferLeader: 15,
  TimeoutNow: 16,
  ReadIndex: 17,
  ReadIndexResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * A Raft message. Fields a message type does not use are left at their defaults (0, false,
 * empty); the driver may encode only the fields that are set.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: number;
  readonly to: number;
  readonly term: number;
  /**
   * App: term of the entry at `index`. AppResp (reject): term of the follower's entry at
   * `rejectHint`, for fast backtracking. Vote/PreVote: term of the candidate's last entry.
   */
  readonly logTerm: number;
  /** App: index of the entry preceding `entries`. AppResp: last index accepted or rejected. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** AppResp (reject): the follower's guess of where the logs may match. */
  readonly rejectHint: number;
  readonly snapshot?: Snapshot;
  /** ReadIndex request context (echoed in heartbeats and read states); Vote: campaign kind. */
  readonly context?: Uint8Array;
}

/** Volatile state that the driver may want to observe; changes surface in `Ready.softState`. */
export const Role = {
  Follower: 0,
  Candidate: 1,
  Leader: 2,
  PreCandidate: 3,
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface SoftState {
  readonly leader: number;
  readonly role: Role;
}

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

/**
 * Everything the core asks its driver to do, in one batch. The driver MUST honour this order:
 *
 * 1. Persist `hardState` (if set), `snapshot` (if set) and `entries` to stable storage, durably
 *    (fsync) when `mustSync` is true. `entries` may overwrite a conflicting suffix of the log:
 *    the stored log is truncated after `entries[0].index - 1` first.
 * 2. Only then send `messages`: votes, append acknowledgements and appends carry promises that
 *    the persisted state backs.
 * 3. Apply `snapshot` (if set) and then `committedEntries` to the state machine, in order. For
 *    each committed entry of type ConfChange, call `applyConfChange` on the node. Committed
 *    entries are on a majority of disks whatever step 1 does here (a leader counts its own copy
 *    only from step 4 on), so when there is no `snapshot` the driver may apply them before step 1
 *    completes, as etcd does.
 * 4. Call `advance()`. The core then treats `entries` as stable (a leader counts its own copy
 *    toward the quorum only from here, so its own fsync is never skipped), and the committed
 *    entries as applied.
 *
 * `readStates` may be served once `committedEntries` up to their index have been applied.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** True when `hardState` or `entries` must be fsync'd before `messages` go out. */
  readonly mustSync: boolean;
}
