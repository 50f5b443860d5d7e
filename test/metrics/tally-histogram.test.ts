import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TallyHistogram } from '../../src/metrics/tally-histogram.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** The same observations through prom-client's Histogram and a TallyHistogram, scraped as text. */
async function both(
  labelName: string | undefined,
  observations: ReadonlyArray<readonly [string, number]>,
): Promise<[string, string]> {
  const ours = new Registry();
  const theirs = new Registry();
  const tally = new TallyHistogram({
    name: 'h',
    help: 'a histogram',
    buckets: BUCKETS,
    labelName,
    registers: [ours],
  });
  const reference = new Histogram({
    name: 'h',
    help: 'a histogram',
    buckets: BUCKETS,
    labelNames: labelName === undefined ? [] : [labelName],
    registers: [theirs],
  });
  for (const [label, value] of observations) {
    tally.series(label).observe(value);
    if (labelName === undefined) reference.observe(value);
    else reference.observe({ [labelName]: label }, value);
  }
  return [await ours.metrics(), await theirs.metrics()];
}

describe('TallyHistogram', () => {
  it('scrapes exactly as prom-client does, series in first-observed order', async () => {
    // On bounds, between them, above the last, 0, and several label values interleaved.
    const observations: Array<[string, number]> = [
      ['produce', 0.0005],
      ['fetch', 0.001],
      ['produce', 0.01],
      ['produce', 0.5],
      ['fetch', 7],
      ['status', 0],
      ['produce', 1],
      ['fetch', 0.09],
    ];
    const [ours, theirs] = await both('operation', observations);
    expect(ours).toContain('h_bucket{le="0.01",operation="produce"} 2');
    expect(ours).toBe(theirs);
  });

  it('shows zeros before any observation when it has no label, as prom-client does', async () => {
    const [empty, emptyReference] = await both(undefined, []);
    expect(empty).toContain('h_count 0');
    expect(empty).toBe(emptyReference);
    const [ours, theirs] = await both(undefined, [
      ['', 3],
      ['', 0.002],
    ]);
    expect(ours).toBe(theirs);
  });

  it('forgets its observations on reset', async () => {
    const registry = new Registry();
    const tally = new TallyHistogram({
      name: 'h',
      help: 'x',
      buckets: BUCKETS,
      labelName: 'op',
      registers: [registry],
    });
    tally.series('a').observe(0.5);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain('op="a"');
  });

  it('ignores values that are not finite', () => {
    const tally = new TallyHistogram({ name: 'h', help: 'x', buckets: BUCKETS, registers: [] });
    tally.series().observe(Number.NaN);
    tally.series().observe(Number.POSITIVE_INFINITY);
    expect(tally.series().count).toBe(0);
  });
});
