import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ErrorCode, isErrorCode } from '../../src/errors.js';
import { LocalTransport } from '../../src/partition/local-transport.js';
import { FLUSH_MS, gateVerdict, RollbackGuard } from '../../src/partition/rollback-guard.js';
import type { GroupMessage } from '../../src/partition/transport.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { entries } from '../storage/log-store-conformance.js';

const DIR = '/data/broker-1';

/** A store that has made `n` synced batches. */
function storeWithSyncs(n: number): MemoryLogStore {
  const store = new MemoryLogStore();
  for (let i = 1; i <= n; i++) {
    store.append(1, entries(i, i, 1));
    store.commitSync();
  }
  return store;
}

/** Broker 1's transport, recording every send (the gate's probes). */
class ProbeRecorder extends LocalTransport {
  readonly probes: Array<[number, readonly GroupMessage[]]> = [];
  constructor() {
    super(1);
  }
  override send(peer: number, messages: readonly GroupMessage[]): void {
    this.probes.push([peer, messages]);
  }
}

/** The gate's outcome so far: pending, passed, or the error code it failed with. */
function track(p: Promise<void>): {
  state: () => 'pending' | 'passed' | ErrorCode | 'other';
  error: () => unknown;
} {
  let state: 'pending' | 'passed' | ErrorCode | 'other' = 'pending';
  let error: unknown;
  p.then(
    () => {
      state = 'passed';
    },
    (err: unknown) => {
      error = err;
      state = err instanceof Error && 'code' in err ? (err.code as ErrorCode) : 'other';
    },
  );
  return { state: () => state, error: () => error };
}

/** Let promise callbacks run (fake timers leave microtasks alone). */
const settle = () => vi.advanceTimersByTimeAsync(0);

afterEach(() => {
  vi.useRealTimers();
});

describe('gateVerdict', () => {
  const answers = (pairs: Array<[number, number]>) => new Map(pairs);

  it('refuses when any peer saw more synced batches than the directory holds, naming the highest', () => {
    expect(gateVerdict(5, answers([[2, 6]]), [2, 3], false)).toEqual({ kind: 'refuse', peer: 2, seen: 6 });
    expect(
      gateVerdict(
        5,
        answers([
          [2, 7],
          [3, 9],
        ]),
        [2, 3],
        true,
      ),
    ).toEqual({ kind: 'refuse', peer: 3, seen: 9 });
    // A new directory (0) that a peer saw batches from.
    expect(gateVerdict(0, answers([[3, 1]]), [2, 3], false)).toEqual({ kind: 'refuse', peer: 3, seen: 1 });
  });

  it('passes once every peer answered no more than the directory holds', () => {
    const all = answers([
      [2, 5],
      [3, 0],
    ]);
    expect(gateVerdict(5, all, [2, 3], false)).toEqual({ kind: 'pass' });
    expect(gateVerdict(0, answers([[2, 0]]), [2], false)).toEqual({ kind: 'pass' });
  });

  it('waits for every peer, then for a majority of the cluster with itself', () => {
    // 3 brokers: one other answering is a majority with this one, but only after the wait.
    expect(gateVerdict(5, answers([[2, 5]]), [2, 3], false)).toEqual({
      kind: 'wait',
      answered: 1,
      needed: 2,
    });
    expect(gateVerdict(5, answers([[2, 5]]), [2, 3], true)).toEqual({ kind: 'pass' });
    expect(gateVerdict(5, answers([]), [2, 3], true)).toEqual({ kind: 'wait', answered: 0, needed: 1 });
    // 5 brokers: two others are needed.
    expect(gateVerdict(5, answers([[2, 1]]), [2, 3, 4, 5], true)).toEqual({
      kind: 'wait',
      answered: 1,
      needed: 2,
    });
    expect(
      gateVerdict(
        5,
        answers([
          [2, 1],
          [5, 4],
        ]),
        [2, 3, 4, 5],
        true,
      ),
    ).toEqual({ kind: 'pass' });
    // Answers of brokers that are not peers do not count.
    expect(gateVerdict(5, answers([[9, 1]]), [2, 3], true)).toMatchObject({ kind: 'wait' });
  });
});

