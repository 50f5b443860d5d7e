import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Producer, type RecordMetadata } from '../client/index.js';
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

const HELP = `usage: raftlog produce TOPIC [--key K] [--partition P]

Write one record per line of standard input (the line is the value, without its newline) and
print where each went, in input order: "PARTITION OFFSET" (or JSON lines with --json). Records
are batched and sent by an idempotent producer: a retry never writes a record twice.

  --key K                   the key of every record (chooses the partition by its hash)
  --partition P             write every record to partition P
${CLIENT_OPTIONS_HELP}`;

export const produceCommand: Command = {
  summary: 'write stdin lines as records of a topic',
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...CLIENT_OPTIONS, key: { type: 'string' }, partition: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const topic = onePositional(positionals, 'topic');
    const partition =
      values.partition === undefined ? undefined : parseIntFlag('--partition', values.partition);
    return withClient(values.url, async (client) => {
      const producer = new Producer(client);
      let failed = 0;
      /** Prints results in input order as they come. */
      let printed = Promise.resolve();
      const report = (sent: Promise<RecordMetadata>, line: number) => {
        printed = printed.then(async () => {
          try {
            const { partition: p, offset } = await sent;
            if (values.json) printJson({ partition: p, offset });
            else process.stdout.write(`${p} ${offset}\n`);
          } catch (err) {
            failed++;
            const why = err instanceof RaftlogError ? `${err.code}: ${err.message}` : String(err);
            process.stderr.write(`raftlog produce: line ${line}: ${why}\n`);
          }
        });
      };
      let line = 0;
      for await (const value of createInterface({
        input: process.stdin,
        crlfDelay: Number.POSITIVE_INFINITY,
      })) {
        line++;
        report(
          producer.send({
            topic,
            value,
            ...(values.key === undefined ? {} : { key: values.key }),
            ...(partition === undefined ? {} : { partition }),
          }),
          line,
        );
      }
      await producer.close();
      await printed;
      return failed === 0 ? 0 : 1;
    });
  },
};
