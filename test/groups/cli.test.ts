import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { consumeCommand } from '../../src/cli/consume.js';
import { groupsCommand } from '../../src/cli/groups.js';
import { RaftlogClient } from '../../src/client/index.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { TEST_TIMING } from '../broker/cluster-harness.js';

/** Run a CLI command in this process; resolves with its exit code and what it printed. */
async function run(command: { run(args: string[]): Promise<number> }, args: string[]) {
  let stdout = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
  try {
    const code = await command.run(args);
    return { code, stdout };
  } finally {
    spy.mockRestore();
  }
}

describe('raftlog consume --group and raftlog groups (one broker)', () => {
  let dir: string;
  let broker: Broker | undefined;
  let server: HttpServer | undefined;
  let client: RaftlogClient | undefined;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'raftlog-groups-cli-'));
    broker = new Broker({ id: 1, store: await LevelLogStore.open(dir), timing: TEST_TIMING });
    server = createHttpServer({ broker });
    url = (await server.listen('127.0.0.1', 0)).url;
    broker.setClientUrl(url);
    await broker.whenReady(10_000);
    client = new RaftlogClient({ url, retryBackoff: { initialMs: 20, maxMs: 200 } });
    await client.createTopic('logs', { partitions: 2 });
    await client.produce('logs', 0, [{ value: 'a' }, { value: 'b' }]);
    await client.produce('logs', 1, [{ value: 'c' }]);
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('consumes what the group has not committed yet, then shows the group with no lag', async () => {
    const first = await run(consumeCommand, ['logs', '--group', 'ops', '--url', url]);
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n').sort()).toEqual(['0 0 - a', '0 1 - b', '1 0 - c']);

    // Committed: a second run prints only what came since.
    await client!.produce('logs', 1, [{ value: 'd' }]);
    const second = await run(consumeCommand, ['logs', '--group', 'ops', '--url', url]);
    expect(second.stdout).toBe('1 1 - d\n');

    const list = await run(groupsCommand, ['list', '--url', url]);
    expect(list.stdout).toMatch(/^GROUP +GENERATION +MEMBERS\nops +\d+ +0\n$/);
    const described = await run(groupsCommand, ['describe', 'ops', '--url', url, '--json']);
    const d = JSON.parse(described.stdout);
    expect(d.members).toEqual([]);
    expect(d.partitions).toEqual([
      { topic: 'logs', partition: 0, memberId: null, offset: 2, highWatermark: 2, lag: 0 },
      { topic: 'logs', partition: 1, memberId: null, offset: 2, highWatermark: 2, lag: 0 },
    ]);
    const table = await run(groupsCommand, ['describe', 'ops', '--url', url]);
    expect(table.stdout).toMatch(
      /TOPIC +PARTITION +MEMBER +OFFSET +HIGH_WATERMARK +LAG\nlogs +0 +- +2 +2 +0\n/,
    );

    await expect(
      run(consumeCommand, ['logs', '--group', 'ops', '--partition', '0', '--url', url]),
    ).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    await expect(run(groupsCommand, ['describe', 'nobody', '--url', url])).rejects.toMatchObject({
      code: 'GROUP_NOT_FOUND',
    });
  });
});
