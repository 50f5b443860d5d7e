import { describe, expect, it } from 'vitest';
import { type AnomalyType, check } from '../../src/jepsen/checker.js';
import type { DistributiveOmit, Op } from '../../src/jepsen/history.js';
import { NEMESIS_PROCESS } from '../../src/jepsen/history.js';

/** Builds hand-made histories: each event gets the next index; times are given explicitly. */
class H {
  readonly ops: Op[] = [];
  add(op: DistributiveOmit<Op, 'index'>): this {
    this.ops.push({ index: this.ops.length, ...op } as Op);
    return this;
  }
  /** An append by `process` invoked at `t0`, completed at `t1` as `type` (offset for ok). */
  append(
    process: number,
    value: string,
    t0: number,
    t1: number,
    type: 'ok' | 'fail' | 'info',
    offset?: number,
    partition = 0,
  ) {
    this.add({ f: 'append', type: 'invoke', process, time: t0, partition, value, broker: 1 });
    return this.add({
      f: 'append',
      type,
      process,
      time: t1,
      partition,
      value,
      broker: 1,
      ...(offset === undefined ? {} : { offset }),
      ...(type === 'ok' ? {} : { error: 'test' }),
    });
  }
  /** A fetch from `from` invoked at `t0` and answered at `t1` with `values` from `from` (or given offsets). */
  read(
    process: number,
    from: number,
    t0: number,
    t1: number,
    records: (readonly [number, string])[],
    hw: number,
    opts: { final?: boolean; partition?: number; broker?: number } = {},
  ) {
    const partition = opts.partition ?? 0;
    const broker = opts.broker ?? 1;
    const final = opts.final ? { final: true } : {};
    this.add({ f: 'read', type: 'invoke', process, time: t0, partition, broker, offset: from, ...final });
    return this.add({
      f: 'read',
      type: 'ok',
      process,
      time: t1,
      partition,
      broker,
      offset: from,
      records,
      highWatermark: hw,
      ...final,
    });
  }
  heal(t0: number, t1: number) {
    this.add({ f: 'heal-all', type: 'invoke', process: NEMESIS_PROCESS, time: t0, value: 'heal' });
    return this.add({ f: 'heal-all', type: 'ok', process: NEMESIS_PROCESS, time: t1, value: 'heal' });
  }
  replica(broker: number, records: (readonly [number, string])[], time = 1000, partition = 0) {
    return this.add({
      f: 'replica-log',
      type: 'ok',
      process: NEMESIS_PROCESS,
      time,
      partition,
      broker,
      records,
    });
  }
}

/** A valid base: a, b acknowledged at 0, 1; c indeterminate and recovered at 2; healed; final read. */
function valid(): H {
  return new H()
    .append(0, 'a', 0, 10, 'ok', 0)
    .append(1, 'b', 11, 20, 'ok', 1)
    .append(2, 'c', 21, 30, 'info')
    .append(3, 'd', 31, 40, 'fail')
    .read(
      10,
      0,
      41,
      45,
      [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
      ],
      3,
    )
    .heal(50, 60)
    .append(4, 'e', 61, 70, 'ok', 3)
    .read(
      11,
      0,
      80,
      90,
      [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'e'],
      ],
      4,
      { final: true },
    );
}

function types(h: H): AnomalyType[] {
  return [...new Set(check(h.ops).anomalies.map((a) => a.type))].sort();
}

