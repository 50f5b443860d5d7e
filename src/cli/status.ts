import { parseArgs } from 'node:util';
import type { RaftlogClient } from '../client/index.js';
import { RaftlogError } from '../errors.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, printJson, withClient } from './client-args.js';
import type { Command } from './commands.js';
import { formatTable } from './table.js';

const HELP = `usage: raftlog status

Print the replication state of every partition: topic, partition, leader, replicas, term,
commit index, high watermark and replica lag (entries each replica is behind its leader; "-"
where the leader could not be asked).
${CLIENT_OPTIONS_HELP}`;

/** One partition's row of the status table. */
interface StatusRow {
  readonly topic: string;
  readonly partition: number;
  readonly leader: number | null;
  readonly replicas: readonly number[];
  readonly term: number;
  readonly commitIndex: number | null;
  readonly highWatermark: number;
  /** Broker id → entries behind the leader; null when no leader answered. */
  readonly replicaLag: Readonly<Record<string, number>> | null;
}

/** Shown for what the HTTP API does not tell. */
const UNKNOWN = '-';

/** The status of every partition: placement from the topics, replication from the brokers. */
async function collect(client: RaftlogClient): Promise<StatusRow[]> {
  const topics = await client.listTopics();
  const [described, status] = await Promise.all([
    Promise.all(topics.map((t) => client.describeTopic(t.name))),
    client.status(),
  ]);
  const byPartition = new Map(status.map((s) => [`${s.topic}/${s.partition}`, s]));
  return described.flatMap((t) =>
    t.partitions.map((p) => {
      const s = byPartition.get(`${t.name}/${p.partition}`);
      return {
        topic: t.name,
        partition: p.partition,
        leader: s?.leader ?? p.leader,
        replicas: p.replicas,
        term: s?.term ?? p.term,
        commitIndex: s?.commitIndex ?? null,
        highWatermark: s?.highWatermark ?? p.highWatermark,
        replicaLag: s?.replicaLag ?? null,
      };
    }),
  );
}

const lagText = (lag: StatusRow['replicaLag']) =>
  lag === null
    ? UNKNOWN
    : Object.entries(lag)
        .map(([id, n]) => `${id}:${n}`)
        .join(' ');

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
            shown(r.commitIndex),
            String(r.highWatermark),
            lagText(r.replicaLag),
          ]),
        ),
      );
      return 0;
    });
  },
};
