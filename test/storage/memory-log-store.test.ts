import { describe, expect, it } from 'vitest';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';

const entry = (index: number, term: number) => ({
  index,
  term,
  type: 0 as const,
  data: new Uint8Array([index]),
});

describe('MemoryLogStore crash semantics', () => {
  it('crash() keeps committed writes and drops staged ones', () => {
    const s = new MemoryLogStore();
    s.append(1, [entry(1, 1), entry(2, 1)]);
    s.commitSync();
    s.append(1, [entry(2, 2), entry(3, 2)]);
    expect(s.group(1).lastIndex()).toBe(3);
    expect(s.group(1).term(2)).toBe(2);
    const r = s.crash();
    expect(r.group(1).lastIndex()).toBe(2);
    expect(r.group(1).term(2)).toBe(1);
  });
});
