import type { RaftConfig } from './config.js';
import type { ConfChange, ConfState, HardState, Message, Ready, Role } from './types.js';

/** Replication state of one follower, as the leader sees it. */
export const ProgressState = { Probe: 0, Replicate: 1, Snapshot: 2 } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  /** Heard from within the last election timeout (meaningful on the leader only). */
  readonly recentActive: boolean;
}

/** A snapshot of a node's state for observers (metrics, tests, status pages). */
export interface Status {
  readonly id: number;
  readonly hardState: HardState;
  readonly role: Role;
  readonly leader: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** Set while a leadership transfer to that node is in progress (leader only). */
  readonly leadTransferee: number;
  /** Per-node replication progress; only on the leader. */
  readonly progress?: ReadonlyMap<number, ProgressStatus>;
}

/**
 * The pure Raft node: the driver feeds it time (`tick`), messages (`step`) and requests
 * (`propose`, `proposeConfChange`, `transferLeader`, `readIndex`), takes its output with `ready()`,
 * carries it out in the order documented on {@link Ready}, then calls `advance()`.
 *
 * No method blocks, performs I/O or reads a clock. Methods that are refused throw a
 * `RaftlogError` (`PROPOSAL_DROPPED` when a proposal cannot be accepted right now).
 */
export declare class RawNodeApi {
  constructor(config: RaftConfig);
  readonly id: number;
  /** Advance logical time by one tick. */
  tick(): void;
  /** Start an election now (a pre-election first when PreVote is on). */
  campaign(): void;
  /** Propose application data; forwarded to the leader when this node is a follower. */
  propose(data: Uint8Array): void;
  /** Propose a membership change (refused while another one is pending). */
  proposeConfChange(cc: ConfChange): void;
  /** Feed a message received from a peer. Local message types are rejected. */
  step(message: Message): void;
  /** Ask the leader to hand leadership to `to` (caught up first, then TimeoutNow). */
  transferLeader(to: number): void;
  /** Request a linearizable read point; answered in `Ready.readStates` with the same context. */
  readIndex(context: Uint8Array): void;
  /** Apply a committed ConfChange entry's change; returns the membership now in force. */
  applyConfChange(cc: ConfChange): ConfState;
  /** The driver could not deliver a message to `id`. */
  reportUnreachable(id: number): void;
  /** The driver finished sending a snapshot to `id` (`ok` false if it failed). */
  reportSnapshot(id: number, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(): void;
  status(): Status;
}
