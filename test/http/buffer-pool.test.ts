import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/http/buffer-pool.js';

describe('BufferPool', () => {
  it('hands back the smallest free buffer large enough, else a new one', () => {
    const pool = new BufferPool(3, 1000);
    const [a, b, c] = [pool.take(100), pool.take(300), pool.take(200)];
    expect([a.length, b.length, c.length]).toEqual([100, 300, 200]);
    for (const buf of [a, b, c]) pool.give(buf);
    expect(pool.take(150)).toBe(c);
    expect(pool.take(150)).toBe(b);
    const fresh = pool.take(150);
    expect([fresh === a, fresh.length]).toEqual([false, 150]);
    expect(pool.take(50)).toBe(a);
  });

  it('keeps the largest of too many free buffers, and none above its limit', () => {
    const pool = new BufferPool(2, 1000);
    const [small, mid, large, huge] = [10, 20, 30, 2000].map((n) => pool.take(n));
    for (const buf of [small!, mid!, large!, huge!]) pool.give(buf);
    expect(pool.take(1)).toBe(mid);
    expect(pool.take(1)).toBe(large);
    expect(pool.take(1)).not.toBe(small);
  });
});
