import { describe, expect, it } from 'vitest';
import { ProgressState } from '../../src/raft/rawnode.js';
import { MessageType } from '../../src/raft/types.js';
import { Cluster } from './helpers/cluster.js';
import { GROUP } from './helpers/log-state.js';

const isSnap = (m: { type: number }) => m.type === MessageType.Snap;

/** Three voters led by node 1; node 3 misses 'a'..'e', then nodes 1 and 2 compact their logs. */
function withCompactedLogBehindNode3(reportSnapshots = true) {
  const c = new Cluster({ voters: [1, 2, 3], reportSnapshots });
  c.elect(1);
  c.isolate(3);
  for (const data of ['a', 'b', 'c', 'd', 'e']) c.propose(1, data);
  c.stabilize();
  const snapshot = c.compact(1);
  c.compact(2);
  c.heal();
  return { c, snapshot };
}

describe('Raft paper §7 / thesis §5 log compaction and InstallSnapshot', () => {
  it('§7: compaction drops the log prefix the snapshot covers', () => {
    const { c, snapshot } = withCompactedLogBehindNode3();
    expect(snapshot.meta).toMatchObject({ index: 6, term: 1 });
    const log = c.peer(1).store.group(GROUP);
    expect(log.firstIndex()).toBe(7);
    expect(log.term(6)).toBe(1);
    c.propose(1, 'f');
    c.stabilize();
    expect(c.peer(2).sm.values()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('§7: a follower that needs compacted entries is sent the snapshot, installs it through Ready, and continues from there', () => {
    const { c, snapshot } = withCompactedLogBehindNode3();
    c.runTicks(1); // a heartbeat round shows the leader how far behind node 3 is
    expect(c.sentMatching({ to: 3, type: MessageType.Snap })).toHaveLength(1);
    expect(c.peer(3).installed).toEqual([snapshot]); // the bytes flowed through Ready untouched
    expect(c.peer(3).sm.values()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(c.peer(3).store.group(GROUP).firstIndex()).toBe(snapshot.meta.index + 1);

    c.propose(1, 'f');
    c.stabilize();
    expect(c.peer(3).sm.values()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(c.status(1).progress?.get(3)?.state).toBe(ProgressState.Replicate);
  });

  it('§7: while a snapshot is in flight the leader sends no appends; a failed send returns the follower to probing and the snapshot is sent again', () => {
    const { c } = withCompactedLogBehindNode3();
    c.tick(1);
    c.stabilize({ deliver: (m) => !isSnap(m) });
    expect(c.status(1).progress?.get(3)?.state).toBe(ProgressState.Snapshot);

    const since = c.sent.length;
    c.propose(1, 'f');
    c.stabilize({ deliver: (m) => !isSnap(m) });
    expect(c.sent.slice(since).filter((m) => m.to === 3 && m.type === MessageType.App)).toEqual([]);

    expect(c.drop(isSnap)).toHaveLength(1); // the transport failed to send it...
    c.node(1).reportSnapshot(3, false); // ...and says so
    expect(c.status(1).progress?.get(3)?.state).toBe(ProgressState.Probe);

    c.runTicks(1);
    expect(c.sentMatching({ to: 3, type: MessageType.Snap })).toHaveLength(2);
    expect(c.peer(3).sm.values()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });
});
