import { Counter, Gauge, type Registry } from 'prom-client';
import { TallyHistogram } from '../metrics/tally-histogram.js';
import {
  type LeadershipEvent,
  leadershipChannel,
  type TurnEvent,
  turnChannel,
} from '../partition/diagnostics.js';
import type { Broker } from './broker.js';

/**
 * Prometheus metrics of a broker's Raft side on `registry` (the HTTP server's `/metrics`):
 * group-commit batches (size and latency, synced or not), leadership changes and elections won,
 * hosted and quiet groups, and peer transport counters. Fed by the host's diagnostics channels
 * (only this broker's events) and read at scrape time. Returns a function that unsubscribes.
 */
export function registerRaftMetrics(registry: Registry, broker: Broker): () => void {
  const registers = [registry];
  // Observed on every host turn: tallies, not prom-client's Histogram (see tally-histogram.ts).
  const batchSeconds = new TallyHistogram({
    name: 'raftlog_batch_duration_seconds',
    help: 'Time to write one group-commit batch (every Raft group of a turn), by whether it was fsynced',
    labelName: 'sync',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const batchGroups = new TallyHistogram({
    name: 'raftlog_batch_groups',
    help: 'Raft groups whose writes shared one group-commit batch',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers,
  });
  const leaderChanges = new Counter({
    name: 'raftlog_leader_changes_total',
    help: 'Times a replica on this broker saw its group change leader (or lose it)',
    registers,
  });
  const electionsWon = new Counter({
    name: 'raftlog_elections_won_total',
    help: 'Times a replica on this broker became the leader of its group',
    registers,
  });
  new Gauge({
    name: 'raftlog_groups',
    help: 'Raft groups hosted on this broker, and how many of them are quiet (not ticking)',
    labelNames: ['state'],
    registers,
    collect() {
      const hosted = broker.host.groupIds().length;
      const quiet = broker.host.quiescedGroups();
      this.set({ state: 'active' }, hosted - quiet);
      this.set({ state: 'quiet' }, quiet);
    },
  });
  new Gauge({
    name: 'raftlog_transport_frames',
    help: 'Peer transport frames by direction (sent, received) and frames or handshakes rejected',
    labelNames: ['kind'],
    registers,
    collect() {
      const s = broker.transportStats();
      this.set({ kind: 'sent' }, s.framesSent);
      this.set({ kind: 'received' }, s.framesReceived);
      this.set({ kind: 'rejected' }, s.framesRejected);
      this.set({ kind: 'handshake_rejected' }, s.handshakesRejected);
    },
  });
  new Gauge({
    name: 'raftlog_transport_messages',
    help: 'Raft messages the peer transport carried, by direction (sent, received): several share a frame',
    labelNames: ['direction'],
    registers,
    collect() {
      const s = broker.transportStats();
      this.set({ direction: 'sent' }, s.messagesSent);
      this.set({ direction: 'received' }, s.messagesReceived);
    },
  });

  new Gauge({
    name: 'raftlog_learner_bytes_total',
    help: 'Log entry bytes sent to learners (replicas catching up during moves), within the move bandwidth',
    registers,
    collect() {
      this.set(broker.host.stats.learnerBytes);
    },
  });

  const onTurn = (message: unknown) => {
    const e = message as TurnEvent;
    if (e.broker !== broker.id) return;
    batchSeconds.series(String(e.sync)).observe(e.durationMs / 1000);
    batchGroups.series().observe(e.readies);
  };
  const onLeadership = (message: unknown) => {
    const e = message as LeadershipEvent;
    if (e.broker !== broker.id) return;
    leaderChanges.inc();
    if (e.leader === broker.id) electionsWon.inc();
  };
  turnChannel.subscribe(onTurn);
  leadershipChannel.subscribe(onLeadership);
  return () => {
    turnChannel.unsubscribe(onTurn);
    leadershipChannel.unsubscribe(onLeadership);
  };
}
