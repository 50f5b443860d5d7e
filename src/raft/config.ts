import type { RaftStorage } from './storage.js';

/** Settings of one Raft node. Times are in ticks; the driver decides how long a tick is. */
export interface RaftConfig {
  /** This node's id (> 0). */
  readonly id: number;
  /** Stable storage, read-only for the core. */
  readonly storage: RaftStorage;
  /**
   * A follower that hears nothing from a leader for a randomized time in
   * `[electionTick, 2 * electionTick)` ticks starts an election. Default 10.
   */
  readonly electionTick?: number;
  /** A leader sends heartbeats every `heartbeatTick` ticks. Must be < electionTick. Default 1. */
  readonly heartbeatTick?: number;
  /** Index the state machine has already applied (after a restart). Default 0. */
  readonly applied?: number;
  /** Most entry bytes in one append message (at least one entry is always sent). Default 1 MiB. */
  readonly maxSizePerMsg?: number;
  /** Most append messages in flight to one follower in replicate state. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Most entry bytes in flight to one follower (0 = no limit). Default 0. */
  readonly maxInflightBytes?: number;
  /** Most bytes of proposed but uncommitted entries a leader accepts (0 = no limit). Default 0. */
  readonly maxUncommittedEntriesSize?: number;
  /** Most committed entry bytes handed out in one Ready (at least one entry). Default 4 MiB. */
  readonly maxCommittedSizePerReady?: number;
  /** Run a pre-election first, so a partitioned node cannot disrupt the cluster (§9.6). Default true. */
  readonly preVote?: boolean;
  /**
   * A leader steps down when it has not heard from a quorum within an election timeout; followers
   * that heard from a leader within one ignore vote requests (leader lease). Default true.
   */
  readonly checkQuorum?: boolean;
  /** Seeded random source returning an integer in `[0, n)`: the only randomness of the core. */
  readonly randomInt: (n: number) => number;
}

export interface ResolvedRaftConfig extends Required<RaftConfig> {}

export function resolveConfig(c: RaftConfig): ResolvedRaftConfig {
  const r: ResolvedRaftConfig = {
    electionTick: 10,
    heartbeatTick: 1,
    applied: 0,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    maxInflightBytes: 0,
    maxUncommittedEntriesSize: 0,
    maxCommittedSizePerReady: 4 * 1024 * 1024,
    preVote: true,
    checkQuorum: true,
    ...c,
  };
  if (!Number.isSafeInteger(r.id) || r.id <= 0) throw new RangeError(`raft: invalid node id ${r.id}`);
  if (r.heartbeatTick <= 0) throw new RangeError('raft: heartbeatTick must be > 0');
  if (r.electionTick <= r.heartbeatTick) throw new RangeError('raft: electionTick must be > heartbeatTick');
  if (r.maxInflightMsgs <= 0) throw new RangeError('raft: maxInflightMsgs must be > 0');
  return r;
}
