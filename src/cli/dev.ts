import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RaftlogError } from '../errors.js';
import type { Command } from './commands.js';
import { BROKER_NODE_FLAGS } from './node-flags.js';

const HELP = `usage: raftlog dev [--nodes 3] [--data-dir ./data] [--port 7001]

Start a local cluster of brokers as child processes on 127.0.0.1: client ports PORT, PORT+1, ...,
peer ports PORT+10000, ...; data and logs under DATA-DIR/n<id>. Ctrl-C stops them all.
`;

const READY_TIMEOUT_MS = 30_000;

export const devCommand: Command = {
  summary: 'start a local cluster (child processes) and print its endpoints',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        nodes: { type: 'string', default: '3' },
        'data-dir': { type: 'string', default: './data' },
        port: { type: 'string', default: '7001' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const nodes = Number(values.nodes);
    const port = Number(values.port);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9)
      throw new RaftlogError('INVALID_REQUEST', '--nodes must be 1 to 9');
    if (!Number.isInteger(port) || port < 1 || port + nodes > 55535)
      throw new RaftlogError('INVALID_REQUEST', '--port is out of range');
    const dataDir = resolve(values['data-dir']);
    await mkdir(dataDir, { recursive: true });
    const secretFile = await clusterSecret(dataDir);
    const ids = Array.from({ length: nodes }, (_, i) => i + 1);
    const peers = ids.map((id) => `${id}=127.0.0.1:${port + 10_000 + id - 1}`).join(',');
    const main = fileURLToPath(new URL('./main.js', import.meta.url));

    const children: ChildProcess[] = [];
    const stopAll = () => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    };
    process.once('SIGINT', stopAll);
    process.once('SIGTERM', stopAll);
    for (const id of ids) {
      const dir = join(dataDir, `n${id}`);
      await mkdir(dir, { recursive: true });
      const child = spawn(
        process.execPath,
        [
          ...BROKER_NODE_FLAGS,
          main,
          'start',
          '--id',
          String(id),
          '--data-dir',
          dir,
          '--listen',
          `127.0.0.1:${port + id - 1}`,
          '--peers',
          peers,
          '--cluster-secret-file',
          secretFile,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const logFile = createWriteStream(join(dataDir, `n${id}.log`), { flags: 'a' });
      child.stdout?.pipe(logFile);
      child.stderr?.pipe(logFile);
      children.push(child);
    }
    const exited = Promise.all(
      children.map((c) => new Promise<void>((done) => c.once('exit', () => done()))),
    );
    const urls = ids.map((id) => `http://127.0.0.1:${port + id - 1}`);
    try {
      await waitUntilReady(urls, children);
    } catch (err) {
      stopAll();
      await exited;
      throw err;
    }
    process.stdout.write(
      [
        `raftlog: ${nodes} broker(s) ready (logs in ${dataDir}/n<id>.log)`,
        ...urls.map((u, i) => `  broker ${i + 1}: ${u}`),
        '',
        'try:',
        `  curl -s -XPOST ${urls[0]}/v1/topics -H 'content-type: application/json' -d '{"name":"demo","partitions":3,"replication_factor":${Math.min(3, nodes)}}'`,
        `  curl -s -XPOST ${urls[0]}/v1/topics/demo/partitions/0/records -H 'content-type: application/json' -d '{"records":[{"value":"hello"}]}'`,
        `  curl -s '${urls[0]}/v1/topics/demo/partitions/0/records?offset=0'`,
        '',
        'Ctrl-C stops the cluster.',
        '',
      ].join('\n'),
    );
    await exited;
    return 0;
  },
};

/** The cluster's shared secret, created once per data directory (readable by its owner only). */
async function clusterSecret(dataDir: string): Promise<string> {
  const file = join(dataDir, 'cluster-secret');
  try {
    await readFile(file, 'utf8');
  } catch {
    await writeFile(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return file;
}

async function waitUntilReady(urls: string[], children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const url of urls) {
    for (;;) {
      const dead = children.find((c) => c.exitCode !== null);
      if (dead)
        throw new RaftlogError('STORAGE_FAILED', `a broker exited with code ${dead.exitCode}; see its log`);
      const ok = await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline)
        throw new RaftlogError('NO_LEADER', `${url} was not ready within ${READY_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
