import { describe, expect, it } from 'vitest';
import { bytesOf, catchUpText, progressBar } from '../../src/cli/status.js';

describe('raftlog status: the progress bar of a move', () => {
  it('fills in proportion, within bounds', () => {
    expect(progressBar(0, 100)).toBe(`[${'.'.repeat(20)}]   0%`);
    expect(progressBar(50, 100)).toBe(`[${'#'.repeat(10)}${'.'.repeat(10)}]  50%`);
    expect(progressBar(100, 100)).toBe(`[${'#'.repeat(20)}] 100%`);
    expect(progressBar(150, 100)).toBe(`[${'#'.repeat(20)}] 100%`);
    expect(progressBar(0, 0)).toBe(`[${'#'.repeat(20)}] 100%`);
  });

  it('shows bytes in the unit that suits the total', () => {
    expect(bytesOf(512, 1000)).toBe('512/1000 B');
    expect(bytesOf(5 * 1024, 20 * 1024)).toBe('5.0/20.0 KiB');
    expect(bytesOf(430.5 * 1024 ** 2, 1024 ** 3)).toBe('430.5/1024.0 MiB');
    expect(bytesOf(3 * 1024 ** 3, 12 * 1024 ** 3)).toBe('3.0/12.0 GiB');
  });

  it('draws the bar from the bytes when the leader reports them, from the entries otherwise', () => {
    const c = { broker: 4, match: 946, lastIndex: 4437 };
    expect(catchUpText({ ...c, bytes: 1000 * 1024 ** 2, totalBytes: 1024 ** 3 })).toBe(
      `4 [${'#'.repeat(20)}]  97% 1000.0/1024.0 MiB, entry 946/4437`,
    );
    expect(catchUpText(c)).toBe(`4 [${'#'.repeat(4)}${'.'.repeat(16)}]  21% 946/4437 entries`);
  });
});
