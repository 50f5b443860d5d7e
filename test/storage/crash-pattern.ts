import type { Entry } from '../../src/raft/types.js';

/** Groups the crash child writes to (ids 1..CRASH_GROUPS; group 0 holds the run counter). */
export const CRASH_GROUPS = 6;

/** A small seeded PRNG (mulberry32): the crash test replays from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** The entry the crash child writes at (group, index) in a run: its content is checkable. */
export function crashEntry(group: number, index: number, term: number): Entry {
  const size = 1 + ((index * 2_654_435_761 + group * 97 + term * 31) % 3000);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (group * 131 + index * 7 + term * 13 + i) & 0xff;
  return { index, term, type: 0, data };
}

/** Bytes of each entry the disk-full child writes. */
export const FILL_ENTRY_BYTES = 16 * 1024;

/**
 * The entry the disk-full child writes at (group, index): pseudo-random bytes, so LevelDB's
 * compression cannot make them smaller than they are, and checkable from (group, index).
 */
export function fillEntry(group: number, index: number): Entry {
  const random = mulberry32(group * 0x1_0000 + index);
  const data = new Uint8Array(FILL_ENTRY_BYTES);
  for (let i = 0; i < data.length; i += 4) {
    const word = Math.floor(random() * 0x1_0000_0000);
    data[i] = word;
    data[i + 1] = word >>> 8;
    data[i + 2] = word >>> 16;
    data[i + 3] = word >>> 24;
  }
  return { index, term: 1, type: 0, data };
}
