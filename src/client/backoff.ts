/** Retry pacing shared by the client, producer and consumer. */

/** Exponential backoff settings. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  readonly initialMs: number;
  /** Longest delay, in ms. */
  readonly maxMs: number;
}

/**
 * Delay before retry number `attempt` (1 for the first): `initialMs · 2^(attempt-1)` capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so clients do not retry in lockstep.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt - 1, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Resolve after `ms`, or reject with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
