/**
 * Markdown tables for `npm run bench`: every case's row, and (with peers) raftlog / peer ratios
 * per produce case. CPU is % of one core (200 = both cores of this machine).
 */
import type { CaseResult } from './bench-common.js';

const fmt = (x: unknown, digits = 0): string =>
  typeof x === 'number' && Number.isFinite(x)
    ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
    : '–';

const table = (head: string[], rows: string[][]) =>
  [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');

/** "b1 95 · b2 40 · b3 38 · lg 80" — servers first, then the loadgen and the harness. */
function cpuCell(cpu: Record<string, number | null>, leader: unknown): string {
  const short = (k: string) =>
    k
      .replace(/^broker/, 'b')
      .replace(/^etcd/, 'e')
      .replace(/^nats/, 'n')
      .replace('loadgen', 'lg')
      .replace('harness', 'h');
  return Object.entries(cpu)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${short(k)}${k === leader ? '*' : ''} ${v}`)
    .join(' · ');
}

const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? `${(a / b).toFixed(2)}×` : '–';

export function formatTables(
  results: readonly CaseResult[],
  meta: {
    command: string;
    machine: string;
    versions: string;
    loadAvg: number[];
    date: string;
    diskRef?: string;
  },
): string {
  const out: string[] = [];
  out.push(`Command: \`${meta.command}\` — ${meta.date}`);
  out.push(
    `Machine: ${meta.machine}; peers: ${meta.versions}; load average at the end ${meta.loadAvg.map((x) => x.toFixed(2)).join(' ')}`,
  );
  if (meta.diskRef) out.push(`Disk (fsync-ref.mjs, fdatasync'd): ${meta.diskRef}`);
  out.push('');
  out.push(
    table(
      [
        'case',
        'target',
        'records/s',
        'MB/s',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'errors',
        'CPU % of a core',
        'notes',
      ],
      results.map((r) => [
        r.case,
        r.target,
        fmt(r.records_s),
        fmt(r.mb_s, 2),
        fmt(r.p50_ms, 2),
        fmt(r.p99_ms, 2),
        fmt(r.p999_ms, 2),
        fmt(r.errors),
        cpuCell(r.cpu_pct, r.leader),
        notes(r),
      ]),
    ),
  );
  const peers = results.filter((r) => r.target !== 'raftlog');
  if (peers.length > 0) {
    const rows: string[][] = [];
    for (const r of results.filter((x) => x.target === 'raftlog')) {
      const etcd = peers.find((p) => p.target === 'etcd' && p.case === r.case);
      const nats = peers.find((p) => p.target === 'nats' && p.case === r.case);
      if (!etcd && !nats) continue;
      rows.push([
        r.case,
        fmt(r.records_s),
        fmt(etcd?.records_s),
        ratio(r.records_s, etcd?.records_s),
        fmt(nats?.records_s),
        ratio(r.records_s, nats?.records_s),
        `${fmt(r.p50_ms, 2)} / ${fmt(etcd?.p50_ms, 2)} / ${fmt(nats?.p50_ms, 2)}`,
        `${fmt(r.p99_ms, 1)} / ${fmt(etcd?.p99_ms, 1)} / ${fmt(nats?.p99_ms, 1)}`,
      ]);
    }
    out.push('');
    out.push(
      table(
        [
          'case',
          'raftlog rec/s',
          'etcd rec/s',
          'raftlog / etcd',
          'NATS rec/s',
          'raftlog / NATS',
          'p50 ms raftlog / etcd / NATS',
          'p99 ms raftlog / etcd / NATS',
        ],
        rows,
      ),
    );
  }
  out.push('');
  out.push(
    'CPU: % of one core over the measured window (200 = both cores): b1–b3 raftlog brokers (* = the ' +
      'leader of the partition written), e1–e3 etcd, ' +
      'n1–n3 NATS, lg the loadgen process, h the harness process (in-process readers and producers).',
  );
  return out.join('\n');
}

function notes(r: CaseResult): string {
  const n: string[] = [];
  if (r.failed) n.push(`FAILED: ${String(r.last_error).split('\n')[0]}`);
  else if (r.errors > 0 && r.last_error) n.push(`last error: ${String(r.last_error).slice(0, 80)}`);
  if (typeof r.wire_mb_s === 'number')
    n.push(`wire ${fmt(r.wire_mb_s, 1)} MB/s, ${fmt(r.value_mb, 0)} MB read`);
  if (typeof r.prefill_mb_s === 'number') n.push(`prefill ${fmt(r.prefill_mb_s, 1)} MB/s`);
  if (typeof r.tail_records_read_s === 'number')
    n.push(`${r.tailers} tailers read ${fmt(r.tail_records_read_s)} rec/s`);
  if (typeof r.produce_p50_ms === 'number')
    n.push(
      `${r.rate} rec/s offered; produce p50 ${fmt(r.produce_p50_ms, 2)} ms, p99 ${fmt(r.produce_p99_ms, 2)} ms`,
    );
  if (typeof r.background_records_s === 'number')
    n.push(`background load ${fmt(r.background_records_s)} rec/s`);
  if (typeof r.partitions === 'number') n.push(`${r.partitions} partitions`);
  if (typeof r.brokers_cpu_us_per_record === 'number')
    n.push(`brokers ${fmt(r.brokers_cpu_us_per_record)} µs CPU/record`);
  return n.join('; ');
}
