import { Counter, Gauge, Registry } from 'prom-client';
import type { BrokerApi, PartitionStatus } from '../broker/api.js';
import { type HistogramSeries, TallyHistogram } from '../metrics/tally-histogram.js';

/**
 * The HTTP server's Prometheus metrics, in a registry of its own (never prom-client's global one),
 * so several brokers can live in one process. The broker registers its own collectors (fsync
 * batches, elections) on the same registry: see `HttpServer.registry`.
 */

/** What a request was for: the `operation` label of every request metric. */
export type Operation =
  | 'create_topic'
  | 'list_topics'
  | 'describe_topic'
  | 'delete_topic'
  | 'produce'
  | 'produce_partition'
  | 'fetch'
  | 'cluster'
  | 'status'
  | 'healthz'
  | 'readyz'
  | 'metrics'
  | 'list_groups'
  | 'describe_group'
  | 'join_group'
  | 'heartbeat'
  | 'leave_group'
  | 'commit_offsets'
  | 'group_offsets'
  | 'list_brokers'
  | 'register_broker'
  | 'drain_broker'
  | 'remove_broker'
  | 'move_replicas'
  | 'cancel_move'
  | 'rebalance'
  | 'unmatched';

const PARTITION_GAUGES: ReadonlyArray<readonly [string, string, (s: PartitionStatus) => number]> = [
  [
    'raftlog_partition_leader',
    'Broker id of the partition leader (-1 while there is none)',
    (s) => s.leader ?? -1,
  ],
  ['raftlog_partition_term', 'Raft term of the partition group', (s) => s.term],
  ['raftlog_partition_commit_index', 'Raft commit index of the partition group', (s) => s.commitIndex],
  ['raftlog_partition_high_watermark', 'Offset after the last committed record', (s) => s.highWatermark],
];

/** What one operation's requests added up to since the server started. */
interface OperationTally {
  readonly byStatus: Map<number, number>;
  readonly duration: HistogramSeries;
  received: number;
  sent: number;
}

/**
 * Counters and histograms the HTTP layer updates, plus per-partition gauges read at scrape time.
 * The per-request counters are plain additions here, handed to prom-client when scraped: its
 * increments build a label key string each time, several per request on the produce path. The
 * duration histogram is a {@link TallyHistogram} for the same reason.
 */
export class HttpMetrics {
  readonly registry: Registry;
  readonly #tallies = new Map<Operation, OperationTally>();
  readonly #records = { produced: 0, fetched: 0 };
  readonly #duration: TallyHistogram;
  readonly #forwarded: Counter<'operation' | 'outcome'>;

  constructor(broker: BrokerApi, registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    const tallies = this.#tallies;
    const records = this.#records;
    new Counter({
      name: 'raftlog_http_requests_total',
      help: 'HTTP requests answered, by operation and status',
      labelNames: ['operation', 'status'],
      registers,
      collect() {
        this.reset();
        for (const [operation, t] of tallies)
          for (const [status, n] of t.byStatus) this.inc({ operation, status }, n);
      },
    });
    this.#duration = new TallyHistogram({
      name: 'raftlog_http_request_duration_seconds',
      help: 'Time from receiving a request to answering it, by operation',
      labelName: 'operation',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Counter({
      name: 'raftlog_http_received_bytes_total',
      help: 'Request body bytes received, by operation',
      labelNames: ['operation'],
      registers,
      collect() {
        this.reset();
        for (const [operation, t] of tallies) if (t.received > 0) this.inc({ operation }, t.received);
      },
    });
    new Counter({
      name: 'raftlog_http_sent_bytes_total',
      help: 'Response body bytes sent, by operation',
      labelNames: ['operation'],
      registers,
      collect() {
        this.reset();
        for (const [operation, t] of tallies) if (t.sent > 0) this.inc({ operation }, t.sent);
      },
    });
    new Counter({
      name: 'raftlog_records_total',
      help: 'Records produced and fetched through this broker (direction = produced | fetched)',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset();
        for (const direction of ['produced', 'fetched'] as const)
          if (records[direction] > 0) this.inc({ direction }, records[direction]);
      },
    });
    this.#forwarded = new Counter({
      name: 'raftlog_forwarded_requests_total',
      help: 'Requests forwarded to a leader, by operation and outcome (ok | failed)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    for (const [name, help, pick] of PARTITION_GAUGES) {
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'],
        registers,
        collect() {
          this.reset();
          for (const s of broker.partitionStatus())
            this.set({ topic: s.topic, partition: s.partition }, pick(s));
        },
      });
    }
    new Gauge({
      name: 'raftlog_group_lag',
      help: 'Records a consumer group has yet to commit: high watermark minus committed offset (on the group coordinator)',
      labelNames: ['group', 'topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const r of broker.groups?.lagRows() ?? [])
          this.set({ group: r.group, topic: r.topic, partition: r.partition }, r.lag);
      },
    });
  }

  /** One answered request: its status, time taken, and the body bytes received and sent. */
  observeRequest(
    operation: Operation,
    status: number,
    seconds: number,
    received: number,
    sent: number,
  ): void {
    let t = this.#tallies.get(operation);
    if (t === undefined) {
      t = { byStatus: new Map(), duration: this.#duration.series(operation), received: 0, sent: 0 };
      this.#tallies.set(operation, t);
    }
    t.byStatus.set(status, (t.byStatus.get(status) ?? 0) + 1);
    t.received += received;
    t.sent += sent;
    t.duration.observe(seconds);
  }

  /** Records this broker wrote or read for a client. */
  countRecords(direction: 'produced' | 'fetched', n: number): void {
    this.#records[direction] += n;
  }

  /** One request (or partition batch) forwarded to a leader. */
  countForward(operation: Operation, outcome: 'ok' | 'failed'): void {
    this.#forwarded.inc({ operation, outcome });
  }
}
