import { parseArgs } from 'node:util';
import type { RaftlogClient } from '../client/index.js';
import { RaftlogError } from '../errors.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, printJson, withClient } from './client-args.js';
import type { Command } from './commands.js';
import { formatTable } from './table.js';

const HELP = `usage: raftlog status

Print the replication state of every partition: topic, partition, leader, replicas, term,
commit index, high watermark and replica lag. The HTTP API does not expose commit indexes and
replica lags yet (they are in each broker's /metrics); those columns show "-".
${CLIENT_OPTIONS_HELP}`;

/**
 * One partition's row of the status table. Commit index and replica lag are not in it: the HTTP
 * API has no route exposing `BrokerApi.partitionStatus()` yet.
 */
interface StatusRow {
  readonly topic: string;
  readonly partition: number;
  readonly leader: number | null;
  readonly replicas: readonly number[];
  readonly term: number;
  readonly highWatermark: number;
}

/** Shown for what the HTTP API does not tell. */
const UNKNOWN = '-';

/** The status of every partition, from a describe of every topic. */
async function collect(client: RaftlogClient): Promise<StatusRow[]> {
  const topics = await client.listTopics();
  const described = await Promise.all(topics.map((t) => client.describeTopic(t.name)));
  return described.flatMap((t) =>
    t.partitions.map((p) => ({
      topic: t.name,
      partition: p.partition,
      leader: p.leader,
      replicas: p.replicas,
      term: p.term,
      highWatermark: p.highWatermark,
    })),
  );
}

const shown = (n: number | null) => (n === null ? UNKNOWN : String(n));

export const statusCommand: Command = {
  summary: 'print the replication state of every partition',
  async run(args) {
    const { values, positionals } = parseArgs({ args, options: CLIENT_OPTIONS, strict: true });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length > 0) throw new RaftlogError('INVALID_REQUEST', 'status takes no arguments');
    return withClient(values.url, async (client) => {
      const [cluster, rows] = await Promise.all([client.cluster(), collect(client)]);
      if (values.json) {
        printJson({
          cluster_id: cluster.clusterId,
          metadata_leader: cluster.metadataLeader,
          partitions: rows,
        });
        return 0;
      }
      const alive = cluster.nodes.map((n) => `${n.id}${n.alive ? '' : ' (down)'} ${n.url}`).join(', ');
      process.stdout.write(
        `cluster ${cluster.clusterId}: brokers ${alive}; metadata leader ${shown(cluster.metadataLeader)}\n\n`,
      );
      process.stdout.write(
        formatTable(
          [
            'TOPIC',
            'PARTITION',
            'LEADER',
            'REPLICAS',
            'TERM',
            'COMMIT_INDEX',
            'HIGH_WATERMARK',
            'REPLICA_LAG',
          ],
          rows.map((r) => [
            r.topic,
            String(r.partition),
            shown(r.leader),
            r.replicas.join(','),
            String(r.term),
            UNKNOWN,
            String(r.highWatermark),
            UNKNOWN,
          ]),
        ),
      );
      return 0;
    });
  },
};
