import { parseArgs } from 'node:util';
import { type ConsumedRecord, Consumer, type StartOffset } from '../client/index.js';
import { RaftlogError } from '../errors.js';
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  onePositional,
  parseIntFlag,
  printJson,
  withClient,
} from './client-args.js';
import type { Command } from './commands.js';

const HELP = `usage: raftlog consume TOPIC [--partition P] [--offset N|earliest|latest] [--follow]
       raftlog consume TOPIC --group G [--follow]

Print the committed records of a topic, one per line: "PARTITION OFFSET KEY VALUE" (KEY is "-"
when there is none; keys and values shown as UTF-8 text), or JSON lines with --json. Without
--follow, stops at the end of every partition; with it, waits for new records until Ctrl-C.

  --partition P             read only partition P               [every partition]
  --offset N|earliest|latest   where to start                   [earliest]
  --follow                  keep waiting for new records
  --group G                 read as a member of consumer group G: only the partitions the
                            group assigns, from its committed offsets, committing what was
                            printed (not with --partition or --offset)
${CLIENT_OPTIONS_HELP}`;

const utf8 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

function print(r: ConsumedRecord, json: boolean): void {
  if (json) {
    printJson({
      partition: r.partition,
      offset: r.offset,
      key: r.key === null ? null : utf8(r.key),
      value: utf8(r.value),
      headers: r.headers.map(([name, value]) => ({ name, value: utf8(value) })),
      timestamp: r.timestamp,
    });
  } else {
    process.stdout.write(
      `${r.partition} ${r.offset} ${r.key === null ? '-' : utf8(r.key)} ${utf8(r.value)}\n`,
    );
  }
}

function parseOffset(value: string): StartOffset {
  return value === 'earliest' || value === 'latest' ? value : parseIntFlag('--offset', value);
}

/** `--group`: consume as a member of a consumer group until the end (or Ctrl-C with --follow), then leave. */
function consumeInGroup(
  url: string,
  topic: string,
  group: string,
  follow: boolean,
  json: boolean,
): Promise<number> {
  return withClient(url, async (client) => {
    const consumer = client.consumer({ group, topics: [topic], untilEnd: !follow });
    const stop = () => void consumer.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for await (const record of consumer) print(record, json);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await consumer.close();
    }
    return 0;
  });
}

export const consumeCommand: Command = {
  summary: 'print the records of a topic',
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...CLIENT_OPTIONS,
        partition: { type: 'string' },
        offset: { type: 'string', default: 'earliest' },
        follow: { type: 'boolean', default: false },
        group: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const topic = onePositional(positionals, 'topic');
    if (values.group !== undefined) {
      if (values.partition !== undefined || args.some((a) => a === '--offset' || a.startsWith('--offset='))) {
        throw new RaftlogError(
          'INVALID_REQUEST',
          '--group reads from the committed offsets: no --partition or --offset',
        );
      }
      return consumeInGroup(values.url, topic, values.group, values.follow, values.json);
    }
    const offset = parseOffset(values.offset);
    const partition =
      values.partition === undefined ? undefined : parseIntFlag('--partition', values.partition);
    return withClient(values.url, async (client) => {
      const consumer = new Consumer(client, {
        topic,
        offset,
        untilEnd: !values.follow,
        ...(partition === undefined ? {} : { partitions: [partition] }),
      });
      const stop = () => consumer.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        for await (const record of consumer) print(record, values.json);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      return 0;
    });
  },
};
