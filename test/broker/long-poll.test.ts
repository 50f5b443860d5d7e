import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { PartitionMachine } from '../../src/statemachine/partition-machine.js';
import { MemoryLogStore } from '../../src/storage/memory-log-store.js';
import { TEST_TIMING } from './cluster-harness.js';

describe('Broker.fetch long poll', () => {
  let broker: Broker | undefined;
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });

  it('ends early, with no records, when its signal aborts (the client went away)', async () => {
    broker = new Broker({ id: 1, store: new MemoryLogStore(), timing: TEST_TIMING });
    await broker.whenReady(10_000);
    await broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1 });
    await broker.whenReady(10_000);
    const gone = new AbortController();
    // A minute-long poll: the test's own timeout is far shorter, so only the abort can end it.
    const polling = broker.fetch('t', 0, { offset: 0, timeoutMs: 60_000, signal: gone.signal });
    gone.abort();
    expect(await polling).toEqual({ records: [], nextOffset: 0, highWatermark: 0, logStartOffset: 0 });
  }, 15_000);

  it('with minRecords, waits until that many records follow the offset', async () => {
    broker = new Broker({ id: 1, store: new MemoryLogStore(), timing: TEST_TIMING });
    await broker.whenReady(10_000);
    await broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1 });
    await broker.whenReady(10_000);
    let answered = false;
    const polling = broker.fetch('t', 0, { offset: 0, timeoutMs: 60_000, minRecords: 3 }).then((r) => {
      answered = true;
      return r;
    });
    await broker.produce('t', 0, [{ value: Buffer.from('a') }]);
    // The readers' wake for that record runs in the next event-loop turn; a poll that did not
    // wait for 3 records would have answered by the one after.
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    await broker.produce('t', 0, [{ value: Buffer.from('b') }, { value: Buffer.from('c') }]);
    const { records, nextOffset } = await polling;
    expect(records.map((r) => r.offset)).toEqual([0, 1, 2]);
    expect(nextOffset).toBe(3);
  }, 15_000);

  it('a partition wait ends when its signal aborts while it waits', async () => {
    const machine = new PartitionMachine(new MemoryLogStore(), 5);
    const gone = new AbortController();
    const waiting = machine.waitForAppend(60_000, gone.signal);
    await new Promise((resolve) => setImmediate(resolve));
    gone.abort();
    await waiting;
  }, 15_000);
});
