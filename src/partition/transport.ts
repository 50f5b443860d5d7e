import type { Message } from '../raft/types.js';

/** A Raft message addressed to one group. */
export interface GroupMessage {
  readonly group: number;
  readonly message: Message;
}

/**
 * Broker-to-broker delivery of Raft messages. Everything queued for one peer during one turn of
 * the event loop travels in ONE frame; an empty frame is the broker-level heartbeat that keeps
 * quiesced groups' followers from starting elections while this broker is alive.
 *
 * Delivery is best effort (Raft tolerates loss, duplication and reordering across connections);
 * messages to an unreachable peer are dropped and reported through `onUnreachable`.
 */
export interface PeerTransport {
  /** This broker's id. */
  readonly self: number;
  /** Queue messages for `peer` (may be empty: a heartbeat); flushed at the end of the turn. */
  send(peer: number, messages: readonly GroupMessage[]): void;
  /** Write what is queued now, one frame per peer, instead of at the end of the turn. */
  flush(): void;
  /** Register the receiver of authenticated frames (`messages` empty for a heartbeat). */
  onReceive(handler: (from: number, messages: readonly GroupMessage[]) => void): void;
  /** Register the receiver of "could not deliver to peer" reports. */
  onUnreachable(handler: (peer: number, messages: readonly GroupMessage[]) => void): void;
  /** Add or change a peer's address (`host:port`). */
  setPeer(id: number, address: string): void;
  removePeer(id: number): void;
  /** Counters for metrics: frames and messages in and out, frames rejected, bytes. */
  stats(): TransportStats;
  close(): Promise<void>;
}

/**
 * What peer connections carry for rollback detection (see `rollback-guard.ts`): every data frame
 * carries its sender's latest durable sync counter, and the acceptor of a connection answers the
 * dialer's handshake with the highest counter it has seen from the dialer. Called from socket
 * callbacks: must not throw.
 */
export interface SyncCounterExchange {
  /** This broker's latest durable sync counter, stamped on every frame as it is written. */
  own(): number;
  /** A frame from `peer`, accepted, carried `counter`. */
  received(peer: number, counter: number): void;
  /** The highest counter seen from `peer`: the answer to its handshake. */
  seenFrom(peer: number): number;
  /** `peer`, connected to, answered that the highest counter it has seen from this broker is `counter`. */
  answered(peer: number, counter: number): void;
}

/** The exchange of a transport that takes no part in rollback detection: it sends 0 and learns nothing. */
export const NO_SYNC_COUNTERS: SyncCounterExchange = {
  own: () => 0,
  received: () => {},
  seenFrom: () => 0,
  answered: () => {},
};

export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Frames dropped because they failed to decode or to authenticate. */
  framesRejected: number;
  /** Connections refused at the handshake (wrong secret, unknown peer). */
  handshakesRejected: number;
}

/** Counters at zero: where every transport's count starts. */
export function zeroStats(): TransportStats {
  return {
    framesSent: 0,
    framesReceived: 0,
    messagesSent: 0,
    messagesReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    framesRejected: 0,
    handshakesRejected: 0,
  };
}
