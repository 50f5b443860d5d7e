import { parseArgs } from 'node:util';
import type { MoveStatus, RaftlogClient } from '../client/index.js';
import { RaftlogError } from '../errors.js';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, printJson, withClient } from './client-args.js';
import type { Command } from './commands.js';
import { formatTable } from './table.js';

const HELP = `usage: raftlog status

Print the replication state of every partition: topic, partition, leader, replicas, term,
commit index, high watermark and replica lag (entries each replica is behind its leader; "-"
where the leader could not be asked); then the replica moves in progress, with a progress bar of
how much of its leader's log each new replica holds, in bytes (entries from older brokers).
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

const BAR_WIDTH = 20;

/** `[#######.............]  35%`: how much of its leader's log a new replica holds. */
export function progressBar(done: number, total: number): string {
  const fraction = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(fraction * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `430.5/1024.0 MiB`: both counts in the largest unit that still shows the total as 10 or more. */
export function bytesOf(done: number, total: number): string {
  let unit = 0;
  while (unit < UNITS.length - 1 && total >= 10 * 1024 ** (unit + 1)) unit++;
  const shown = (n: number) => (unit === 0 ? String(n) : (n / 1024 ** unit).toFixed(1));
  return `${shown(done)}/${shown(total)} ${UNITS[unit]}`;
}

type CatchUp = NonNullable<MoveStatus['catchUp']>[number];

/**
 * One replica's catch-up: `4 [########............]  42% 430.5/1024.0 MiB, entry 946/4437`, the
 * bar in bytes; in entries where the leader does not report bytes (an older broker).
 */
export function catchUpText(c: CatchUp): string {
  const entries = `${c.match}/${c.lastIndex}`;
  if (c.bytes === undefined || c.totalBytes === undefined)
    return `${c.broker} ${progressBar(c.match, c.lastIndex)} ${entries} entries`;
  return `${c.broker} ${progressBar(c.bytes, c.totalBytes)} ${bytesOf(c.bytes, c.totalBytes)}, entry ${entries}`;
}

function movesText(moves: readonly MoveStatus[]): string {
  return formatTable(
    ['TOPIC', 'PARTITION', 'FROM', 'TO', 'STATE', 'CATCH_UP'],
    moves.map((m) => [
      m.topic,
      String(m.partition),
      m.replicas.join(','),
      m.target.join(','),
      m.state ?? UNKNOWN,
      m.catchUp === undefined || m.catchUp.length === 0 ? UNKNOWN : m.catchUp.map(catchUpText).join('; '),
    ]),
  );
}

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
      const [cluster, rows, moves] = await Promise.all([client.cluster(), collect(client), client.moves()]);
      if (values.json) {
        printJson({
          cluster_id: cluster.clusterId,
          metadata_leader: cluster.metadataLeader,
          partitions: rows,
          moves,
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
      if (moves.length > 0) process.stdout.write(`\nmoves in progress\n${movesText(moves)}`);
      return 0;
    });
  },
};
