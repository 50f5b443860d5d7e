import type { Message } from './types.js';

/** A read request waiting for a quorum to confirm that the leader was still the leader. */
export interface ReadIndexStatus {
  readonly request: Message;
  /** Commit index when the request arrived: the read may be served once it is applied. */
  readonly index: number;
  readonly acks: Set<number>;
}

const keyOf = (context: Uint8Array): string =>
  Buffer.from(context.buffer, context.byteOffset, context.byteLength).toString('latin1');

/**
 * Linearizable reads by ReadIndex (Raft thesis §6.4): the leader records its commit index,
 * broadcasts a heartbeat carrying the request's context, and answers once a quorum echoed it.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  addRequest(index: number, request: Message): void {
    const key = keyOf(request.context!);
    if (this.pending.has(key)) return;
    this.pending.set(key, { request, index, acks: new Set() });
    this.queue.push(key);
  }

  /** Record that `id` echoed `context`; returns the ids that acknowledged it so far. */
  recvAck(id: number, context: Uint8Array): ReadonlySet<number> | undefined {
    const status = this.pending.get(keyOf(context));
    if (!status) return undefined;
    status.acks.add(id);
    return status.acks;
  }

  /**
   * The request with `context` is confirmed: it and every request queued before it are released
   * (a quorum that confirmed a later heartbeat also confirms the earlier ones).
   */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = keyOf(context);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return released.map((k) => {
      const s = this.pending.get(k)!;
      this.pending.delete(k);
      return s;
    });
  }

  lastPendingContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)!.request.context;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
