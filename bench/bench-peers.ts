/**
 * The peers of issue 7 — a 3-node etcd 3.4 cluster and a 3-node NATS JetStream 2.9 cluster (R3
 * stream) — started and stopped through the shared scripts (`etcd-cluster.sh`, `nats-cluster.sh`,
 * from a private copy of /work/shared/peers), which write /tmp/peers-data/<sys>/{pids,leader}.
 * We stop them through the script and then by the PIDs it recorded, also on failure.
 */
import { execFileSync, execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from './bench-common.js';
import type { PeersCopy } from './bench-loadgen.js';

export type PeerSystem = 'etcd' | 'nats';

const has = (bin: string) => {
  try {
    execSync(`command -v ${bin}`, { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
};

/** Install etcd-server, etcd-client and nats-server with apt when missing (and apt is there). */
export function ensurePeerBinaries(): string {
  if (has('etcd') && has('etcdctl') && has('nats-server')) return 'present';
  if (!has('apt-get')) throw new Error('etcd/nats-server missing and no apt-get: install them first');
  process.stderr.write('installing etcd-server etcd-client nats-server with apt-get ...\n');
  execSync('apt-get update -qq && apt-get install -y -qq etcd-server etcd-client nats-server', {
    stdio: ['ignore', 'ignore', 'inherit'],
    shell: '/bin/sh',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 600_000,
  });
  if (!(has('etcd') && has('etcdctl') && has('nats-server')))
    throw new Error('apt-get did not install the peers');
  return 'installed';
}

export function peerVersions(): string {
  const v = (cmd: string) => {
    try {
      return execSync(cmd, { encoding: 'utf8', shell: '/bin/sh' }).split('\n')[0]!.trim();
    } catch {
      return '?';
    }
  };
  return `${v('etcd --version')}; ${v('nats-server --version')}`;
}

export interface PeerCluster {
  readonly system: PeerSystem;
  /** Client URL of the Raft (etcd) or stream (NATS) leader. */
  readonly leader: string;
  readonly pids: ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

const dataDir = (sys: PeerSystem) => `/tmp/peers-data/${sys}`;

function recordedPids(sys: PeerSystem): number[] {
  try {
    return readFileSync(join(dataDir(sys), 'pids'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function killPids(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  const deadline = Date.now() + 10_000;
  for (const pid of pids) {
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      if (Date.now() > deadline) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
        break;
      }
      await sleep(100);
    }
  }
}

export async function startPeer(copy: PeersCopy, sys: PeerSystem): Promise<PeerCluster> {
  const script = join(copy.dir, `${sys}-cluster.sh`);
  const stop = async () => {
    const pids = recordedPids(sys);
    try {
      execFileSync(script, ['stop'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 30_000 });
    } catch {}
    await killPids(pids); // whatever the script could not stop
  };
  try {
    execFileSync(script, ['start'], {
      cwd: copy.dir,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 120_000,
    });
    const pids = recordedPids(sys);
    const leader = readFileSync(join(dataDir(sys), 'leader'), 'utf8').trim();
    if (!leader || pids.length !== 3) throw new Error(`${sys}: no leader or not 3 PIDs`);
    return { system: sys, leader, pids: new Map(pids.map((p, i) => [`${sys}${i + 1}`, p])), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
