import { cp, rename, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RaftlogError } from '../../src/errors.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { InProcessCluster, waitFor } from './cluster-harness.js';

/**
 * Issue 6: a broker restarted on a data directory older than the one it last ran on has forgotten
 * votes and entries it acknowledged; its peers tell it so and it refuses to start.
 */

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const VICTIM = 3;

describe('a rolled-back broker is refused at start (issue 6)', () => {
  let cluster: InProcessCluster;
  const acknowledged: string[] = [];

  async function append(v: string): Promise<void> {
    await waitFor(`append ${v}`, async () => {
      const leader = await cluster.partitionLeader('events', 0);
      return leader.produce('events', 0, [{ value: Buffer.from(v) }]);
    });
    acknowledged.push(v);
  }

  /** Restart the victim; the STORAGE_CORRUPT error it was refused with, or undefined if it started. */
  async function restartVictim(): Promise<RaftlogError | undefined> {
    try {
      await cluster.restart(VICTIM);
      return undefined;
    } catch (err) {
      if (err instanceof RaftlogError && err.code === 'STORAGE_CORRUPT') return err;
      throw err;
    }
  }

  /** The sync counter a stopped broker's data directory holds. */
  async function syncCounterOf(dir: string): Promise<number> {
    const store = await LevelLogStore.open(dir);
    try {
      return store.syncCounter();
    } finally {
      await store.close();
    }
  }

  beforeAll(async () => {
    cluster = await InProcessCluster.start(3);
    const meta = await cluster.metadataLeader();
    await meta.createTopic({ name: 'events', partitions: 1, replicationFactor: 3 });
    for (let i = 0; i < 5; i++) await append(`before-${i}`);
  });

  afterAll(async () => {
    await cluster?.stop();
    const dir = cluster?.members.get(VICTIM)?.dir;
    if (dir)
      for (const suffix of ['.earlier', '.latest']) await rm(dir + suffix, { recursive: true, force: true });
  });

  it('a normal restart passes the gate', async () => {
    await cluster.kill(VICTIM);
    expect(await restartVictim()).toBeUndefined();
    await append('after-restart');
  });

  it('a data directory put back from an earlier copy is refused, naming it; its latest one starts', async () => {
    const dir = cluster.members.get(VICTIM)!.dir;
    await cluster.kill(VICTIM);
    await cp(dir, `${dir}.earlier`, { recursive: true });
    const copied = await syncCounterOf(`${dir}.earlier`);
    expect(await restartVictim()).toBeUndefined();
    // The broker runs on, voting and acknowledging; both peers learn its newer counter.
    for (let i = 0; i < 5; i++) await append(`while-copied-${i}`);
    await waitFor('both peers see a newer counter from the victim', () =>
      [1, 2].every((peer) => cluster.seenFrom(peer, VICTIM) > copied),
    );
    await cluster.kill(VICTIM);
    await rename(dir, `${dir}.latest`);
    await cp(`${dir}.earlier`, dir, { recursive: true });

    const refused = await restartVictim();
    expect(refused?.message).toContain(dir);
    expect(refused?.message).toContain('rolled back');
    expect(refused?.details).toMatchObject({ dir, own: copied });
    // Refused before anything was written: the directory still holds the copy's counter.
    expect(await syncCounterOf(dir)).toBe(copied);
    await append('while-refused');

    await rm(dir, { recursive: true, force: true });
    await rename(`${dir}.latest`, dir);
    expect(await restartVictim()).toBeUndefined();
    await append('after-repair');
  });

  it('an empty data directory under the same id is refused too', async () => {
    const dir = cluster.members.get(VICTIM)!.dir;
    await cluster.kill(VICTIM);
    await rename(dir, `${dir}.latest`);
    const refused = await restartVictim();
    expect(refused?.message).toMatch(/is new .*empty data directory/);
    await rm(dir, { recursive: true, force: true });
    await rename(`${dir}.latest`, dir);
    expect(await restartVictim()).toBeUndefined();
  });

  it('nothing acknowledged is lost: every replica, the victim too, ends with every acknowledged record', async () => {
    await append('last');
    const expected = [...acknowledged];
    for (const broker of cluster.running()) {
      await waitFor(`broker ${broker.id} has applied every record`, () => {
        const s = broker.partitionStatus().find((p) => p.topic === 'events' && p.partition === 0);
        return s !== undefined && s.highWatermark >= expected.length;
      });
    }
    const leader = await cluster.partitionLeader('events', 0);
    const { records } = await leader.fetch('events', 0, { offset: 0, maxRecords: 1000 });
    expect(records.map((r) => text(r.value))).toEqual(expected);
  });
});
