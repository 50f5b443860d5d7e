import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, type HttpServer } from '../../src/http/server.js';
import { InProcessCluster, waitFor } from '../broker/cluster-harness.js';
import { call } from './harness.js';

/** The cluster administration routes of issue 9, over a real 3-broker cluster (HTTP on broker 1). */
describe('cluster administration over HTTP', () => {
  let cluster: InProcessCluster | undefined;
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    await cluster?.stop();
    server = undefined;
    cluster = undefined;
  });

  async function setUp(): Promise<string> {
    cluster = await InProcessCluster.start(3);
    const leader = await cluster.metadataLeader();
    server = createHttpServer({ broker: leader });
    const { url } = await server.listen('127.0.0.1', 0);
    await waitFor('every broker registered', async () => (await leader.admin.listBrokers()).length === 3);
    await leader.createTopic({ name: 't', partitions: 1, replicationFactor: 2 });
    return url;
  }

  it('lists brokers, refuses bad input with stable codes, and shows a move in /v1/status', async () => {
    const url = await setUp();
    const brokers = await call(url, 'GET', '/v1/brokers');
    expect(brokers.status).toBe(200);
    expect(
      (brokers.body as { brokers: Array<{ id: number; state: string }> }).brokers.map((b) => [b.id, b.state]),
    ).toEqual([
      [1, 'active'],
      [2, 'active'],
      [3, 'active'],
    ]);
    const bad = [
      ['POST', '/v1/brokers', { id: 0, url: 'http://x:1', peer: 'x:1' }],
      ['POST', '/v1/brokers', { id: 4, url: 'not a url', peer: 'x:1' }],
      ['POST', '/v1/brokers', { id: 4, url: 'http://x:1', peer: 'x' }],
      ['POST', '/v1/topics/t/partitions/0/reassignment', { replicas: [] }],
      ['POST', '/v1/topics/t/partitions/0/reassignment', { replicas: [1, 1] }],
      ['POST', '/v1/topics/t/partitions/0/reassignment', { replicas: ['1'] }],
      ['POST', '/v1/rebalance', { dry_run: 'yes' }],
    ] as const;
    for (const [method, path, json] of bad) {
      const res = await call(url, method, path, { json });
      expect(res.body, `${method} ${path} ${JSON.stringify(json)}`).toMatchObject({ error_code: 40001 });
    }
    expect((await call(url, 'POST', '/v1/brokers/9/drain')).body).toMatchObject({ code: 'BROKER_NOT_FOUND' });
    const unknown = await call(url, 'POST', '/v1/topics/t/partitions/0/reassignment', {
      json: { replicas: [1, 9] },
    });
    expect(unknown.body).toMatchObject({ error_code: 40404, code: 'BROKER_NOT_FOUND' });
    expect(
      (await call(url, 'POST', '/v1/topics/t/partitions/1/reassignment', { json: { replicas: [1] } })).status,
    ).toBe(404);
    expect((await call(url, 'DELETE', '/v1/topics/t/partitions/0/reassignment')).body).toMatchObject({
      code: 'MOVE_NOT_FOUND',
    });

    const d = await cluster!.broker(1).describeTopic('t');
    const from = d.partitions[0]!.replicas;
    const free = [1, 2, 3].find((id) => !from.includes(id))!;
    const target = [from[0]!, free];
    const started = await call(url, 'POST', '/v1/topics/t/partitions/0/reassignment', {
      json: { replicas: target },
    });
    expect(started.status).toBe(202);
    // A second move of the same partition while it moves is refused (or it already finished).
    const again = await call(url, 'POST', '/v1/topics/t/partitions/0/reassignment', {
      json: { replicas: from },
    });
    expect([202, 409]).toContain(again.status);
    if (again.status === 409) expect(again.body).toMatchObject({ code: 'MOVE_IN_PROGRESS' });
    const status = await call(url, 'GET', '/v1/status');
    expect(status.body).toHaveProperty('moves');

    const holding = (await cluster!.broker(1).admin.listBrokers()).find((b) => b.replicas > 0)!;
    const notEmpty = await call(url, 'DELETE', `/v1/brokers/${holding.id}`);
    expect(notEmpty.body).toMatchObject({ error_code: 40905, code: 'BROKER_NOT_EMPTY' });
    expect((notEmpty.body as { replicas: number }).replicas).toBeGreaterThan(0);

    const plan = await call(url, 'POST', '/v1/rebalance', { json: { dry_run: true } });
    expect(plan.status).toBe(200);
    expect(plan.body).toMatchObject({ dry_run: true });
  });
});
