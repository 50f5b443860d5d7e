import { isErrorCode } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { RaftHost } from '../partition/host.js';
import { type Entry, Role } from '../raft/types.js';
import type { PartitionState } from '../statemachine/partition-state.js';
import { decodeRecordBatch } from '../statemachine/record-batch.js';
import { encodeTruncatePrefix, type TruncatePrefix } from '../statemachine/truncate-prefix.js';
import { hasRetention, type RetentionLimits, UNLIMITED } from './topic-configs.js';

/** Most entry bytes one check reads per partition: the next check goes on from there. */
const MAX_SCAN_BYTES = 16 * 1024 * 1024;
/** Entry bytes asked for per read (at least one entry comes back). */
const READ_BYTES = 64 * 1024;

/** Entries `[lo, hi)` of the partition's log, at most about `maxBytes`, at least one. */
export type ReadEntries = (lo: number, hi: number, maxBytes: number) => Promise<readonly Entry[]>;

/**
 * How far retention moves a partition's log start, as the command the leader proposes, or
 * `undefined` when nothing is due. Walks the retained entries from the oldest and drops each
 * whose timestamp is older than `now - limits.ms`, or while the rest exceeds `limits.bytes`; it
 * stops at the first entry it keeps, so the log start lands on an entry boundary.
 */
export async function retentionCut(
  state: PartitionState,
  limits: RetentionLimits,
  now: number,
  read: ReadEntries,
): Promise<TruncatePrefix | undefined> {
  const first = state.firstRetainedIndex;
  const sizeDue = limits.bytes !== UNLIMITED && state.retainedBytes > limits.bytes;
  if (first === undefined || (limits.ms === UNLIMITED && !sizeDue)) return undefined;
  // The state moves on while entries are read: the command carries what this walk saw, and a
  // replica applies it only if the log start is still `fromOffset` (see truncate-prefix.ts).
  const fromOffset = state.logStartOffset;
  const retained = state.retainedBytes;
  const applied = state.appliedIndex;
  let bytes = 0;
  let logStartOffset = fromOffset;
  let index = first;
  while (index <= applied && bytes < MAX_SCAN_BYTES) {
    const entries = await read(index, applied + 1, READ_BYTES);
    if (entries.length === 0) break;
    for (const e of entries) {
      index = e.index + 1;
      const at = state.entryAt(e.index);
      if (at === undefined) continue; // no records: a no-op, a duplicate, a truncation...
      const expired =
        (limits.ms !== UNLIMITED && decodeRecordBatch(e.data).timestamp < now - limits.ms) ||
        (limits.bytes !== UNLIMITED && retained - bytes > limits.bytes);
      if (!expired) return cut();
      bytes += e.data.byteLength;
      logStartOffset = at.baseOffset + at.count;
    }
  }
  return cut();

  function cut(): TruncatePrefix | undefined {
    return logStartOffset > fromOffset ? { fromOffset, logStartOffset, bytes } : undefined;
  }
}

/** A partition with retention, hosted here. */
export interface RetentionTarget {
  readonly group: number;
  readonly state: PartitionState;
  readonly limits: RetentionLimits;
}

export interface RetentionOptions {
  readonly host: RaftHost;
  /** Reads entries of a partition group's log. */
  readonly read: (group: number, lo: number, hi: number, maxBytes: number) => Promise<readonly Entry[]>;
  readonly logger?: Logger;
  /** Milliseconds since the epoch; defaults to Date.now. */
  readonly now?: () => number;
}

/**
 * Retention on a broker: for each partition it leads whose topic limits retention, works out the
 * cut ({@link retentionCut}) and proposes it as a truncate-prefix entry, so every replica moves
 * its log start at the same applied index. One check at a time per partition; a failed one (lost
 * leadership, timeout) is simply done again by the next.
 */
export class RetentionEnforcer {
  readonly #o: RetentionOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #running = new Set<number>();

  constructor(o: RetentionOptions) {
    this.#o = o;
    this.#log = o.logger ?? silentLogger;
    this.#now = o.now ?? Date.now;
  }

  /** Start a check of every target this broker leads (those still checking are left alone). */
  run(targets: Iterable<RetentionTarget>): void {
    for (const t of targets) {
      if (!hasRetention(t.limits) || this.#running.has(t.group)) continue;
      if (this.#o.host.groupState(t.group)?.role !== Role.Leader) continue;
      this.#running.add(t.group);
      void this.#enforce(t).finally(() => this.#running.delete(t.group));
    }
  }

  async #enforce({ group, state, limits }: RetentionTarget): Promise<void> {
    try {
      const cut = await retentionCut(state, limits, this.#now(), (lo, hi, max) =>
        this.#o.read(group, lo, hi, max),
      );
      if (cut === undefined) return;
      await this.#o.host.propose(group, encodeTruncatePrefix(cut));
      this.#log.debug({ group, ...cut }, 'retention moved the log start');
    } catch (err) {
      // Compacted under our feet (another cut landed), leadership lost, timeout: next time.
      const level = isErrorCode(err, 'LOG_COMPACTED') ? 'debug' : 'info';
      this.#log[level]({ err, group }, 'retention check did not complete; the next one retries');
    }
  }
}
