import type { BrokerInfo, BrokerRegistration, MoveStatus, PlannedReassignment } from '../broker/admin-api.js';
import { RaftlogError } from '../errors.js';
import type { RaftlogClient } from './client.js';

/**
 * The cluster administration calls of issue 9's HTTP API (brokers joining, draining and leaving,
 * replica moves, rebalancing), and their snake_case answers as camelCase types. Any broker takes
 * them: it forwards changes to the metadata leader.
 */

// biome-ignore lint/suspicious/noExplicitAny: wire bodies are read field by field.
type Wire = any;

function brokerId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new RaftlogError('INVALID_REQUEST', `invalid broker id ${id}`);
  return id;
}

function brokersFromWire(body: Wire): BrokerInfo[] {
  return (body.brokers as Wire[]).map((b) => ({
    id: b.id,
    url: b.url,
    peer: b.peer,
    state: b.state,
    alive: b.alive,
    replicas: b.replicas,
  }));
}

export function movesFromWire(list: Wire): MoveStatus[] {
  return ((list ?? []) as Wire[]).map((m) => ({
    topic: m.topic,
    partition: m.partition,
    replicas: m.replicas,
    target: m.target,
    ...(m.state === undefined ? {} : { state: m.state }),
    ...(m.catch_up === undefined
      ? {}
      : {
          catchUp: (m.catch_up as Wire[]).map((c) => ({
            broker: c.broker,
            match: c.match,
            lastIndex: c.last_index,
            ...(c.bytes === undefined ? {} : { bytes: c.bytes }),
            ...(c.total_bytes === undefined ? {} : { totalBytes: c.total_bytes }),
          })),
        }),
  }));
}

export async function listBrokers(client: RaftlogClient): Promise<BrokerInfo[]> {
  return brokersFromWire(await client.request({ method: 'GET', path: '/v1/brokers' }, 'idempotent'));
}

/** Register a broker (joining, or with new addresses); resolves with every broker. */
export async function registerBroker(client: RaftlogClient, b: BrokerRegistration): Promise<BrokerInfo[]> {
  const body = { id: brokerId(b.id), url: b.url, peer: b.peer };
  return brokersFromWire(await client.request({ method: 'POST', path: '/v1/brokers', body }, 'idempotent'));
}

export async function drainBroker(client: RaftlogClient, id: number): Promise<void> {
  await client.request({ method: 'POST', path: `/v1/brokers/${brokerId(id)}/drain` }, 'idempotent');
}

export async function removeBroker(client: RaftlogClient, id: number): Promise<void> {
  await client.request({ method: 'DELETE', path: `/v1/brokers/${brokerId(id)}` }, 'only-if-not-done');
}

function reassignPath(topic: string, partition: number): string {
  return `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/reassignment`;
}

export async function moveReplicas(
  client: RaftlogClient,
  topic: string,
  partition: number,
  replicas: readonly number[],
): Promise<void> {
  const body = { replicas: replicas.map(brokerId) };
  await client.request({ method: 'POST', path: reassignPath(topic, partition), body }, 'only-if-not-done');
}

export async function cancelMove(client: RaftlogClient, topic: string, partition: number): Promise<void> {
  await client.request({ method: 'DELETE', path: reassignPath(topic, partition) }, 'only-if-not-done');
}

/** Plan (and unless `dryRun`, start) the moves that even out replicas and preferred leaders. */
export async function rebalance(client: RaftlogClient, dryRun: boolean): Promise<PlannedReassignment[]> {
  const body = (await client.request(
    { method: 'POST', path: '/v1/rebalance', body: { dry_run: dryRun } },
    dryRun ? 'idempotent' : 'only-if-not-done',
  )) as Wire;
  return (body.moves as Wire[]).map((m) => ({
    topic: m.topic,
    partition: m.partition,
    from: m.from,
    to: m.to,
  }));
}
