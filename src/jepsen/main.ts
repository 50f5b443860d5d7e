#!/usr/bin/env node
/**
 * `npm run jepsen -- --scenario NAME --time SECONDS --seed N`: the suite's own entry point (the
 * same command as `raftlog jepsen`). Ctrl-C kills every broker (the cluster's exit hook).
 */
import { jepsenCommand } from './command.js';

process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

jepsenCommand.run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`raftlog jepsen: ${String((err as Error)?.stack ?? err)}\n`);
    process.exitCode = 1;
  },
);
