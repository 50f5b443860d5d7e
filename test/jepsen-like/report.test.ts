import { describe, expect, it } from 'vitest';
import { check } from '../../src/jepsen/checker.js';
import type { Op } from '../../src/jepsen/history.js';
import { renderReport } from '../../src/jepsen/report.js';

describe('the HTML report', () => {
  it('renders a long run (more operations than a spread call can take) without failing', () => {
    // The 120 s restart scenario of the soak recorded ~150,000 appends; Math.max(...latencies)
    // overflowed the call stack there.
    const history: Op[] = [];
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const base = { f: 'append', process: i, partition: 0, value: `v${i}`, broker: 1 } as const;
      history.push({ ...base, index: history.length, type: 'invoke', time: i });
      history.push({ ...base, index: history.length, type: 'ok', time: i + 3, offset: i });
    }
    const verdict = check(history);
    const html = renderReport(history, verdict, {
      scenario: 'none',
      seed: 1,
      nodes: 3,
      command: 'npm run jepsen',
      unexpectedExits: [],
    });
    expect(html).toContain('<svg');
  });
});
