import { describe, expect, it } from 'vitest';
import { withoutRedundantAppends } from '../../src/partition/redundant-appends.js';
import { message } from '../../src/raft/raft.js';
import { EntryType, type Message, MessageType } from '../../src/raft/types.js';

const entry = (index: number) => ({ term: 2, index, type: EntryType.Normal, data: new Uint8Array([1]) });
const app = (to: number, index: number, commit: number, entries = 0, term = 2): Message =>
  message({
    type: MessageType.App,
    from: 1,
    to,
    term,
    index,
    logTerm: 2,
    commit,
    entries: Array.from({ length: entries }, (_, i) => entry(index + 1 + i)),
  });

describe('withoutRedundantAppends', () => {
  it('drops an empty append (a commit index) when a later append to the same member carries it', () => {
    const commitOnly = app(2, 10, 10);
    const withEntries = app(2, 10, 10, 3);
    expect(withoutRedundantAppends([commitOnly, withEntries])).toEqual([withEntries]);
  });

  it('keeps it when nothing later covers its log position and commit index', () => {
    const cases: Message[][] = [
      [app(2, 10, 10), app(3, 10, 10, 3)], // another member
      [app(2, 10, 10), app(2, 9, 10, 3)], // the later one starts lower (the leader probed back)
      [app(2, 10, 10), app(2, 10, 9, 3)], // the later one has a lower commit index
      [app(2, 10, 10), app(2, 10, 10, 3, 3)], // another term
      [app(2, 10, 10, 3), app(2, 13, 13)], // the empty one is the last
      [app(2, 10, 10), message({ type: MessageType.Heartbeat, from: 1, to: 2, term: 2, commit: 10 })],
    ];
    for (const messages of cases) expect(withoutRedundantAppends(messages)).toEqual(messages);
  });

  it('never drops appends with entries, and keeps the order of everything else', () => {
    const a = app(2, 10, 9, 1);
    const b = app(3, 10, 10);
    const c = app(2, 11, 10, 2);
    const beat = message({ type: MessageType.Heartbeat, from: 1, to: 3, term: 2, commit: 10 });
    const d = app(3, 10, 10, 1);
    expect(withoutRedundantAppends([a, b, beat, c, d])).toEqual([a, beat, c, d]);
  });
});
