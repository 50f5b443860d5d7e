import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Broker } from '../broker/broker.js';
import { registerRaftMetrics } from '../broker/raft-metrics.js';
import { RaftlogError } from '../errors.js';
import { createHttpServer } from '../http/server.js';
import type { Logger } from '../logger.js';
import { openPeerTransport } from '../partition/open-peer-transport.js';
import { LevelLogStore } from '../storage/level-log-store.js';
import { parseHostPort, parsePeers } from './addresses.js';
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
  --log-level LEVEL         trace|debug|info|warn|error|silent   [info]

SIGTERM or SIGINT shuts the broker down cleanly.
`;

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
    const transport = peerListen
      ? await openPeerTransport({
          self: id,
          listen: peerListen,
          peers: others,
          clusterSecret: secret,
          logger: log,
          store,
          dir: store.dir,
        }).catch(async (err: unknown) => {
          await store.close();
          throw err;
        })
      : undefined;
    const clientUrl = values['advertise-url'] ?? `http://${listen.host}:${listen.port}`;
    const broker = new Broker({
      id,
      store,
      ...(transport ? { transport, peerAddress: transport.address } : {}),
      initialBrokers: peers.size > 0 ? [...peers.keys()] : [id],
      clientUrl,
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
