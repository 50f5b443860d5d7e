import type { RaftHost } from '../partition/host.js';
import { Role } from '../raft/types.js';

/** How often leadership placement is checked, and how long a group waits after a transfer. */
const CHECK_INTERVAL_MS = 1000;
const RETRY_AFTER_MS = 5000;

/**
 * Keeps leaders spread over brokers: every group has a preferred leader (its first replica, and
 * placement spreads first replicas evenly), and a broker leading a group it is not preferred for
 * hands leadership back by leadership transfer (Raft thesis §3.10) — only once the preferred
 * broker is alive and its replica holds the whole log, so the move costs no availability.
 */
export class LeaderBalancer {
  private nextCheck = 0;
  private readonly lastTransfer = new Map<number, number>();

  constructor(
    private readonly host: RaftHost,
    private readonly self: number,
  ) {}

  /** Check (at most once per interval) and start the transfers that are due. */
  run(preferredLeaders: ReadonlyMap<number, number>, now = Date.now()): void {
    if (now < this.nextCheck) return;
    this.nextCheck = now + CHECK_INTERVAL_MS;
    const aliveWithin = this.host.timing.electionTick * this.host.timing.tickMs;
    for (const [group, preferred] of preferredLeaders) {
      if (preferred === this.self || this.host.groupState(group)?.role !== Role.Leader) continue;
      if (now - this.host.lastHeardFrom(preferred) > aliveWithin) continue;
      if (now - (this.lastTransfer.get(group) ?? 0) < RETRY_AFTER_MS) continue;
      const status = this.host.status(group);
      const match = status?.progress?.get(preferred)?.match;
      if (status === undefined || match !== status.lastIndex) continue;
      this.lastTransfer.set(group, now);
      this.host.transferLeader(group, preferred);
    }
    for (const group of this.lastTransfer.keys())
      if (!preferredLeaders.has(group)) this.lastTransfer.delete(group);
  }
}
