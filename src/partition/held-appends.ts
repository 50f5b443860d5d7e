import { type Message, MessageType } from '../raft/types.js';

/**
 * How long, in host ticks, a leader's empty appends may wait for a later append to the same member:
 * those held during one tick go out at the tick after next at the latest (50–100 ms by default).
 */
export const HOLD_TICKS = 2;

/**
 * A leader's empty appends carry a new commit index (Raft sends one each time the commit index
 * moves) or ask a member whether it holds what was sent (after a heartbeat answer). Under load the
 * next append with entries to that member follows within milliseconds and carries as much: held
 * back until then, `withoutRedundantAppends` drops them, and the member runs one turn and answers
 * once instead of twice. With many partitions a group's next record often comes several host turns
 * later, so holding them for a single turn left most of them in place.
 *
 * Holding them is safe as any delay is in Raft; it only makes a member that gets no more entries
 * learn the commit index later (heartbeats, never held, carry it too as far as the member's log is
 * known to reach). Raft counts a held append as sent, so its heartbeat clock for that member starts
 * over: the member may hear nothing for up to HOLD_TICKS + heartbeatTick ticks (200 ms by default),
 * well within an election timeout (500 ms at least).
 *
 * Splits `messages` into those to send now and the empty appends to hold, each in its order.
 */
export function splitEmptyAppends(messages: readonly Message[]): [now: Message[], held: Message[]] {
  const now: Message[] = [];
  const held: Message[] = [];
  for (const m of messages) {
    if (m.type === MessageType.App && m.entries.length === 0) held.push(m);
    else now.push(m);
  }
  return [now, held];
}