describe('RollbackGuard: what it learns of its peers', () => {
  it('keeps the highest counter seen from each peer and answers it', () => {
    const guard = new RollbackGuard({ store: new MemoryLogStore(), dir: DIR });
    guard.received(2, 7);
    guard.received(2, 3);
    guard.received(3, 1);
    expect(guard.seenFrom(2)).toBe(7);
    expect(guard.seenFrom(3)).toBe(1);
    expect(guard.seenFrom(4)).toBe(0);
  });

  it('stamps its own durable sync counter', () => {
    const store = storeWithSyncs(4);
    const guard = new RollbackGuard({ store, dir: DIR });
    expect(guard.own()).toBe(4);
    store.append(1, entries(5, 5, 1));
    expect(guard.own()).toBe(4);
    store.commitSync();
    expect(guard.own()).toBe(5);
  });

  it('stages what it saw once the gate passed, at once, and asks for a batch if none came', async () => {
    vi.useFakeTimers();
    const store = new MemoryLogStore();
    const commit = vi.spyOn(store, 'commit');
    const guard = new RollbackGuard({ store, dir: DIR });
    guard.received(2, 7);
    await settle();
    expect(store.pendingWrites).toBe(0);
    await guard.confirm(new LocalTransport(1), [1]);
    expect(store.pendingWrites).toBe(1);
    guard.received(3, 4);
    guard.received(3, 5);
    await settle();
    // One write per socket callback, staged before any turn of the host.
    expect(store.pendingWrites).toBe(2);
    expect(commit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(commit).toHaveBeenCalledTimes(1);
    expect(commit).toHaveBeenCalledWith({ sync: false });
    store.commitSync();
    const restarted = new RollbackGuard({ store: store.crash(), dir: DIR });
    expect(restarted.seenFrom(2)).toBe(7);
    expect(restarted.seenFrom(3)).toBe(5);
  });

  it('keeps counters and peer ids of any size up to 2^53 - 1 across a restart', async () => {
    vi.useFakeTimers();
    const store = new MemoryLogStore();
    const guard = new RollbackGuard({ store, dir: DIR });
    await guard.confirm(new LocalTransport(1), [1]);
    const counters = [2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER];
    for (const [i, counter] of counters.entries()) guard.received(i + 2, counter);
    guard.received(2 ** 33, 3);
    await settle();
    store.commitSync();
    const restarted = new RollbackGuard({ store: store.crash(), dir: DIR });
    for (const [i, counter] of counters.entries()) expect(restarted.seenFrom(i + 2)).toBe(counter);
    expect(restarted.seenFrom(2 ** 33)).toBe(3);
  });
});

describe('RollbackGuard.confirm: the start gate', () => {
  it('a broker without peers passes at once', async () => {
    const guard = new RollbackGuard({ store: storeWithSyncs(0), dir: DIR });
    await guard.confirm(new LocalTransport(1), []);
    await guard.confirm(new LocalTransport(1), [1]);
  });

  it('dials every peer that has not answered, again and again, and passes when all answered no higher', async () => {
    vi.useFakeTimers();
    const guard = new RollbackGuard({ store: storeWithSyncs(5), dir: DIR });
    const transport = new ProbeRecorder();
    const gate = track(guard.confirm(transport, [1, 2, 3]));
    expect(transport.probes).toEqual([
      [2, []],
      [3, []],
    ]);
    guard.answered(2, 5);
    await vi.advanceTimersByTimeAsync(100);
    expect(transport.probes.slice(2)).toEqual([[3, []]]);
    expect(gate.state()).toBe('pending');
    guard.answered(3, 2);
    await settle();
    expect(gate.state()).toBe('passed');
  });

  it('refuses with STORAGE_CORRUPT, naming the directory, as soon as one peer saw more', async () => {
    vi.useFakeTimers();
    const guard = new RollbackGuard({ store: storeWithSyncs(5), dir: DIR });
    const gate = track(guard.confirm(new ProbeRecorder(), [1, 2, 3]));
    guard.answered(3, 9);
    await settle();
    expect(gate.state()).toBe('STORAGE_CORRUPT');
    const err = gate.error() as Error & { details: Record<string, unknown> };
    expect(err.message).toContain(DIR);
    expect(err.message).toContain('rolled back');
    expect(err.details).toMatchObject({ dir: DIR, peer: 3, seen: 9, own: 5 });
  });

  it('refuses a new, empty directory that a peer saw synced batches from, and says so', async () => {
    vi.useFakeTimers();
    const guard = new RollbackGuard({ store: new MemoryLogStore(), dir: DIR });
    const gate = track(guard.confirm(new ProbeRecorder(), [1, 2, 3]));
    guard.answered(2, 0);
    guard.answered(3, 1);
    await settle();
    expect(gate.state()).toBe('STORAGE_CORRUPT');
    expect((gate.error() as Error).message).toMatch(
      /is new .*cannot rejoin under its id with an empty data directory/,
    );
  });

  it('with a peer silent, waits for it, then starts on a majority of the cluster', async () => {
    vi.useFakeTimers();
    const guard = new RollbackGuard({ store: storeWithSyncs(5), dir: DIR });
    const transport = new ProbeRecorder();
    const gate = track(guard.confirm(transport, [1, 2, 3], { waitForAllMs: 1_000 }));
    guard.answered(2, 5);
    await vi.advanceTimersByTimeAsync(999);
    expect(gate.state()).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(gate.state()).toBe('passed');
    // No probe after the verdict.
    const probes = transport.probes.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(transport.probes.length).toBe(probes);
  });

  it('without a majority it keeps waiting, and gives up with NO_LEADER at its timeout', async () => {
    vi.useFakeTimers();
    const guard = new RollbackGuard({ store: storeWithSyncs(5), dir: DIR });
    const gate = track(
      guard.confirm(new ProbeRecorder(), [1, 2, 3, 4, 5], { waitForAllMs: 1_000, timeoutMs: 10_000 }),
    );
    guard.answered(2, 1);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(gate.state()).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(gate.state()).toBe('NO_LEADER');
    expect(isErrorCode(gate.error(), 'NO_LEADER')).toBe(true);
    expect((gate.error() as Error).message).toContain('1 of the 2 needed');
  });

  it('a refused broker writes nothing to its directory', async () => {
    vi.useFakeTimers();
    const store = storeWithSyncs(5);
    const guard = new RollbackGuard({ store, dir: DIR });
    const gate = track(guard.confirm(new ProbeRecorder(), [1, 2]));
    guard.received(2, 40);
    guard.answered(2, 6);
    await settle();
    expect(gate.state()).toBe('STORAGE_CORRUPT');
    expect(store.pendingWrites).toBe(0);
    expect(store.syncCounter()).toBe(5);
  });
});
