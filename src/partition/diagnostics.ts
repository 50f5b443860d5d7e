import diagnosticsChannel from 'node:diagnostics_channel';

/**
 * Diagnostics channels of the multi-Raft host (node:diagnostics_channel): free when nobody
 * subscribes. Every message names the broker it comes from, so several brokers in one process
 * (tests, embedding) can be told apart.
 */

/** One turn of the host loop made its batch durable (or written, when `sync` is false). */
export interface TurnEvent {
  readonly broker: number;
  /** Groups whose Ready went into the batch. */
  readonly readies: number;
  readonly sync: boolean;
  readonly durationMs: number;
}

/** This broker's replica of a group changed role or learnt of a new leader. */
export interface LeadershipEvent {
  readonly broker: number;
  readonly group: number;
  readonly term: number;
  /** Broker id of the leader, 0 when none is known. */
  readonly leader: number;
}

export const turnChannel = diagnosticsChannel.channel('raftlog:host:turn');
export const leadershipChannel = diagnosticsChannel.channel('raftlog:raft:leadership');
