import type { GroupMessage } from './transport.js';

/**
 * Default catch-up bandwidth of one broker, in bytes per second. Moving a replica of a 1 GiB
 * partition under 100 produce requests/s on one quiet machine (BENCHMARKS.md, bench:move): at
 * 50 MiB/s the produce p99 during the move was 2.5–4.1× its steady value (3× is the target), at
 * 25 MiB/s 1.8–2.1×, for a move of 42 s instead of 21 s.
 */
export const DEFAULT_MOVE_BANDWIDTH = 25 * 1024 * 1024;

/** The bucket holds at most this much of a second's allowance, so an idle bucket allows a short burst only. */
const BURST_SECONDS = 0.1;

interface Held {
  readonly peer: number;
  readonly message: GroupMessage;
  readonly bytes: number;
}

/**
 * A token bucket for the appends a broker sends to learners (replicas catching up during a move),
 * so catch-up cannot starve live traffic: appends go out while the bucket is not empty (taking
 * their entry bytes from it, possibly into debt, so an append larger than the bucket still
 * passes), and wait in arrival order otherwise. Heartbeats and everything sent to voters never
 * come here. Raft tolerates the delay: a held append simply stays in flight, and the leader's
 * in-flight limits bound how much is held.
 *
 * Every append to a learner must come here, empty ones too (they cost nothing but wait their
 * turn): an append that overtook held ones would find a gap in the learner's log, be rejected, and
 * make the leader send everything from the learner's last known entry again, behind the held
 * copies — enough, under a tight limit, to bury the learner's progress under resends.
 */
export class LearnerThrottle {
  private tokens: number;
  private last: number;
  private readonly queue: Held[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Entry bytes sent to learners so far. */
  bytesSent = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly send: (peer: number, messages: GroupMessage[]) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError('learner bandwidth must be a positive number of bytes/s');
    this.tokens = this.capacity;
    this.last = now();
  }

  private get capacity(): number {
    return this.bytesPerSecond * BURST_SECONDS;
  }

  /** Send `message` (an append of `bytes` entry bytes) to learner `peer` now, or once the bucket allows. */
  offer(peer: number, message: GroupMessage, bytes: number): void {
    // A leader probing a learner resends its append at every heartbeat answer; while the first
    // copy is held here, the others would only lengthen the queue.
    if (bytes > 0 && this.queue.some((h) => h.peer === peer && sameAppend(h.message, message))) return;
    this.queue.push({ peer, message, bytes });
    this.drain();
  }

  /** Appends waiting for the bucket. */
  get held(): number {
    return this.queue.length;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }

  private drain(): void {
    this.refill();
    const out = new Map<number, GroupMessage[]>();
    while (this.queue.length > 0 && (this.tokens > 0 || this.queue[0]!.bytes === 0)) {
      const { peer, message, bytes } = this.queue.shift()!;
      this.tokens -= bytes;
      this.bytesSent += bytes;
      const list = out.get(peer);
      if (list) list.push(message);
      else out.set(peer, [message]);
    }
    for (const [peer, messages] of out) this.send(peer, messages);
    if (this.queue.length > 0 && this.timer === undefined) {
      const waitMs = Math.max(1, Math.ceil((-this.tokens / this.bytesPerSecond) * 1000));
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, waitMs);
    }
  }

  /** Drop what is held (the host is closing; Raft resends after a restart anyway). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** The same entries of the same group after the same index, from the same leader's term. */
function sameAppend(a: GroupMessage, b: GroupMessage): boolean {
  return (
    a.group === b.group &&
    a.message.term === b.message.term &&
    a.message.index === b.message.index &&
    a.message.entries.length === b.message.entries.length
  );
}
