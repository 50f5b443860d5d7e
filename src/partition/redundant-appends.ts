import { type Message, MessageType } from '../raft/types.js';

/**
 * A busy leader's Ready often holds, for each follower, an empty append that only carries a new
 * commit index (Raft sends one as soon as the commit index moves) followed by an append with the
 * entries proposed since, which carries that commit index too. The empty one tells the follower
 * nothing the later one does not: the follower would answer both, and run a turn of its own for
 * each. Leaving it out is safe as any lost message is in Raft, and costs nothing: the later
 * append takes the follower at least as far.
 *
 * Returns `messages` without every empty append that a later append of the same list to the same
 * member, in the same term, makes redundant: one whose log position and commit index are both at
 * least the empty one's. Everything else keeps its order.
 */
export function withoutRedundantAppends(messages: readonly Message[]): readonly Message[] {
  let kept: Message[] | undefined;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (isRedundant(m, messages, i)) kept ??= messages.slice(0, i);
    else kept?.push(m);
  }
  return kept ?? messages;
}

function isRedundant(m: Message, messages: readonly Message[], at: number): boolean {
  if (m.type !== MessageType.App || m.entries.length > 0) return false;
  for (let j = at + 1; j < messages.length; j++) {
    const later = messages[j]!;
    if (
      later.type === MessageType.App &&
      later.to === m.to &&
      later.term === m.term &&
      later.index >= m.index &&
      later.commit >= m.commit
    ) {
      return true;
    }
  }
  return false;
}
