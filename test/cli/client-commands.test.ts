import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { RaftlogClient } from '../../src/client/index.js';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { partitionForKey } from '../../src/statemachine/partitioner.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { waitFor } from '../broker/cluster-harness.js';
import { build, CLI, exited, killIfRunning, runCli } from './run-cli.js';

describe('raftlog topic, produce, consume and status (the built CLI against a broker)', () => {
  let dir: string;
  let broker: Broker | undefined;
  let server: HttpServer | undefined;
  let client: RaftlogClient | undefined;
  let url: string;
  const raftlog = (args: string[], input?: string) => runCli([...args, '--url', url], input);

  beforeAll(async () => {
    const built = build();
    dir = await mkdtemp(join(tmpdir(), 'raftlog-cli-'));
    broker = new Broker({ id: 1, store: await LevelLogStore.open(dir) });
    server = createHttpServer({ broker });
    url = (await server.listen('127.0.0.1', 0)).url;
    broker.setClientUrl(url);
    await broker.whenReady(10_000);
    client = new RaftlogClient({ url });
    await built;
  }, 180_000);
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await broker?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('topic create, list, describe and delete', async () => {
    const created = await raftlog(['topic', 'create', 'orders', '--partitions', '3']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(/^created topic orders\nPARTITION +LEADER +REPLICAS/);
    expect(created.stdout.trim().split('\n')).toHaveLength(5);

    const listed = await raftlog(['topic', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([{ name: 'orders', partitions: 3, replicationFactor: 1 }]);

    await waitFor('leaders of every partition', async () =>
      (await client!.describeTopic('orders')).partitions.every((p) => p.leader === 1),
    );
    const described = await raftlog(['topic', 'describe', 'orders']);
    expect(described.stdout.split('\n')[1]).toMatch(/^0 +1 +1 +\d+ +0 +0$/);

    const missing = await raftlog(['topic', 'describe', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/TOPIC_NOT_FOUND/);

    expect(await raftlog(['topic', 'delete', 'orders'])).toMatchObject({
      code: 0,
      stdout: 'deleted topic orders\n',
    });
    expect(await client!.listTopics()).toEqual([]);
  });

  it('produce writes one record per line and prints where each went; consume prints them back', async () => {
    await client!.createTopic('lines', { partitions: 2 });
    const byPartition = await raftlog(['produce', 'lines', '--partition', '1'], 'one\ntwo\nthree\n');
    expect(byPartition).toMatchObject({ code: 0, stdout: '1 0\n1 1\n1 2\n' });
    const keyed = await raftlog(['produce', 'lines', '--key', 'user-7', '--json'], 'four\n');
    const p = partitionForKey(Buffer.from('user-7'), 2);
    expect(JSON.parse(keyed.stdout)).toEqual({ partition: p, offset: p === 1 ? 3 : 0 });

    const consumed = await raftlog(['consume', 'lines', '--partition', '1']);
    expect(consumed.code).toBe(0);
    expect(consumed.stdout.split('\n').slice(0, 3)).toEqual(['1 0 - one', '1 1 - two', '1 2 - three']);
    const fromOffset = await raftlog(['consume', 'lines', '--offset', '1', '--partition', '1', '--json']);
    expect(
      fromOffset.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).value),
    ).toEqual(p === 1 ? ['two', 'three', 'four'] : ['two', 'three']);
  });

  it('consume --follow prints records as they are written, until it is stopped', async () => {
    await client!.createTopic('followed');
    await client!.produce('followed', 0, [{ value: 'old' }]);
    const child = spawn(process.execPath, [CLI, 'consume', 'followed', '--follow', '--url', url]);
    try {
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString('utf8');
      });
      await waitFor('the old record', () => stdout === '0 0 - old\n');
      await client!.produce('followed', 0, [{ key: 'k', value: 'new' }]);
      await waitFor('the new record', () => stdout === '0 0 - old\n0 1 k new\n');
      child.kill('SIGTERM');
      expect(await exited(child, 10_000)).toBe(0);
    } finally {
      killIfRunning(child);
    }
  });

  it('status prints a row per partition', async () => {
    await client!.createTopic('watched', { partitions: 2 });
    await client!.produce('watched', 1, [{ value: 'x' }]);
    const status = await raftlog(['status']);
    expect(status.code).toBe(0);
    const rows = status.stdout.split('\n').filter((l) => l.startsWith('watched'));
    expect(rows.map((r) => r.split(/ +/))).toEqual([
      ['watched', '0', '1', '1', expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), '0', '1:0'],
      ['watched', '1', '1', '1', expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), '1', '1:0'],
    ]);
    expect(status.stdout).toMatch(
      /^TOPIC +PARTITION +LEADER +REPLICAS +TERM +COMMIT_INDEX +HIGH_WATERMARK +REPLICA_LAG/m,
    );
  });

  it('broker list, rebalance --dry-run, and refusals of reassign and broker remove', async () => {
    await client!.createTopic('placed', { partitions: 1 });
    const listed = await raftlog(['broker', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      { id: 1, url, peer: '', state: 'active', alive: true, replicas: expect.any(Number) },
    ]);
    const plan = await raftlog(['rebalance', '--dry-run']);
    expect(plan).toMatchObject({ code: 0, stdout: 'balanced: nothing to move\n' });
    const unknown = await raftlog(['reassign', 'placed', '0', '--replicas', '1,9']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/BROKER_NOT_FOUND/);
    const holding = await raftlog(['broker', 'remove', '1']);
    expect(holding.code).toBe(1);
    expect(holding.stderr).toMatch(/BROKER_NOT_EMPTY/);
    expect((await raftlog(['reassign', 'placed', '0'])).code).not.toBe(0);
  });
});
