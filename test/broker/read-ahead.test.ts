import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReadAhead } from '../../src/broker/read-ahead.js';

describe('ReadAhead', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands a read over once, only for its partition replica and key', async () => {
    const ahead = new ReadAhead<string>(100, 1000);
    const owner = {};
    const read = vi.fn(async () => 'records 10..19');
    ahead.start(1, owner, '10', 50, read);
    expect(read).toHaveBeenCalledTimes(1);
    expect(ahead.take(1, owner, '11')).toBeUndefined();
    expect(ahead.take(1, {}, '10')).toBeUndefined();
    expect(ahead.take(2, owner, '10')).toBeUndefined();
    await expect(ahead.take(1, owner, '10')).resolves.toBe('records 10..19');
    expect(ahead.take(1, owner, '10')).toBeUndefined();
  });

  it('starts no read that would take the reads under way past the budget', () => {
    const ahead = new ReadAhead<string>(100, 1000);
    const owner = {};
    const read = vi.fn(async () => 'x');
    ahead.start(1, owner, 'a', 60, read);
    ahead.start(2, owner, 'b', 60, read);
    expect(read).toHaveBeenCalledTimes(1);
    expect(ahead.take(2, owner, 'b')).toBeUndefined();
    // Taking the first frees its share of the budget; a partition's new read replaces its old one.
    expect(ahead.take(1, owner, 'a')).toBeDefined();
    ahead.start(2, owner, 'b', 60, read);
    ahead.start(2, owner, 'c', 60, read);
    expect(read).toHaveBeenCalledTimes(3);
    expect(ahead.take(2, owner, 'b')).toBeUndefined();
    expect(ahead.take(2, owner, 'c')).toBeDefined();
  });

  it('drops a read not taken in time, and every read on clear', () => {
    vi.useFakeTimers();
    const ahead = new ReadAhead<string>(100, 1000);
    const owner = {};
    ahead.start(1, owner, 'a', 10, async () => 'x');
    ahead.start(2, owner, 'b', 10, async () => 'y');
    vi.advanceTimersByTime(999);
    expect(ahead.take(1, owner, 'a')).toBeDefined();
    vi.advanceTimersByTime(1);
    expect(ahead.take(2, owner, 'b')).toBeUndefined();
    ahead.start(3, owner, 'c', 10, async () => 'z');
    ahead.clear();
    expect(ahead.take(3, owner, 'c')).toBeUndefined();
  });

  it('leaves a failed read to whoever takes it', async () => {
    const ahead = new ReadAhead<string>(100, 1000);
    const owner = {};
    ahead.start(1, owner, 'a', 10, async () => {
      throw new Error('disk');
    });
    await expect(ahead.take(1, owner, 'a')).rejects.toThrow('disk');
  });
});
