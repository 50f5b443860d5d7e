import type { Dispatcher } from 'undici';
import { call } from './http.js';
import type { Rng } from './rng.js';

/**
 * The harness's current idea of who leads each partition, refreshed in the background from
 * `GET /v1/topics/{topic}` on any broker that answers. Only a hint: it picks the targets of
 * leader faults and of direct (not forwarded) appends; correctness never depends on it.
 */
export class LeaderView {
  readonly #leaders = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(
    private readonly urls: ReadonlyMap<number, string>,
    private readonly topic: string,
    private readonly dispatcher: Dispatcher,
    private readonly rng: Rng,
  ) {}

  /** The last known leader of `partition`, if any. */
  leader(partition: number): number | undefined {
    return this.#leaders.get(partition);
  }

  /** Ask brokers in random order until one describes the topic (each gets `timeoutMs`). */
  refresh(timeoutMs = 1000): Promise<void> {
    this.#refreshing ??= this.#refresh(timeoutMs).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(timeoutMs: number): Promise<void> {
    for (const id of this.rng.shuffle([...this.urls.keys()])) {
      try {
        const res = await call(this.dispatcher, `${this.urls.get(id)}/v1/topics/${this.topic}`, {
          timeoutMs,
        });
        if (res.status !== 200 || !Array.isArray(res.body?.partitions)) continue;
        for (const p of res.body.partitions as { partition: number; leader: number | null }[]) {
          if (p.leader === null) this.#leaders.delete(p.partition);
          else this.#leaders.set(p.partition, p.leader);
        }
        return;
      } catch {
        // try the next broker
      }
    }
  }

  /** Refresh every `intervalMs` until {@link stop}. */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#refreshing;
  }
}
