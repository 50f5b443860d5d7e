import { parseArgs } from 'node:util';
import { type ConsumedRecord, Consumer, type StartOffset } from '../client/index.js';
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

Print the committed records of a topic, one per line: "PARTITION OFFSET KEY VALUE" (KEY is "-"
when there is none; keys and values shown as UTF-8 text), or JSON lines with --json. Without
--follow, stops at the end of every partition; with it, waits for new records until Ctrl-C.

  --partition P             read only partition P               [every partition]
  --offset N|earliest|latest   where to start                   [earliest]
  --follow                  keep waiting for new records
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
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const topic = onePositional(positionals, 'topic');
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
