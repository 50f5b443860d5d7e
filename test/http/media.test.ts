import { describe, expect, it } from 'vitest';
import { parseBody, serialize } from '../../src/http/media.js';

describe('serialize (msgpack)', () => {
  it('hands out bytes that later serializations never overwrite (they are not copied)', () => {
    const first = serialize('msgpack', { records: [{ value: new Uint8Array(3000).fill(1) }] });
    const copy = Buffer.from(first);
    // Enough later packs, small and large, to wrap or replace msgpackr's output slab.
    for (let i = 0; i < 50; i++) serialize('msgpack', { n: i, big: new Uint8Array(i * 700).fill(2) });
    expect(first.equals(copy)).toBe(true);
    const parsed = parseBody('msgpack', first).value as { records: { value: Uint8Array }[] };
    expect(Buffer.from(parsed.records[0]!.value).equals(Buffer.alloc(3000, 1))).toBe(true);
  });
});