describe('checker', () => {
  it('accepts a valid history and counts its outcomes', () => {
    const v = check(valid().ops);
    expect(v.anomalies).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.counts).toMatchObject({
      ok: 3,
      failed: 1,
      indeterminate: 1,
      recovered: 1,
      lost: 0,
      duplicated: 0,
      inconsistent: 0,
    });
  });

  it('an indeterminate append never read is not lost', () => {
    const h = valid().append(5, 'x', 91, 95, 'info');
    expect(check(h.ops).valid).toBe(true);
  });

  it('offset-conflict: two reads disagree about an offset', () => {
    const h = valid().read(
      12,
      0,
      100,
      101,
      [
        [0, 'a'],
        [1, 'c'],
      ],
      4,
    );
    expect(types(h)).toContain('offset-conflict');
    expect(check(h.ops).counts.inconsistent).toBeGreaterThan(0);
  });

  it('offset-conflict: two acknowledgements of one offset', () => {
    const h = new H().append(0, 'a', 0, 10, 'ok', 0).append(1, 'b', 0, 10, 'ok', 0);
    expect(types(h)).toContain('offset-conflict');
  });

  it('duplicate: one value at two offsets', () => {
    const h = new H()
      .append(0, 'a', 0, 10, 'ok', 0)
      .append(1, 'b', 11, 20, 'info')
      .heal(21, 22)
      .append(2, 'c', 23, 24, 'ok', 3)
      .read(
        9,
        0,
        30,
        31,
        [
          [0, 'a'],
          [1, 'b'],
          [2, 'b'],
          [3, 'c'],
        ],
        4,
        { final: true },
      );
    expect(types(h)).toEqual(['duplicate']);
    expect(check(h.ops).counts.duplicated).toBe(1);
  });

  it('unknown-value: a value nobody appended, or appended to another partition', () => {
    expect(
      types(
        valid().read(
          12,
          3,
          100,
          101,
          [
            [3, 'e'],
            [4, 'zzz'],
          ],
          5,
        ),
      ),
    ).toContain('unknown-value');
    const h = valid()
      .append(6, 'q', 91, 92, 'info', undefined, 1)
      .read(12, 4, 100, 101, [[4, 'q']], 5);
    expect(types(h)).toContain('unknown-value');
  });

  it('read-before-append: a value read before its append was invoked', () => {
    const h = valid()
      .read(12, 4, 100, 101, [[4, 'late']], 5)
      .append(7, 'late', 200, 210, 'info');
    expect(types(h)).toContain('read-before-append');
  });

  it('failed-value-read: the value of a definitely failed append is read', () => {
    const h = valid().read(12, 4, 100, 101, [[4, 'd']], 5);
    expect(types(h)).toContain('failed-value-read');
  });

  it('wrong-offset: acknowledged at one offset, read at another', () => {
    const h = new H()
      .append(0, 'a', 0, 10, 'ok', 1)
      .append(1, 'b', 0, 10, 'info')
      .read(
        9,
        0,
        20,
        21,
        [
          [0, 'a'],
          [1, 'b'],
        ],
        2,
      );
    expect(types(h)).toContain('wrong-offset');
  });

  it('lost: an acknowledged value missing from the final log', () => {
    const h = new H()
      .append(0, 'a', 0, 10, 'ok', 0)
      .append(1, 'b', 11, 20, 'ok', 1)
      .heal(21, 22)
      .append(2, 'c', 23, 24, 'ok', 1)
      .read(
        9,
        0,
        30,
        31,
        [
          [0, 'a'],
          [1, 'c'],
        ],
        2,
        { final: true },
      );
    expect(types(h)).toContain('lost');
    expect(check(h.ops).counts.lost).toBe(1);
  });

  it('lost: an acknowledged offset beyond the final high watermark (the log shrank)', () => {
    const h = new H()
      .append(0, 'a', 0, 10, 'ok', 0)
      .append(1, 'b', 11, 20, 'ok', 1)
      .heal(21, 22)
      .read(9, 0, 30, 31, [[0, 'a']], 1, { final: true });
    expect(types(h)).toContain('lost');
  });

  it('noncontiguous: a fetch skips an offset or starts elsewhere', () => {
    expect(
      types(
        valid().read(
          12,
          0,
          100,
          101,
          [
            [0, 'a'],
            [2, 'c'],
          ],
          4,
        ),
      ),
    ).toContain('noncontiguous');
    expect(types(valid().read(12, 1, 100, 101, [[2, 'c']], 4))).toContain('noncontiguous');
  });

  it('noncontiguous: a record at or above the high watermark of its own answer', () => {
    expect(
      types(
        valid().read(
          12,
          0,
          100,
          101,
          [
            [0, 'a'],
            [1, 'b'],
          ],
          1,
        ),
      ),
    ).toContain('noncontiguous');
  });

  it('realtime-order: an append acknowledged before another was invoked has the higher offset', () => {
    const h = new H().append(0, 'a', 0, 10, 'ok', 1).append(1, 'b', 11, 20, 'ok', 0);
    expect(types(h)).toContain('realtime-order');
    // Concurrent appends may take either order.
    const concurrent = new H().append(0, 'a', 0, 10, 'ok', 1).append(1, 'b', 5, 20, 'ok', 0);
    expect(types(concurrent)).not.toContain('realtime-order');
  });

  it('realtime-order applies to recovered indeterminate appends', () => {
    const h = new H()
      .append(0, 'a', 0, 10, 'ok', 1)
      .append(1, 'b', 11, 20, 'info')
      .read(
        9,
        0,
        30,
        31,
        [
          [0, 'b'],
          [1, 'a'],
        ],
        2,
      );
    expect(types(h)).toContain('realtime-order');
  });

  it('stale-read: a fetch invoked after an acknowledgement does not cover it', () => {
    const h = new H().append(0, 'a', 0, 10, 'ok', 0).read(9, 0, 11, 12, [], 0);
    expect(types(h)).toEqual(['liveness', 'stale-read']); // liveness: there is no final read
    // A fetch invoked before the acknowledgement may miss it.
    const early = new H().append(0, 'a', 0, 10, 'ok', 0).read(9, 0, 5, 12, [], 0);
    expect(types(early)).not.toContain('stale-read');
  });

  it('hw-regression: a high watermark goes back in real time', () => {
    const h = new H()
      .append(0, 'a', 0, 1, 'info')
      .read(9, 0, 10, 11, [[0, 'a']], 1)
      .read(8, 0, 12, 13, [], 0);
    expect(types(h)).toEqual(['hw-regression', 'liveness']);
  });

  it('replica-unreadable: a serving broker whose replica cannot be read back was not checked', () => {
    const unreadable = (type: 'fail' | 'info') =>
      valid().add({
        f: 'replica-log',
        type,
        process: NEMESIS_PROCESS,
        time: 1000,
        partition: 0,
        broker: 2,
        records: [],
        error: 'STORAGE_CORRUPT',
      });
    expect(types(unreadable('fail'))).toEqual(['replica-unreadable']);
    // A broker taken out of service (it refused damaged files) is expected to be unreadable.
    expect(check(unreadable('info').ops).valid).toBe(true);
  });

  it('replica-divergence: a replica committed another value, or more than the final log', () => {
    expect(
      types(
        valid().replica(2, [
          [0, 'a'],
          [1, 'c'],
        ]),
      ),
    ).toContain('replica-divergence');
    const longer = valid()
      .append(8, 'z', 91, 92, 'ok', 4)
      .replica(3, [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'e'],
        [4, 'z'],
      ]);
    expect(types(longer)).toContain('replica-divergence');
    // An indeterminate append may commit after the final reads.
    const late = valid()
      .append(8, 'z', 91, 92, 'info')
      .replica(3, [
        [0, 'a'],
        [1, 'b'],
        [2, 'c'],
        [3, 'e'],
        [4, 'z'],
      ]);
    expect(check(late.ops).valid).toBe(true);
    const lateFailed = valid().replica(3, [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'e'],
      [4, 'd'],
    ]);
    expect(types(lateFailed)).toContain('replica-divergence');
    // A replica that is behind but agrees is fine.
    expect(
      check(
        valid().replica(2, [
          [0, 'a'],
          [1, 'b'],
        ]).ops,
      ).valid,
    ).toBe(true);
  });

  it('liveness: nothing acknowledged after healing, or no final read', () => {
    const noAppend = new H()
      .append(0, 'a', 0, 10, 'ok', 0)
      .heal(20, 30)
      .append(1, 'b', 31, 40, 'info')
      .read(9, 0, 50, 60, [[0, 'a']], 1, { final: true });
    expect(types(noAppend)).toEqual(['liveness']);
    const tooLate = new H()
      .append(0, 'a', 0, 10, 'ok', 0)
      .heal(20, 30)
      .append(1, 'b', 31 + 20_001, 31 + 20_002, 'ok', 1)
      .read(
        9,
        0,
        60_000,
        60_001,
        [
          [0, 'a'],
          [1, 'b'],
        ],
        2,
        { final: true },
      );
    expect(types(tooLate)).toEqual(['liveness']);
    const noFinal = new H().append(0, 'a', 0, 10, 'ok', 0);
    expect(types(noFinal)).toEqual(['liveness']);
  });

  it('liveness: final reads that leave a hole below the high watermark', () => {
    const h = new H()
      .append(0, 'a', 0, 10, 'ok', 0)
      .heal(11, 12)
      .append(1, 'b', 13, 14, 'ok', 1)
      .read(9, 1, 20, 21, [[1, 'b']], 2, { final: true });
    expect(types(h)).toEqual(['liveness']);
  });

  it('liveness: every broker must serve the final log', () => {
    const h = valid()
      .add({
        f: 'read',
        type: 'invoke',
        process: 12,
        time: 91,
        partition: 0,
        broker: 2,
        offset: 0,
        final: true,
      })
      .add({
        f: 'read',
        type: 'fail',
        process: 12,
        time: 92,
        partition: 0,
        broker: 2,
        offset: 0,
        final: true,
        error: '503 NOT_LEADER',
      });
    const v = check(h.ops);
    expect(v.anomalies.map((a) => a.type)).toEqual(['liveness']);
    expect(v.anomalies[0]!.message).toContain('broker 2');
    expect(v.anomalies[0]!.message).toContain('503 NOT_LEADER');
    // A broker that served only part of the log is just as bad.
    const partial = valid().read(
      13,
      0,
      91,
      92,
      [
        [0, 'a'],
        [1, 'b'],
      ],
      4,
      { final: true, broker: 3 },
    );
    expect(types(partial)).toEqual(['liveness']);
  });

  it('keeps partitions apart', () => {
    const h = new H()
      .append(0, 'a', 0, 10, 'ok', 0, 0)
      .append(1, 'b', 11, 20, 'ok', 0, 1)
      .heal(21, 22)
      .append(2, 'c', 23, 24, 'ok', 1, 0)
      .append(3, 'd', 23, 24, 'ok', 1, 1)
      .read(
        9,
        0,
        30,
        31,
        [
          [0, 'a'],
          [1, 'c'],
        ],
        2,
        { final: true, partition: 0 },
      )
      .read(
        9,
        0,
        32,
        33,
        [
          [0, 'b'],
          [1, 'd'],
        ],
        2,
        { final: true, partition: 1 },
      );
    const v = check(h.ops);
    expect(v.anomalies).toEqual([]);
    expect(v.partitions.map((p) => p.finalHighWatermark)).toEqual([2, 2]);
  });

  it('every anomaly cites the events that show it', () => {
    const v = check(
      valid().read(
        12,
        0,
        100,
        101,
        [
          [0, 'a'],
          [1, 'zzz'],
        ],
        4,
      ).ops,
    );
    expect(v.anomalies.length).toBeGreaterThan(0);
    for (const a of v.anomalies) expect(a.ops.length).toBeGreaterThan(0);
  });
});
