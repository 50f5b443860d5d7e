import { jepsenCommand } from '../jepsen/command.js';
import { brokerCommand, reassignCommand, rebalanceCommand } from './brokers.js';
import { consumeCommand } from './consume.js';
import { devCommand } from './dev.js';
import { groupsCommand } from './groups.js';
import { produceCommand } from './produce.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { topicCommand } from './topic.js';

/** A subcommand of `raftlog`: `run` gets the arguments after its name and returns an exit code. */
export interface Command {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

/** Every subcommand, by name (the order is the order of `raftlog --help`). */
export const commands: Readonly<Record<string, Command>> = {
  start: startCommand,
  dev: devCommand,
  topic: topicCommand,
  produce: produceCommand,
  consume: consumeCommand,
  groups: groupsCommand,
  status: statusCommand,
  broker: brokerCommand,
  reassign: reassignCommand,
  rebalance: rebalanceCommand,
  jepsen: jepsenCommand,
};
