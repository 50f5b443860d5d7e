import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EntryType } from '../../src/raft/types.js';
import { TailCache } from '../../src/storage/tail-cache.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

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
});
