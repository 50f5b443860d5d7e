import type { BrokerInfo, ClusterAdminApi, MoveStatus } from '../broker/admin-api.js';
import { RaftlogError } from '../errors.js';
import type { ParsedBody } from './media.js';
import type { RouteContext, RouteDef, RouteRequest } from './routes.js';
import {
  checkCount,
  checkObject,
  checkQuery,
  checkText,
  checkTopicName,
  invalid,
  MAX_INT32,
  parseCount,
} from './validate.js';

/**
 * The cluster administration routes of issue 9: brokers joining, draining and leaving, replica
 * moves and rebalancing. Changes are served by the metadata leader; elsewhere the broker throws
 * NOT_LEADER and the server forwards (see `server.ts`).
 */

type Params = Record<string, string>;

/** Most replicas one partition may be given. */
const MAX_REPLICAS = 16;

function brokerParam(req: RouteRequest): number {
  return parseCount('broker id', (req.params as Params).id ?? '', { min: 1, max: MAX_INT32 });
}

function optionalBody(req: RouteRequest): unknown {
  return (req.body as ParsedBody | undefined)?.value;
}

function parseRegistration(body: unknown) {
  const b = checkObject('body', body, ['id', 'url', 'peer']);
  const url = checkText('url', b.url);
  try {
    new URL(url);
  } catch {
    throw invalid("url must be the broker's client URL, e.g. http://10.0.0.4:7001");
  }
  const peer = checkText('peer', b.peer);
  if (!/^[^\s:]+:\d{1,5}$/.test(peer)) throw invalid("peer must be the broker's peer address, HOST:PORT");
  return { id: checkCount('id', b.id, { min: 1, max: MAX_INT32 }), url, peer };
}

function parseReplicas(body: unknown): number[] {
  const b = checkObject('body', body, ['replicas']);
  if (!Array.isArray(b.replicas) || b.replicas.length === 0 || b.replicas.length > MAX_REPLICAS) {
    throw invalid(`replicas must be an array of 1 to ${MAX_REPLICAS} broker ids`);
  }
  return b.replicas.map((id, i) => checkCount(`replicas[${i}]`, id, { min: 1, max: MAX_INT32 }));
}

export function brokerView(b: BrokerInfo) {
  return { id: b.id, url: b.url, peer: b.peer, state: b.state, alive: b.alive, replicas: b.replicas };
}

export function moveView(m: MoveStatus) {
  return {
    topic: m.topic,
    partition: m.partition,
    replicas: m.replicas,
    target: m.target,
    ...(m.state === undefined ? {} : { state: m.state }),
    ...(m.catchUp === undefined
      ? {}
      : {
          catch_up: m.catchUp.map((c) => ({
            broker: c.broker,
            match: c.match,
            last_index: c.lastIndex,
            ...(c.bytes === undefined ? {} : { bytes: c.bytes }),
            ...(c.totalBytes === undefined ? {} : { total_bytes: c.totalBytes }),
          })),
        }),
  };
}

/** The routes, bound to `ctx`; none when the broker offers no administration. */
export function buildAdminRoutes(ctx: RouteContext): RouteDef[] {
  const admin: ClusterAdminApi | undefined = ctx.broker.admin;
  const required = (): ClusterAdminApi => {
    if (!admin) throw new RaftlogError('INVALID_REQUEST', 'this broker offers no cluster administration');
    return admin;
  };

  async function partitionOf(req: RouteRequest): Promise<{ topic: string; partition: number }> {
    const topic = checkTopicName((req.params as Params).topic);
    const partition = parseCount('partition', (req.params as Params).partition ?? '');
    const count = await ctx.broker.partitionCount(topic);
    if (partition >= count) {
      throw new RaftlogError(
        'PARTITION_NOT_FOUND',
        `topic ${topic} has no partition ${partition} (it has ${count})`,
      );
    }
    return { topic, partition };
  }

  return [
    {
      method: 'GET',
      url: '/v1/brokers',
      operation: 'list_brokers',
      async handle(req) {
        checkQuery(req.query, []);
        return { status: 200, body: { brokers: (await required().listBrokers()).map(brokerView) } };
      },
    },
    {
      method: 'POST',
      url: '/v1/brokers',
      operation: 'register_broker',
      async handle(req) {
        checkQuery(req.query, []);
        const brokers = await required().registerBroker(parseRegistration(optionalBody(req)));
        return { status: 200, body: { brokers: brokers.map(brokerView) } };
      },
    },
    {
      method: 'POST',
      url: '/v1/brokers/:id/drain',
      operation: 'drain_broker',
      async handle(req) {
        checkQuery(req.query, []);
        const id = brokerParam(req);
        await required().drainBroker(id);
        return { status: 202, body: { id, state: 'draining' } };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/brokers/:id',
      operation: 'remove_broker',
      async handle(req) {
        checkQuery(req.query, []);
        await required().removeBroker(brokerParam(req));
        return { status: 204 };
      },
    },
    {
      method: 'POST',
      url: '/v1/topics/:topic/partitions/:partition/reassignment',
      operation: 'move_replicas',
      async handle(req) {
        checkQuery(req.query, []);
        const replicas = parseReplicas(optionalBody(req));
        const { topic, partition } = await partitionOf(req);
        await required().moveReplicas(topic, partition, replicas);
        return { status: 202, body: { topic, partition, target: replicas } };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/topics/:topic/partitions/:partition/reassignment',
      operation: 'cancel_move',
      async handle(req) {
        checkQuery(req.query, []);
        const { topic, partition } = await partitionOf(req);
        await required().cancelMove(topic, partition);
        return { status: 202, body: { topic, partition } };
      },
    },
    {
      method: 'POST',
      url: '/v1/rebalance',
      operation: 'rebalance',
      async handle(req) {
        checkQuery(req.query, []);
        const body = optionalBody(req);
        const b = body === undefined ? {} : checkObject('body', body, ['dry_run']);
        if (b.dry_run !== undefined && typeof b.dry_run !== 'boolean')
          throw invalid('dry_run must be a boolean');
        const dryRun = b.dry_run === true;
        const moves = await required().rebalance({ dryRun });
        return { status: 200, body: { dry_run: dryRun, moves } };
      },
    },
  ];
}
