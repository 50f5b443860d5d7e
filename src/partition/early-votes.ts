import { type Message, MessageType } from '../raft/types.js';

/**
 * Vote requests for groups this broker does not host yet. A new group's preferred leader
 * campaigns as soon as it applies the metadata entry that creates the group, and its (pre-)vote
 * requests can reach the other replicas in the same frame as that entry's commit, before they
 * created the group: dropped, the campaign would fail, another replica would win after an
 * election timeout and the leader balancer would move leadership back later, under load. Kept
 * here for one election timeout, they are stepped when the group is added.
 *
 * Only the latest request per group and candidate is kept (a new campaign supersedes the old),
 * so what is held is bounded by groups × peers.
 */
export class EarlyVotes {
  private readonly byGroup = new Map<
    number,
    Map<number, { readonly at: number; readonly message: Message }>
  >();

  constructor(private readonly keepMs: number) {}

  /** Keeps `message` if it is a vote request. */
  keep(group: number, message: Message, now: number): void {
    if (message.type !== MessageType.Vote && message.type !== MessageType.PreVote) return;
    const requests = this.byGroup.get(group) ?? new Map();
    requests.set(message.from, { at: now, message });
    this.byGroup.set(group, requests);
  }

  /** The requests kept for `group` within the last `keepMs`, which are forgotten here. */
  take(group: number, now: number): Message[] {
    const requests = this.byGroup.get(group);
    if (!requests) return [];
    this.byGroup.delete(group);
    return [...requests.values()].filter((r) => now - r.at <= this.keepMs).map((r) => r.message);
  }

  /** Forgets the requests older than `keepMs`. */
  expire(now: number): void {
    for (const [group, requests] of this.byGroup) {
      for (const [from, r] of requests) if (now - r.at > this.keepMs) requests.delete(from);
      if (requests.size === 0) this.byGroup.delete(group);
    }
  }
}
