import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { BrokerRegistration } from '../broker/admin-api.js';
import { Broker } from '../broker/broker.js';
import { registerRaftMetrics } from '../broker/raft-metrics.js';
import { registerBroker } from '../client/admin.js';
import { RaftlogClient } from '../client/client.js';
import { RaftlogError } from '../errors.js';
import { createHttpServer } from '../http/server.js';
import type { Logger } from '../logger.js';
import { openPeerTransport } from '../partition/open-peer-transport.js';
import type { TcpTransport } from '../partition/tcp-transport.js';
import { LevelLogStore } from '../storage/level-log-store.js';
import { parseHostPort, parsePeers } from './addresses.js';
import { parseByteRate } from './byte-rate.js';
import type { Command } from './commands.js';

/** Used when no secret file is given: fine on a laptop, never in production (a warning says so). */
const DEV_SECRET = 'raftlog-dev-cluster-secret';

const HELP = `usage: raftlog start --id N --data-dir DIR [options]

Start one broker.

  --id N                    this broker's id (a positive integer)
  --data-dir DIR            its LevelDB directory (created if missing)
  --listen HOST:PORT        client (HTTP) address             [127.0.0.1:7001]
  --peer-listen HOST:PORT   peer (Raft) address               [this broker's entry in --peers]
  --peers ID=HOST:PORT,...  peer addresses of every broker of the initial cluster, this one
                            included; omit for a single-node cluster
  --cluster-secret-file F   file holding the secret that peers share (else a development
                            default, with a warning)
  --advertise-url URL       client URL other brokers forward to   [http://<--listen>]
  --advertise-peer HOST:PORT  peer address other brokers dial, registered in the metadata
                            (behind NAT or a proxy)               [--peer-listen]
  --join URL[,URL...]       join a running cluster through any of its brokers (instead of
                            --peers): register there, learn the peers, be added by the
                            metadata leader; --peer-listen is required
  --move-bandwidth RATE     bytes/s this broker sends to replicas catching up during moves,
                            e.g. 50MiB, 512k (more copies faster, but
                            slows produce latency more)           [25MiB]
  --auto-rebalance          even out replicas and leaders over the brokers automatically
  --log-level LEVEL         trace|debug|info|warn|error|silent   [info]

SIGTERM or SIGINT shuts the broker down cleanly.
`;

/**
 * Register this broker through a running broker (which forwards to the metadata leader), and
 * point the transport at every peer it answers with. The running brokers learn this broker's
 * address from the metadata; the metadata leader then adds it to the metadata group as a learner.
 */
async function joinCluster(
  urls: readonly string[],
  me: BrokerRegistration,
  transport: TcpTransport,
  log: Logger,
): Promise<number[]> {
  const client = new RaftlogClient({ urls });
  try {
    const brokers = await registerBroker(client, me);
    const peers = brokers.filter((b) => b.id !== me.id && b.peer !== '');
    for (const b of peers) transport.setPeer(b.id, b.peer);
    log.info({ via: urls, brokers: brokers.map((b) => b.id) }, 'registered with the cluster');
    return [me.id, ...peers.map((b) => b.id)];
  } finally {
    await client.close();
  }
}

export const startCommand: Command = {
  summary: 'start one broker',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        id: { type: 'string' },
        'data-dir': { type: 'string' },
        listen: { type: 'string', default: '127.0.0.1:7001' },
        'peer-listen': { type: 'string' },
        peers: { type: 'string' },
        'cluster-secret-file': { type: 'string' },
        'advertise-url': { type: 'string' },
        'advertise-peer': { type: 'string' },
        join: { type: 'string' },
        'move-bandwidth': { type: 'string' },
        'auto-rebalance': { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const id = Number(values.id);
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new RaftlogError('INVALID_REQUEST', '--id must be a positive integer');
    const dataDir = values['data-dir'];
    if (!dataDir) throw new RaftlogError('INVALID_REQUEST', '--data-dir is required');
    const listen = parseHostPort(values.listen, '--listen');
    const peers = values.peers ? parsePeers(values.peers) : new Map<number, string>();
    if (peers.size > 0 && !peers.has(id)) {
      throw new RaftlogError('INVALID_REQUEST', `--peers must include this broker (${id})`);
    }
    const peerListen = values['peer-listen'] ?? peers.get(id);
    const join = values.join?.split(',').filter((u) => u !== '');
    if (join && (peers.size > 0 || !peerListen)) {
      throw new RaftlogError('INVALID_REQUEST', '--join takes --peer-listen and no --peers');
    }
    const moveBandwidth = parseByteRate(values['move-bandwidth'] ?? '25MiB', '--move-bandwidth');
    const log: Logger = pino({ level: values['log-level'], base: { broker: id } });

    const secretFile = values['cluster-secret-file'];
    const secret = secretFile ? (await readFile(secretFile, 'utf8')).trim() : DEV_SECRET;
    if (secret === '') throw new RaftlogError('INVALID_REQUEST', `${secretFile} holds no secret`);
    if (!secretFile && peers.size > 1) {
      log.warn({}, 'no --cluster-secret-file: peers authenticate with the development default secret');
    }

    // A damaged group cannot yet be rebuilt from peers safely: a replica that forgot what it
    // acknowledged or voted for must not take part in Raft again under the same id.
    const store = await LevelLogStore.open(dataDir, { refuseDamaged: true });
    const others = new Map([...peers].filter(([peer]) => peer !== id));
    // Nothing of Raft runs before the peers confirmed this directory did not go back in time.
    // A joining broker registers first and learns its peers; a rejoining one is gated by them too.
    const clientUrl = values['advertise-url'] ?? `http://${listen.host}:${listen.port}`;
    const advertisePeer = values['advertise-peer'];
    if (advertisePeer !== undefined) parseHostPort(advertisePeer, '--advertise-peer');
    const transport = peerListen
      ? await openPeerTransport({
          self: id,
          listen: peerListen,
          peers: others,
          clusterSecret: secret,
          logger: log,
          store,
          dir: store.dir,
          ...(join
            ? {
                join: (t: TcpTransport) =>
                  joinCluster(join, { id, url: clientUrl, peer: advertisePeer ?? t.address }, t, log),
              }
            : {}),
        }).catch(async (err: unknown) => {
          await store.close();
          throw err;
        })
      : undefined;
    const broker = new Broker({
      id,
      store,
      ...(transport ? { transport, peerAddress: advertisePeer ?? transport.address } : {}),
      ...(join ? { joining: true } : { initialBrokers: peers.size > 0 ? [...peers.keys()] : [id] }),
      clientUrl,
      moveBandwidth,
      autoRebalance: values['auto-rebalance'],
      logger: log,
    });
    const http = createHttpServer({ broker, logger: log });
    const stopMetrics = registerRaftMetrics(http.registry, broker);
    const bound = await http.listen(listen.host, listen.port);
    log.info({ url: bound.url, peer: transport?.address, dataDir }, 'broker started');

    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, 'shutting down');
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await http.close();
    stopMetrics();
    await broker.close();
    log.info({}, 'stopped');
    return 0;
  },
};
