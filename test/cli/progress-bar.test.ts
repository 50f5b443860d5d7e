import { describe, expect, it } from 'vitest';
import { progressBar } from '../../src/cli/status.js';

describe('raftlog status: the progress bar of a move', () => {
  it('fills in proportion, within bounds', () => {
    expect(progressBar(0, 100)).toBe(`[${'.'.repeat(20)}]   0%`);
    expect(progressBar(50, 100)).toBe(`[${'#'.repeat(10)}${'.'.repeat(10)}]  50%`);
    expect(progressBar(100, 100)).toBe(`[${'#'.repeat(20)}] 100%`);
    expect(progressBar(150, 100)).toBe(`[${'#'.repeat(20)}] 100%`);
    expect(progressBar(0, 0)).toBe(`[${'#'.repeat(20)}] 100%`);
  });
});
