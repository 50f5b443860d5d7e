#!/usr/bin/env -S node --initial-old-space-size=64
/**
 * The `raftlog` command. Each subcommand lives in its own module; this file only dispatches.
 * Arguments are parsed with node:util's parseArgs (no dependency needed). The first line passes
 * node the broker's V8 flags (`node-flags.ts`).
 */
import { RaftlogError } from '../errors.js';
import { commands } from './commands.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`raftlog: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: raftlog <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nraftlog <command> --help for a command's options.\n`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message =
      err instanceof RaftlogError ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err);
    process.stderr.write(`raftlog: ${message}\n`);
    process.exitCode = 1;
  },
);
