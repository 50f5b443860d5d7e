import { parseArgs } from 'node:util';
import {
  cancelMove,
  drainBroker,
  listBrokers,
  moveReplicas,
  rebalance,
  removeBroker,
} from '../client/admin.js';
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

const BROKER_HELP = `usage: raftlog broker list
       raftlog broker drain ID
       raftlog broker remove ID

list: every broker with its addresses, state (active or draining), liveness and replica count.
drain: leaderships move away from the broker, then its replicas move to other brokers (see
"raftlog status" for the moves); no new replicas go there.
remove: take a drained broker out of the cluster (refused while it holds replicas).
${CLIENT_OPTIONS_HELP}`;

export const brokerCommand: Command = {
  summary: 'list, drain or remove brokers',
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...CLIENT_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
    const parsed = subcommandOf('broker', positionals, ['list', 'drain', 'remove'], {
      asked: values.help,
      text: BROKER_HELP,
    });
    if (typeof parsed === 'number') return parsed;
    const { sub, rest } = parsed;
    return withClient(values.url, async (client) => {
      if (sub === 'list') {
        if (rest.length > 0) throw new RaftlogError('INVALID_REQUEST', 'broker list takes no arguments');
        printList(
          values.json,
          await listBrokers(client),
          ['ID', 'URL', 'PEER', 'STATE', 'ALIVE', 'REPLICAS'],
          (b) => [String(b.id), b.url, b.peer, b.state, b.alive ? 'yes' : 'no', String(b.replicas)],
        );
        return 0;
      }
      const id = parseIntFlag('broker id', onePositional(rest, 'broker id'), 1);
      if (sub === 'drain') await drainBroker(client, id);
      else await removeBroker(client, id);
      if (values.json) printJson({ id, state: sub === 'drain' ? 'draining' : 'removed' });
      else process.stdout.write(`broker ${id} ${sub === 'drain' ? 'is draining' : 'was removed'}\n`);
      return 0;
    });
  },
};

const REASSIGN_HELP = `usage: raftlog reassign TOPIC PARTITION --replicas ID,ID,...
       raftlog reassign TOPIC PARTITION --cancel

Move a partition's replicas to the brokers listed (the first becomes its preferred leader): each
new replica is added as a learner, catches up, and replaces an old one by a Raft membership
change, while the partition keeps serving. --cancel heads a move back to where it started.
${CLIENT_OPTIONS_HELP}`;

export const reassignCommand: Command = {
  summary: "move a partition's replicas to other brokers",
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...CLIENT_OPTIONS,
        replicas: { type: 'string' },
        cancel: { type: 'boolean', default: false },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(REASSIGN_HELP);
      return 0;
    }
    const [topic, partitionText, ...extra] = positionals;
    if (topic === undefined || partitionText === undefined || extra.length > 0) {
      throw new RaftlogError('INVALID_REQUEST', 'expected TOPIC PARTITION');
    }
    const partition = parseIntFlag('partition', partitionText);
    if (values.cancel === (values.replicas !== undefined)) {
      throw new RaftlogError('INVALID_REQUEST', 'give either --replicas or --cancel');
    }
    return withClient(values.url, async (client) => {
      if (values.cancel) await cancelMove(client, topic, partition);
      else {
        const replicas = values.replicas!.split(',').map((id) => parseIntFlag('--replicas', id.trim(), 1));
        await moveReplicas(client, topic, partition, replicas);
      }
      if (values.json) printJson({ topic, partition, cancelled: values.cancel });
      else
        process.stdout.write(`${topic}/${partition}: ${values.cancel ? 'move cancelled' : 'move started'}\n`);
      return 0;
    });
  },
};

const REBALANCE_HELP = `usage: raftlog rebalance [--dry-run]

Even out replicas (every broker within one of the others) and preferred leaders over the
brokers that are not draining: print the plan and start its moves (--dry-run: only print it).
${CLIENT_OPTIONS_HELP}`;

export const rebalanceCommand: Command = {
  summary: 'even out replicas and leaders over the brokers',
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...CLIENT_OPTIONS, 'dry-run': { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      process.stdout.write(REBALANCE_HELP);
      return 0;
    }
    if (positionals.length > 0) throw new RaftlogError('INVALID_REQUEST', 'rebalance takes no arguments');
    return withClient(values.url, async (client) => {
      const plan = await rebalance(client, values['dry-run']);
      if (!values.json && plan.length === 0) {
        process.stdout.write('balanced: nothing to move\n');
        return 0;
      }
      printList(values.json, plan, ['TOPIC', 'PARTITION', 'FROM', 'TO'], (m) => [
        m.topic,
        String(m.partition),
        m.from.join(','),
        m.to.join(','),
      ]);
      return 0;
    });
  },
};
