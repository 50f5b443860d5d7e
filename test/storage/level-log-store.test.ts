import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LevelLogStore, type LevelLogStoreOptions } from '../../src/storage/level-log-store.js';
import type { LogStore } from '../../src/storage/log-store.js';
import { type LogStoreHarness, logStoreConformance } from './log-store-conformance.js';

function levelHarness(options: LevelLogStoreOptions): LogStoreHarness {
  const dirs: string[] = [];
  return {
    open: async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'raftlog-level-'));
      dirs.push(dir);
      return LevelLogStore.open(dir, options);
    },
    restart: async (store: LogStore) => {
      const level = store as LevelLogStore;
      await level.close();
      return LevelLogStore.open(level.dir, options);
    },
    cleanup: async () => {
      for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
    },
  };
}

logStoreConformance('LevelLogStore', levelHarness({}));

// Caches so small that nearly every read goes past the tail cache: exercises eviction, the
// background loads of `entries()` and the disk scans of `readEntries()`.
logStoreConformance(
  'LevelLogStore with tiny caches',
  levelHarness({
    tailCacheBytesPerGroup: 24,
    tailCacheBytes: 64,
    catchUpCacheBytes: 100,
    catchUpLoadBytes: 20,
  }),
);
