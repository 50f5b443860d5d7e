/** The nemeses' waits between operations: each ends early, and none starts, once stopped. */
export class StoppableSleep {
  #stopped = false;
  #wake: (() => void) | undefined;

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Sleep `ms`, or less if stopped meanwhile. */
  sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  /** End the sleep going on, and every later one at once. */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }
}
