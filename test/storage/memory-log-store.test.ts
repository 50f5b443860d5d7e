import { describe, expect, it } from 'vitest';
import type { LogStore } from '../../src/storage/log-store.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { entries, logStoreConformance } from './log-store-conformance.js';

logStoreConformance('MemoryLogStore', {
  open: async () => new MemoryLogStore(),
  restart: async (store: LogStore) => (store as MemoryLogStore).crash(),
  cleanup: async () => {},
});

describe('MemoryLogStore crash semantics', () => {
  it('crash() keeps what commitSync() made durable and drops what was only staged', () => {
    const s = new MemoryLogStore();
    s.append(1, entries(1, 2, 1));
    s.commitSync();
    s.append(1, entries(2, 3, 2));
    expect(s.pendingWrites).toBe(1);
    expect(s.group(1).lastIndex()).toBe(3);
    expect(s.group(1).term(2)).toBe(2);
    const restarted = s.crash();
    expect(restarted.group(1).lastIndex()).toBe(2);
    expect(restarted.group(1).term(2)).toBe(1);
    // The crashed store's own view is untouched, and the two stores share no state.
    expect(s.group(1).lastIndex()).toBe(3);
    restarted.append(1, entries(3, 3, 5));
    expect(s.group(1).term(3)).toBe(2);
  });
});
