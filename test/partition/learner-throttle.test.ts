import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LearnerThrottle } from '../../src/partition/learner-throttle.js';
import type { GroupMessage } from '../../src/partition/transport.js';
import { message } from '../../src/raft/raft.js';
import { MessageType } from '../../src/raft/types.js';

const app = (to: number, index: number): GroupMessage => ({
  group: 1,
  message: message({ type: MessageType.App, to, index }),
});

/** A throttle of `rate` bytes/s on the fake clock, and what it sent: [peer, index] pairs, and the indexes alone. */
function recordingThrottle(rate: number) {
  const sent: Array<[number, number]> = [];
  const indexes: number[] = [];
  const throttle = new LearnerThrottle(
    rate,
    (peer, ms) => {
      for (const m of ms) {
        sent.push([peer, m.message.index]);
        indexes.push(m.message.index);
      }
    },
    () => Date.now(),
  );
  return { throttle, sent, indexes };
}

describe('LearnerThrottle: catch-up appends within a byte rate', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends while the bucket allows, holds the rest in order, and releases them as it refills', () => {
    const { throttle, sent } = recordingThrottle(1000);
    // The bucket holds a tenth of a second: 100 bytes. The first append may take it into debt.
    throttle.offer(4, app(4, 1), 150);
    throttle.offer(5, app(5, 2), 100);
    throttle.offer(4, app(4, 3), 100);
    expect(sent).toEqual([[4, 1]]);
    expect(throttle.held).toBe(2);
    vi.advanceTimersByTime(60); // 50 bytes of debt repaid, then some
    expect(sent).toEqual([
      [4, 1],
      [5, 2],
    ]);
    vi.advanceTimersByTime(200);
    expect(sent).toEqual([
      [4, 1],
      [5, 2],
      [4, 3],
    ]);
    expect(throttle.bytesSent).toBe(350);
    throttle.close();
  });

  it('an empty append waits behind the held ones, and passes at once when nothing is held', () => {
    const { throttle, indexes: sent } = recordingThrottle(1000);
    throttle.offer(4, app(4, 1), 150);
    throttle.offer(4, app(4, 2), 100);
    // Overtaking append 2 it would find a gap in the learner's log.
    throttle.offer(4, app(4, 3), 0);
    expect(sent).toEqual([1]);
    vi.advanceTimersByTime(60);
    expect(sent).toEqual([1, 2, 3]);
    // The bucket is in debt, but an empty append has nothing to wait for.
    throttle.offer(4, app(4, 4), 0);
    expect(sent).toEqual([1, 2, 3, 4]);
    expect(throttle.bytesSent).toBe(250);
    throttle.close();
  });

  it('drops an append the same as one it holds (a probe resent at each heartbeat answer)', () => {
    const { throttle, indexes: sent } = recordingThrottle(1000);
    throttle.offer(4, app(4, 1), 150);
    throttle.offer(4, app(4, 2), 100);
    throttle.offer(4, app(4, 2), 100);
    expect(throttle.held).toBe(1);
    // Another learner's, or another leader term's, is not the same append.
    throttle.offer(5, app(5, 2), 100);
    throttle.offer(4, { group: 1, message: { ...app(4, 2).message, term: 2 } }, 100);
    expect(throttle.held).toBe(3);
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([1, 2, 2, 2]);
    // Once sent, the same append is not held any more: a resend goes out again.
    throttle.offer(4, app(4, 2), 100);
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([1, 2, 2, 2, 2]);
    throttle.close();
  });

  it('never sends more than the rate allows over time (plus one burst)', () => {
    let bytes = 0;
    const throttle = new LearnerThrottle(
      10_000,
      (_peer, ms) => {
        bytes += ms.length * 500;
      },
      () => Date.now(),
    );
    for (let i = 0; i < 100; i++) throttle.offer(4, app(4, i), 500);
    vi.advanceTimersByTime(2000);
    expect(bytes).toBeLessThanOrEqual(2 * 10_000 + 1000 + 500);
    expect(bytes).toBeGreaterThanOrEqual(2 * 10_000 - 1000);
    throttle.close();
  });
});
