import type { Message } from '../../../src/raft/types.js';

/**
 * The simulated network between the nodes of one cluster: messages that were sent sit in flight
 * until the schedule delivers (any of them, in any order), drops or duplicates one. A partition
 * gives every node a side; messages between different sides are lost when sent and when
 * delivered. Nothing here knows about Raft beyond the `from` / `to` of a message.
 */
export class SimNetwork {
  private inFlight: Message[] = [];
  /** Node id → side; nodes not listed are on side 0. Empty when healed. */
  private sides = new Map<number, number>();

  /** Messages currently in flight, oldest first. */
  get pending(): readonly Message[] {
    return this.inFlight;
  }

  /** True when `a` and `b` are on the same side of the current partition. */
  connected(a: number, b: number): boolean {
    return (this.sides.get(a) ?? 0) === (this.sides.get(b) ?? 0);
  }

  /** Put `message` in flight; false (and the message is lost) when a partition separates its ends. */
  send(message: Message): boolean {
    if (!this.connected(message.from, message.to)) return false;
    this.inFlight.push(message);
    return true;
  }

  /** Remove and return the in-flight message chosen by `pick` (any integer ≥ 0), if any. */
  take(pick: number): Message | undefined {
    if (this.inFlight.length === 0) return undefined;
    return this.inFlight.splice(pick % this.inFlight.length, 1)[0];
  }

  /** Remove and return every in-flight message, oldest first. */
  takeAll(): Message[] {
    const all = this.inFlight;
    this.inFlight = [];
    return all;
  }

  /** Put a second copy of the in-flight message chosen by `pick` in flight. */
  duplicate(pick: number): void {
    if (this.inFlight.length === 0) return;
    this.inFlight.push(this.inFlight[pick % this.inFlight.length]!);
  }

  /** Split the nodes: `sideOf(id)` names each node's side. Replaces any earlier partition. */
  partition(ids: readonly number[], sideOf: (id: number) => number): void {
    this.sides = new Map(ids.map((id) => [id, sideOf(id)]));
  }

  /** Remove every partition. */
  heal(): void {
    this.sides.clear();
  }
}
