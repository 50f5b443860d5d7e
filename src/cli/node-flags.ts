/**
 * The V8 flags a broker's `node` runs with: the `raftlog` command's first line passes them, and
 * whatever starts brokers with `node` itself (`raftlog dev`, benchmarks, the jepsen-like suite)
 * passes these.
 *
 * `--initial-old-space-size`: V8 sizes its old-generation limit from the live heap, and with it
 * the budget of external memory (the ArrayBuffers that hold record bytes) allowed before a full
 * mark-compact. A broker's live heap is small (~17 MB) while tens of MB/s of record bytes pass
 * through buffers, so without a larger floor it ran a mark-compact every ~250 ms moving 100 KiB
 * batches (a fifth of a follower's CPU). 64 MB costs at most that much more resident memory.
 */
export const BROKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];
