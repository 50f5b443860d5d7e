import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.js';
import { type ApplyResult, PartitionState } from '../../src/statemachine/partition-state.js';
import type { ProducerTag } from '../../src/statemachine/record-batch.js';
import { confEntry, dataEntry, garbageEntry, noopEntry } from './entries.js';

/**
 * Offset translation and producer dedup across everything that can happen to a partition:
 * appends, no-ops, configuration entries, garbage, retries, gaps, fencing, epoch bumps, prefix
 * truncation, snapshot installation, checkpoints and crashes that lose the newest rows.
 *
 * Replica A applies every entry and never restarts; it is checked against a plain model.
 * Replica B applies the same entries but is restarted (checkpoint + rows + re-applied log) and
 * replaced by snapshots along the way. After every step both must give identical results and
 * identical snapshot bytes. fast-check prints the seed and path of any failure.
 */

const PRODUCER_IDS = ['p0', 'p1', 'p2', 'p3'];
const WINDOW = 5;

type Mode = 'next' | 'retry' | 'gap' | 'oldEpoch' | 'bump' | 'bumpBad';
type Op =
  | { kind: 'data'; count: number; producer?: { who: number; mode: Mode; k: number } }
  | { kind: 'noop' | 'conf' | 'checkpoint' | 'installFromA' }
  | { kind: 'garbage'; data: Uint8Array }
  | { kind: 'truncate'; frac: number }
  | { kind: 'restart'; lostRows: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      count: fc.integer({ min: 1, max: 4 }),
      producer: fc.option(
        fc.record({
          // Mostly two busy producers, so long sequences (and their retries) build up.
          who: fc.constantFrom(0, 0, 0, 1, 1, 2, 3),
          mode: fc.constantFrom<Mode>(
            'next',
            'next',
            'next',
            'retry',
            'retry',
            'gap',
            'oldEpoch',
            'bump',
            'bumpBad',
          ),
          k: fc.integer({ min: 0, max: 6 }),
        }),
        { nil: undefined, freq: 2 },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.constantFrom<Op>({ kind: 'noop' }, { kind: 'conf' }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('garbage' as const),
      data: fc.uint8Array({ minLength: 1, maxLength: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      frac: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom<Op>({ kind: 'checkpoint' }, { kind: 'installFromA' }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('restart' as const), lostRows: fc.integer({ min: 0, max: 2 }) }),
  },
);

/** The plain model of what replica A must compute. */
class Model {
  entries: Array<{ index: number; baseOffset: number; count: number }> = [];
  next = 0;
  logStart = 0;
  /** Least recently appended first; every batch of the current epoch. */
  producers: Array<{
    id: string;
    epoch: number;
    batches: Array<{ seq: number; base: number; last: number }>;
  }> = [];
  constructor(readonly maxProducers: number) {}

  expected(entry: Entry, tag: ProducerTag | undefined, count: number | undefined): Partial<ApplyResult> {
    if (count === undefined)
      return { outcome: entry.data.length === 0 || entry.type !== 0 ? 'empty' : 'rejected' };
    if (tag !== undefined) {
      const p = this.producers.find((x) => x.id === tag.id);
      const ooo = { outcome: 'rejected', code: 'OUT_OF_ORDER_SEQUENCE' } as const;
      if (p === undefined || tag.epoch > p.epoch) {
        if (tag.sequence !== 0) return ooo;
      } else if (tag.epoch < p.epoch) {
        return { outcome: 'rejected', code: 'PRODUCER_FENCED' };
      } else if (tag.sequence !== p.batches.at(-1)!.seq + 1) {
        const hit = p.batches.slice(-WINDOW).find((b) => b.seq === tag.sequence);
        return hit === undefined ? ooo : { outcome: 'duplicate', baseOffset: hit.base, lastOffset: hit.last };
      }
      const kept = p !== undefined && p.epoch === tag.epoch ? p.batches : [];
      this.producers = this.producers.filter((x) => x.id !== tag.id);
      this.producers.push({
        id: tag.id,
        epoch: tag.epoch,
        batches: [...kept, { seq: tag.sequence, base: this.next, last: this.next + count - 1 }],
      });
      if (this.producers.length > this.maxProducers) this.producers.shift();
    }
    this.entries.push({ index: entry.index, baseOffset: this.next, count });
    this.next += count;
    return { outcome: 'appended', baseOffset: this.next - count, lastOffset: this.next - 1 };
  }

  truncate(offset: number) {
    if (offset <= this.logStart) return;
    this.logStart = offset;
    this.entries = this.entries.filter((e) => e.baseOffset + e.count > offset);
  }
}

/** The first answer of `s` about offsets that differs from the model's, or `undefined`. */
function translationMismatch(s: PartitionState, m: Model, lastIndex: number): string | undefined {
  if (s.highWatermark !== m.next) return `high watermark ${s.highWatermark}, model ${m.next}`;
  if (s.logStartOffset !== m.logStart) return `log start ${s.logStartOffset}, model ${m.logStart}`;
  if (s.firstRetainedIndex !== m.entries[0]?.index) return `first retained ${s.firstRetainedIndex}`;
  const byIndex = new Map(m.entries.map((e) => [e.index, e]));
  for (let i = 0; i <= lastIndex + 1; i++) {
    const got = s.entryAt(i);
    const want = byIndex.get(i);
    if (got?.baseOffset !== want?.baseOffset || got?.count !== want?.count) return `entryAt(${i})`;
  }
  for (let o = Math.max(0, m.logStart - 2); o <= m.next; o++) {
    const want =
      o < m.logStart ? undefined : m.entries.find((e) => e.baseOffset <= o && o < e.baseOffset + e.count);
    const got = s.locate(o);
    if (got?.index !== want?.index || got?.baseOffset !== want?.baseOffset) return `locate(${o})`;
  }
  return undefined;
}

/** What a result says, without the decoded batch and row (compared through the snapshots). */
const essence = (r: ApplyResult) =>
  r.outcome === 'appended'
    ? { outcome: r.outcome, index: r.index, baseOffset: r.baseOffset, lastOffset: r.lastOffset }
    : r;

describe('partition state (property): replicas agree and offsets stay consistent', () => {
  it('across appends, retries, epochs, no-ops, truncation, snapshots and restarts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 3, 1000),
        fc.boolean(),
        fc.array(arbOp, { minLength: 1, maxLength: 150, size: 'max' }),
        (maxProducers, deleteCoveredRows, ops) => {
          const a = new PartitionState({ maxProducers });
          const model = new Model(maxProducers);
          const log: Entry[] = [];
          const resultsOfA: ApplyResult[] = [];
          // Replica B and what it has persisted: a checkpoint and rows keyed by index.
          let b = new PartitionState({ maxProducers });
          let checkpoint: Uint8Array | undefined;
          let rows = new Map<number, Uint8Array>();
          const applyB = (entry: Entry) => {
            const r = b.apply(entry);
            if (r.outcome === 'appended') rows.set(r.index, r.row);
            return r;
          };
          const persistCheckpoint = () => {
            checkpoint = b.snapshot();
            // Rows the checkpoint covers may be deleted, or kept: a restart skips them.
            if (!deleteCoveredRows) return;
            const covered = b.appliedIndex;
            rows = new Map([...rows].filter(([i]) => i > covered));
          };
          // The client side of each producer: its epoch and next sequence.
          const clients = PRODUCER_IDS.map(() => ({ epoch: 0, next: 0 }));
          let expectedNextOffset = 0;

          for (const op of ops) {
            const index = log.length + 1;
            if (op.kind === 'data' || op.kind === 'noop' || op.kind === 'conf' || op.kind === 'garbage') {
              let entry: Entry;
              let tag: ProducerTag | undefined;
              let count: number | undefined;
              if (op.kind === 'data') {
                count = op.count;
                if (op.producer !== undefined) {
                  const c = clients[op.producer.who]!;
                  const { mode, k } = op.producer;
                  const [epoch, sequence] =
                    mode === 'retry'
                      ? [c.epoch, Math.max(0, c.next - 1 - k)]
                      : mode === 'gap'
                        ? [c.epoch, c.next + 1 + k]
                        : mode === 'oldEpoch' && c.epoch > 0
                          ? [c.epoch - 1, c.next]
                          : mode === 'bump'
                            ? [c.epoch + 1, 0]
                            : mode === 'bumpBad'
                              ? [c.epoch + 1, 1 + k]
                              : [c.epoch, c.next];
                  tag = { id: PRODUCER_IDS[op.producer.who]!, epoch, sequence };
                }
                entry = dataEntry(index, count, tag);
              } else if (op.kind === 'garbage') {
                entry = garbageEntry(index, op.data);
              } else {
                entry = op.kind === 'noop' ? noopEntry(index) : confEntry(index);
              }
              log.push(entry);
              const rA = a.apply(entry);
              resultsOfA.push(rA);
              // A garbage entry that happens to be a valid batch is data; let the model know.
              if (rA.outcome === 'appended' && count === undefined) count = rA.batch.records.length;
              expect(rA).toMatchObject(model.expected(entry, tag, count));
              if (rA.outcome === 'appended') {
                // Dense, never reused.
                expect(rA.baseOffset).toBe(expectedNextOffset);
                expectedNextOffset = rA.lastOffset + 1;
                if (tag !== undefined) {
                  const c = clients[PRODUCER_IDS.indexOf(tag.id)]!;
                  c.epoch = tag.epoch;
                  c.next = tag.sequence + 1;
                }
              }
              expect(essence(applyB(entry))).toEqual(essence(rA));
            } else if (op.kind === 'truncate') {
              const offset = a.logStartOffset + Math.floor(op.frac * (a.highWatermark - a.logStartOffset));
              a.truncatePrefix(offset);
              model.truncate(offset);
              b.truncatePrefix(offset);
              persistCheckpoint(); // the protocol: a truncation is persisted with a checkpoint
            } else if (op.kind === 'checkpoint') {
              persistCheckpoint();
            } else if (op.kind === 'installFromA') {
              b.restore(a.snapshot());
              persistCheckpoint();
            } else if (op.kind === 'restart') {
              // Crash: the newest rows may not have been committed; the log entries were.
              const kept = [...rows.keys()].sort((x, y) => x - y);
              for (const i of kept.slice(kept.length - op.lostRows)) rows.delete(i);
              b = new PartitionState({ maxProducers });
              if (checkpoint !== undefined) b.restore(checkpoint);
              for (const i of [...rows.keys()].sort((x, y) => x - y)) b.replayRow(rows.get(i)!);
              // Raft applies again what follows the applied index; results must not change.
              for (let i = b.appliedIndex + 1; i <= log.length; i++) {
                expect(essence(applyB(log[i - 1]!))).toEqual(essence(resultsOfA[i - 1]!));
              }
            }
            expect(b.appliedIndex).toBe(a.appliedIndex);
            expect(b.snapshot()).toEqual(a.snapshot());
            expect(translationMismatch(a, model, log.length)).toBeUndefined();
            expect(translationMismatch(b, model, log.length)).toBeUndefined();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
