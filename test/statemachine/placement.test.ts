import { describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import {
  applyCancelMove,
  applyCompleteMove,
  applyStartMove,
  goalReplicas,
  hostingBrokers,
  type PartitionPlacement,
} from '../../src/statemachine/placement.js';

const placed: PartitionPlacement = {
  partition: 0,
  group: 7,
  replicas: [1, 2, 3],
  initialReplicas: [1, 2, 3],
};

function ok(p: PartitionPlacement | RaftlogError): PartitionPlacement {
  if (p instanceof RaftlogError) throw p;
  return p;
}

describe('partition placement during a move', () => {
  it('hosts the group on every broker involved until the move completes', () => {
    const moving = ok(applyStartMove(placed, [1, 2, 4]));
    expect(moving.replicas).toEqual([1, 2, 3]);
    expect(goalReplicas(moving)).toEqual([1, 2, 4]);
    expect(hostingBrokers(moving)).toEqual([1, 2, 3, 4]);
    const done = ok(applyCompleteMove(moving, [1, 2, 4]));
    expect(done).toEqual({ ...placed, replicas: [1, 2, 4] });
    expect(hostingBrokers(done)).toEqual([1, 2, 4]);
    expect(done.initialReplicas).toEqual([1, 2, 3]);
  });

  it('allows one move at a time', () => {
    const moving = ok(applyStartMove(placed, [1, 2, 4]));
    expect(applyStartMove(moving, [1, 2, 5])).toMatchObject({ code: 'MOVE_IN_PROGRESS' });
  });

  it('ignores a stale completion (another target, or no move)', () => {
    const moving = ok(applyStartMove(placed, [1, 2, 4]));
    expect(applyCompleteMove(moving, [1, 2, 5])).toMatchObject({ code: 'MOVE_NOT_FOUND' });
    expect(applyCompleteMove(placed, [1, 2, 4])).toMatchObject({ code: 'MOVE_NOT_FOUND' });
  });

  it('cancels by heading back, still hosting every broker involved (one may already vote)', () => {
    const back = ok(applyCancelMove(ok(applyStartMove(placed, [1, 2, 4]))));
    expect(goalReplicas(back)).toEqual([1, 2, 3]);
    expect(hostingBrokers(back)).toEqual([1, 2, 3, 4]);
    expect(ok(applyCompleteMove(back, [1, 2, 3]))).toEqual(placed);
  });

  it('reorders the replicas (the preferred leader) at once, without a move', () => {
    expect(ok(applyStartMove(placed, [2, 1, 3]))).toEqual({ ...placed, replicas: [2, 1, 3] });
  });

  it('refuses an empty target, duplicates, or no change', () => {
    for (const target of [[], [1, 1, 2], [1, 2, 3]]) {
      expect(applyStartMove(placed, target)).toMatchObject({ code: 'INVALID_REQUEST' });
    }
  });
});
