import { parseArgs } from 'node:util';
import type { TopicDescription } from '../client/index.js';
import { RaftlogError } from '../errors.js';
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  onePositional,
  parseIntFlag,
  printJson,
  printList,
  subcommandOf,
  withClient,
} from './client-args.js';
import type { Command } from './commands.js';
import { formatTable } from './table.js';

const HELP = `usage: raftlog topic create NAME [--partitions N] [--replication-factor N]
       raftlog topic list
       raftlog topic describe NAME
       raftlog topic delete NAME

Manage topics.

  --partitions N            partitions of a new topic         [1]
  --replication-factor N    replicas of each partition        [1]
${CLIENT_OPTIONS_HELP}`;

const SUBCOMMANDS = ['create', 'list', 'describe', 'delete'];

function describeTable(t: TopicDescription): string {
  return formatTable(
    ['PARTITION', 'LEADER', 'REPLICAS', 'TERM', 'LOG_START', 'HIGH_WATERMARK'],
    t.partitions.map((p) => [
      String(p.partition),
      p.leader === null ? '-' : String(p.leader),
      p.replicas.join(','),
      String(p.term),
      String(p.logStartOffset),
      String(p.highWatermark),
    ]),
  );
}

export const topicCommand: Command = {
  summary: 'create, list, describe or delete topics',
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...CLIENT_OPTIONS,
        partitions: { type: 'string', default: '1' },
        'replication-factor': { type: 'string', default: '1' },
      },
      allowPositionals: true,
      strict: true,
    });
    const parsed = subcommandOf('topic', positionals, SUBCOMMANDS, { asked: values.help, text: HELP });
    if (typeof parsed === 'number') return parsed;
    const { sub, rest } = parsed;
    return withClient(values.url, async (client) => {
      if (sub === 'list') {
        if (rest.length > 0) throw new RaftlogError('INVALID_REQUEST', 'topic list takes no arguments');
        printList(
          values.json,
          await client.listTopics(),
          ['TOPIC', 'PARTITIONS', 'REPLICATION_FACTOR'],
          (t) => [t.name, String(t.partitions), String(t.replicationFactor)],
        );
        return 0;
      }
      const name = onePositional(rest, 'topic name');
      if (sub === 'delete') {
        await client.deleteTopic(name);
        if (values.json) printJson({ deleted: name });
        else process.stdout.write(`deleted topic ${name}\n`);
        return 0;
      }
      const topic =
        sub === 'create'
          ? await client.createTopic(name, {
              partitions: parseIntFlag('--partitions', values.partitions, 1),
              replicationFactor: parseIntFlag('--replication-factor', values['replication-factor'], 1),
            })
          : await client.describeTopic(name);
      if (values.json) printJson(topic);
      else {
        if (sub === 'create') process.stdout.write(`created topic ${name}\n`);
        process.stdout.write(describeTable(topic));
      }
      return 0;
    });
  },
};
