import { describe, expect, it } from 'vitest';
import { RawNode } from '../../src/raft/rawnode.js';
import type { RaftStorage } from '../../src/raft/storage.js';
import {
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  Role,
  type Snapshot,
} from '../../src/raft/types.js';

/** The smallest storage that honours the contract: everything in arrays, nothing compacted. */
class ArrayStorage implements RaftStorage {
  hard: HardState = { term: 0, vote: 0, commit: 0 };
  log: Entry[] = [];
  constructor(private readonly conf: ConfState) {}
  initialState() {
    return { hardState: this.hard, confState: this.conf };
  }
  entries(lo: number, hi: number): readonly Entry[] {
    return this.log.slice(lo - 1, hi - 1);
  }
  term(index: number): number {
    return index === 0 ? 0 : this.log[index - 1]!.term;
  }
  firstIndex(): number {
    return 1;
  }
  lastIndex(): number {
    return this.log.length;
  }
  snapshot(): Snapshot {
    return { meta: { index: 0, term: 0, confState: this.conf }, data: new Uint8Array() };
  }
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.log.length = entries[0]!.index - 1;
    this.log.push(...entries);
  }
}

function cluster(n: number) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const conf: ConfState = {
    voters: ids,
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };
  let seed = 7;
  const randomInt = (k: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % k;
  };
  const stores = ids.map(() => new ArrayStorage(conf));
  const nodes = ids.map((id, i) => new RawNode({ id, storage: stores[i]!, randomInt }));
  const applied: Uint8Array[][] = ids.map(() => []);
  const inbox: Message[] = [];
  /** Run every node's Ready in contract order until nothing is left to do. */
  const settle = () => {
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      nodes.forEach((node, i) => {
        if (!node.hasReady()) return;
        busy = true;
        const rd = node.ready();
        stores[i]!.append(rd.entries);
        if (rd.hardState) stores[i]!.hard = rd.hardState;
        inbox.push(...rd.messages);
        for (const e of rd.committedEntries) if (e.data.length > 0) applied[i]!.push(e.data);
        node.advance();
      });
      const batch = inbox.splice(0);
      for (const m of batch) nodes[m.to - 1]!.step(m);
      if (!busy && batch.length === 0) return;
    }
    throw new Error('cluster did not settle');
  };
  return { nodes, applied, settle };
}

describe('RawNode smoke: §5.2 election and §5.3 replication on three nodes', () => {
  it('elects one leader, then commits and applies proposals on every node', () => {
    const { nodes, applied, settle } = cluster(3);
    nodes[0]!.campaign();
    settle();
    expect(nodes.map((n) => n.status().role)).toEqual([Role.Leader, Role.Follower, Role.Follower]);
    expect(nodes.every((n) => n.status().leader === 1)).toBe(true);
    for (let i = 0; i < 5; i++) nodes[0]!.propose(new Uint8Array([i]));
    settle();
    // Commit reaches followers with the next heartbeat or append.
    nodes[0]!.tick();
    settle();
    for (const a of applied) expect(a.map((d) => d[0])).toEqual([0, 1, 2, 3, 4]);
  });

  it('a single-node group elects itself and commits after its own fsync', () => {
    const { nodes, applied, settle } = cluster(1);
    nodes[0]!.campaign();
    settle();
    nodes[0]!.propose(new Uint8Array([9]));
    settle();
    expect(applied[0]!.map((d) => d[0])).toEqual([9]);
  });
});
