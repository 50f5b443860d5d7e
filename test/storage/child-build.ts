import { type TranspiledCopy, transpileToTemp } from '../helpers/transpile.js';

/** Sources a child process needs: the store, what it imports, and the child scripts. */
const SOURCES = [
  'src/errors.ts',
  'src/storage',
  'test/storage/child-output.ts',
  'test/storage/crash-child.ts',
  'test/storage/crash-pattern.ts',
  'test/storage/disk-full-child.ts',
];

/** A runnable JavaScript copy of the store for child processes (Node 20 cannot run TypeScript). */
export type ChildBuild = TranspiledCopy;

export function buildChild(): Promise<ChildBuild> {
  return transpileToTemp(SOURCES, 'raftlog-child-');
}
