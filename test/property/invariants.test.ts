import { describe, expect, it } from 'vitest';
import { type Entry, EntryType, NONE, Role } from '../../src/raft/types.js';
import { InvariantViolation, type LogView, type NodeView, SafetyMonitor } from './sim/invariants.js';

/** The safety monitor must accept legal histories and catch each kind of broken one. */

function entry(index: number, term: number, data = `e${index}.${term}`): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(data) };
}

/** A log holding `terms[i]` at index `snapshotIndex + 1 + i`. */
function log(terms: readonly number[], snapshotIndex = 0, snapshotTerm = 0): LogView {
  return { snapshotIndex, snapshotTerm, entries: terms.map((t, i) => entry(snapshotIndex + 1 + i, t)) };
}

function node(id: number, fields: Partial<NodeView> & { log: LogView }): NodeView {
  return { id, term: 1, vote: NONE, commit: 0, role: Role.Follower, applied: 0, ...fields };
}

function violation(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvariantViolation) return err.property;
    throw err;
  }
  return 'none';
}

describe('SafetyMonitor', () => {
  it('accepts a legal history: election, replication, commit, a new leader, compaction, restart', () => {
    const m = new SafetyMonitor();
    m.observe([
      node(1, { term: 1, vote: 1, role: Role.Leader, log: log([1]) }),
      node(2, { term: 1, vote: 1, log: log([]) }),
      node(3, { term: 1, vote: 1, log: log([]) }),
    ]);
    m.observe([
      node(1, { term: 1, vote: 1, role: Role.Leader, commit: 2, applied: 2, log: log([1, 1]) }),
      node(2, { term: 1, vote: 1, commit: 1, applied: 1, log: log([1, 1]) }),
      node(3, { term: 1, vote: 1, log: log([]) }),
    ]);
    m.appliedEntry(1, entry(1, 1));
    m.appliedEntry(1, entry(2, 1));
    m.appliedEntry(2, entry(1, 1));
    // Node 1 crashed; node 2 wins term 2 with the committed entries; node 3 has an uncommitted
    // suffix of its own term that the new leader overwrites.
    m.observe([
      node(2, { term: 2, vote: 2, role: Role.Leader, commit: 1, applied: 1, log: log([1, 1, 2]) }),
      node(3, { term: 2, vote: 2, log: log([1, 1]) }),
    ]);
    m.observe([
      node(1, { term: 2, vote: NONE, commit: 3, applied: 3, log: log([2], 2, 1) }),
      node(2, { term: 2, vote: 2, role: Role.Leader, commit: 3, applied: 1, log: log([1, 1, 2]) }),
    ]);
    m.restoredState(1, 2, [
      { index: 1, term: 1, data: entry(1, 1).data },
      { index: 2, term: 1, data: entry(2, 1).data },
    ]);
    m.readRequested(new TextEncoder().encode('r1'));
    m.readServed(2, { index: 3, context: new TextEncoder().encode('r1') });
    expect(m.leaderTerms).toBe(2);
  });

  it('Election Safety: two leaders of one term, even at different times', () => {
    const m = new SafetyMonitor();
    m.observe([node(1, { term: 3, vote: 1, role: Role.Leader, log: log([3]) })]);
    m.observe([node(1, { term: 4, log: log([3]) })]);
    expect(
      violation(() => m.observe([node(2, { term: 3, vote: 2, role: Role.Leader, log: log([3]) })])),
    ).toBe('Election Safety');
  });

  it('Leader Append-Only: a leader that drops or rewrites an entry of its log', () => {
    const shrinks = new SafetyMonitor();
    shrinks.observe([node(1, { term: 2, role: Role.Leader, log: log([1, 2, 2]) })]);
    expect(
      violation(() => shrinks.observe([node(1, { term: 2, role: Role.Leader, log: log([1, 2]) })])),
    ).toBe('Leader Append-Only');
    const rewrites = new SafetyMonitor();
    rewrites.observe([node(1, { term: 3, role: Role.Leader, log: log([1, 2]) })]);
    expect(
      violation(() => rewrites.observe([node(1, { term: 3, role: Role.Leader, log: log([1, 3, 3]) })])),
    ).toBe('Leader Append-Only');
  });

  it('Log Matching: same index and term with different content or a different history', () => {
    const content = new SafetyMonitor();
    content.observe([node(1, { log: log([1, 1]) })]);
    const forged = { snapshotIndex: 0, snapshotTerm: 0, entries: [entry(1, 1), entry(2, 1, 'other')] };
    expect(violation(() => content.observe([node(2, { log: forged })]))).toBe('Log Matching');
    const history = new SafetyMonitor();
    history.observe([node(1, { term: 3, log: log([1, 3]) })]);
    expect(violation(() => history.observe([node(2, { term: 3, log: log([2, 3]) })]))).toBe('Log Matching');
  });

  it('Leader Completeness: a later leader without an entry committed in an earlier term', () => {
    const m = new SafetyMonitor();
    m.observe([node(1, { term: 1, role: Role.Leader, commit: 2, log: log([1, 1]) })]);
    // A stale leader of the same term may still lag; a leader of a later term may not.
    m.observe([node(1, { term: 1, role: Role.Leader, commit: 2, log: log([1, 1]) })]);
    expect(violation(() => m.observe([node(2, { term: 2, role: Role.Leader, log: log([1]) })]))).toBe(
      'Leader Completeness',
    );
    expect(
      violation(() => new SafetyMonitor().observe([node(3, { term: 2, role: Role.Leader, log: log([1]) })])),
    ).toBe('none');
  });

  it('State Machine Safety: different entries applied, committed or restored at one index', () => {
    const applied = new SafetyMonitor();
    applied.appliedEntry(1, entry(1, 1));
    expect(violation(() => applied.appliedEntry(2, entry(1, 2)))).toBe('State Machine Safety');

    const committed = new SafetyMonitor();
    committed.observe([node(1, { term: 1, commit: 1, log: log([1]) })]);
    expect(violation(() => committed.observe([node(2, { term: 2, commit: 1, log: log([2]) })]))).toBe(
      'State Machine Safety',
    );

    const restored = new SafetyMonitor();
    restored.appliedEntry(1, entry(1, 1));
    restored.appliedEntry(1, { ...entry(2, 1), data: new Uint8Array() });
    expect(
      violation(() => restored.restoredState(2, 2, [{ index: 1, term: 1, data: entry(1, 1).data }])),
    ).toBe('none');
    expect(violation(() => restored.restoredState(2, 2, []))).toBe('State Machine Safety');
    expect(
      violation(() => restored.restoredState(2, 3, [{ index: 1, term: 1, data: entry(1, 1).data }])),
    ).toBe('State Machine Safety');
    expect(
      violation(() => restored.restoredState(2, 1, [{ index: 1, term: 1, data: entry(9, 9).data }])),
    ).toBe('State Machine Safety');
  });

  it('Term and vote monotonic: across observations, including a restart', () => {
    const term = new SafetyMonitor();
    term.observe([node(1, { term: 5, log: log([]) })]);
    expect(violation(() => term.observe([node(1, { term: 4, log: log([]) })]))).toBe(
      'Term and vote monotonic',
    );
    const vote = new SafetyMonitor();
    vote.observe([node(1, { term: 5, vote: 2, log: log([]) })]);
    expect(violation(() => vote.observe([node(1, { term: 5, vote: NONE, log: log([]) })]))).toBe(
      'Term and vote monotonic',
    );
    expect(violation(() => vote.observe([node(1, { term: 6, vote: 3, log: log([]) })]))).toBe('none');
  });

  it('commit within the log and applied within commit', () => {
    expect(violation(() => new SafetyMonitor().observe([node(1, { commit: 2, log: log([1]) })]))).toBe(
      'Commit within log',
    );
    expect(
      violation(() => new SafetyMonitor().observe([node(1, { commit: 1, applied: 2, log: log([1, 1]) })])),
    ).toBe('Applied within commit');
  });

  it('Linearizable ReadIndex: a read index below what was committed when the read began', () => {
    const m = new SafetyMonitor();
    m.observe([node(1, { role: Role.Leader, commit: 2, log: log([1, 1]) })]);
    const ctx = new TextEncoder().encode('r1');
    m.readRequested(ctx);
    expect(violation(() => m.readServed(1, { index: 1, context: ctx }))).toBe('Linearizable ReadIndex');
    expect(violation(() => m.readServed(1, { index: 2, context: ctx }))).toBe('none');
  });
});
