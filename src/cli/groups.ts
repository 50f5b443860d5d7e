import { parseArgs } from 'node:util';
import type { GroupDescription, TopicAssignment } from '../client/index.js';
import { RaftlogError } from '../errors.js';
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  onePositional,
  printJson,
  printList,
  subcommandOf,
  withClient,
} from './client-args.js';
import type { Command } from './commands.js';
import { formatTable } from './table.js';

const HELP = `usage: raftlog groups list
       raftlog groups describe GROUP

Show consumer groups: every group with its generation and number of members, or one group's
members, the partitions each is assigned, and per partition the committed offset, the high
watermark and the lag ("-" where unknown).
${CLIENT_OPTIONS_HELP}`;

const SUBCOMMANDS = ['list', 'describe'];
const UNKNOWN = '-';

function assignmentText(list: readonly TopicAssignment[]): string {
  return list.length === 0 ? UNKNOWN : list.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ');
}

function describeText(d: GroupDescription): string {
  const members = formatTable(
    ['MEMBER', 'TOPICS', 'SESSION_TIMEOUT_MS', 'ASSIGNMENT'],
    d.members.map((m) => [
      m.memberId,
      m.topics.join(','),
      String(m.sessionTimeoutMs),
      assignmentText(m.assignments),
    ]),
  );
  const partitions = formatTable(
    ['TOPIC', 'PARTITION', 'MEMBER', 'OFFSET', 'HIGH_WATERMARK', 'LAG'],
    d.partitions.map((p) => [
      p.topic,
      String(p.partition),
      p.memberId ?? UNKNOWN,
      p.offset === null ? UNKNOWN : String(p.offset),
      p.highWatermark === null ? UNKNOWN : String(p.highWatermark),
      p.lag === null ? UNKNOWN : String(p.lag),
    ]),
  );
  return `group ${d.group}, generation ${d.generation}, ${d.members.length} member(s)\n\n${members}\n${partitions}`;
}

export const groupsCommand: Command = {
  summary: 'list consumer groups, or describe one (members, assignment, lag)',
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...CLIENT_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
    const parsed = subcommandOf('groups', positionals, SUBCOMMANDS, { asked: values.help, text: HELP });
    if (typeof parsed === 'number') return parsed;
    const { sub, rest } = parsed;
    return withClient(values.url, async (client) => {
      if (sub === 'list') {
        if (rest.length > 0) throw new RaftlogError('INVALID_REQUEST', 'groups list takes no arguments');
        printList(values.json, await client.listGroups(), ['GROUP', 'GENERATION', 'MEMBERS'], (g) => [
          g.group,
          String(g.generation),
          String(g.members),
        ]);
        return 0;
      }
      const d = await client.describeGroup(onePositional(rest, 'group'));
      if (values.json) printJson(d);
      else process.stdout.write(describeText(d));
      return 0;
    });
  },
};
