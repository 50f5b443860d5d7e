import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { type Entry, EntryType } from '../../src/raft/types.js';
import { memoryOf, TailCache } from '../../src/storage/tail-cache.js';
import { mulberry32 } from './crash-pattern.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The tail cache (a ring) against a plain array of entries, under random appends, truncations and evictions. */

const seed = Number(process.env.RAFTLOG_TAIL_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`tail cache test seed ${seed} (replay: RAFTLOG_TAIL_SEED=${seed})`);

function entry(index: number, term: number, size: number): Entry {
  return { index, term, type: (index % 2) as Entry['type'], data: new Uint8Array(size).fill(index & 0xff) };
}

describe('TailCache', () => {
  it('lets go of the data of evicted entries at once, not when its slots are cut', async () => {
    const cache = new TailCache();
    const refs: Array<WeakRef<Uint8Array>> = [];
    let last = 0;
    const append = (bytes: number) => {
      const data = new Uint8Array(bytes);
      refs.push(new WeakRef(data));
      cache.append([{ index: last + 1, term: 1, type: EntryType.Normal, data }], last);
      last++;
    };
    for (let i = 0; i < 8; i++) append(1024 * 1024);
    cache.evict(2 * 1024 * 1024 + 1024, last + 1, last);
    expect(cache.length).toBe(2);
    expect(cache.read(7, 9, Number.POSITIVE_INFINITY, last).map((e) => e.data.length)).toEqual([
      1024 * 1024,
      1024 * 1024,
    ]);
    // WeakRef targets stay alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.map((r) => r.deref() !== undefined)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      true,
      true,
    ]);
  });

  it('serves what a plain array of the same entries serves, across wrap-arounds, growth and shrinking', () => {
    const random = mulberry32(seed);
    const int = (n: number): number => Math.floor(random() * n);
    const tail = new TailCache();
    /** The model: the cached entries, and the log's last index. */
    let cached: Entry[] = [];
    let lastIndex = 0;
    let term = 1;
    const bytesOf = (es: Entry[]): number => es.reduce((n, e) => n + memoryOf(e), 0);

    for (let step = 0; step < 20_000; step++) {
      const op = int(10);
      if (op < 6) {
        // Append, sometimes overwriting a suffix (also past the cached part).
        const first = int(4) === 0 ? Math.max(1, lastIndex + 1 - int(cached.length + 3)) : lastIndex + 1;
        if (first <= lastIndex) term++;
        const added = Array.from({ length: 1 + int(int(5) === 0 ? 40 : 3) }, (_, k) =>
          entry(first + k, term, int(30)),
        );
        const before = bytesOf(cached);
        const firstCached = lastIndex - cached.length + 1;
        cached = [...cached.slice(0, Math.max(0, first - firstCached)), ...added];
        expect(tail.append(added, lastIndex)).toBe(bytesOf(cached) - before);
        lastIndex = first + added.length - 1;
      } else if (op < 8) {
        const maxBytes = int(2) === 0 ? 0 : int(bytesOf(cached) + 1);
        const keepFrom = lastIndex + 1 - int(cached.length + 1);
        let count = 0;
        let bytes = bytesOf(cached);
        while (
          bytes > maxBytes &&
          count < cached.length &&
          lastIndex - cached.length + 1 + count < keepFrom
        ) {
          bytes -= memoryOf(cached[count]!);
          count++;
        }
        const freed = bytesOf(cached.slice(0, count));
        cached = cached.slice(count);
        expect(tail.evict(maxBytes, keepFrom, lastIndex)).toBe(freed);
      } else if (op < 9) {
        const through = lastIndex - int(cached.length + 2);
        const count = Math.min(cached.length, Math.max(0, through - (lastIndex - cached.length + 1) + 1));
        const freed = bytesOf(cached.slice(0, count));
        cached = cached.slice(count);
        expect(tail.dropThrough(through, lastIndex)).toBe(freed);
      } else if (int(20) === 0) {
        expect(tail.clear()).toBe(bytesOf(cached));
        cached = [];
      }
      expect(tail.length).toBe(cached.length);
      expect(tail.bytes).toBe(bytesOf(cached));
      expect(tail.firstIndex(lastIndex)).toBe(lastIndex - cached.length + 1);
      if (cached.length > 0) {
        const lo = int(cached.length);
        const hi = lo + 1 + int(cached.length - lo);
        const maxBytes = int(200);
        const want: Entry[] = [];
        let bytes = 0;
        for (const e of cached.slice(lo, hi)) {
          bytes += e.data.length;
          if (want.length > 0 && bytes > maxBytes) break;
          want.push(e);
        }
        const first = lastIndex - cached.length + 1;
        expect(tail.read(first + lo, first + hi, maxBytes, lastIndex)).toEqual(want);
      }
    }
  });
});
