import type { Verdict } from './checker.js';
import type { AppendOp, NemesisOp, Op } from './history.js';

/**
 * The HTML report of a run: one self-contained page (inline SVG and CSS, no external assets)
 * with the verdict, a timeline of append latency by outcome with fault intervals shaded,
 * throughput over time, and each anomaly linked to the events involved.
 */

/** Facts about the run shown at the top of the report. */
export interface ReportMeta {
  readonly scenario: string;
  readonly seed: number;
  readonly nodes: number;
  readonly command: string;
  readonly unexpectedExits: readonly string[];
}

const WIDTH = 1100;
const HEIGHT = 280;
const LEFT = 60;
const RIGHT = 20;
const TOP = 10;
const BOTTOM = 30;
/** Points drawn per outcome at most (the rest are sampled out; failures are rarely that many). */
const MAX_POINTS = 15_000;

const COLORS = { ok: '#2a9d4b', fail: '#d62828', info: '#f4a100' } as const;

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Interval {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

/** Fault intervals (start to heal) and the final heal. */
function faultIntervals(history: readonly Op[], end: number): Interval[] {
  const open = new Map<number, { start: number; label: string }>();
  const out: Interval[] = [];
  for (const op of history) {
    if (op.f !== 'fault' && op.f !== 'heal-all') continue;
    const n = op as NemesisOp;
    if (n.f === 'heal-all') continue;
    const id = n.fault ?? -1;
    if (n.type === 'invoke') open.set(id, { start: n.time, label: n.value });
    else if (n.type === 'info' && open.has(id)) open.get(id)!.label = n.value;
    else if (n.type === 'ok' && open.has(id)) {
      const o = open.get(id)!;
      out.push({ start: o.start, end: n.time, label: o.label });
      open.delete(id);
    }
  }
  for (const o of open.values()) out.push({ start: o.start, end, label: o.label });
  return out;
}

/** Completed appends with their latency. */
function appendLatencies(history: readonly Op[]) {
  const pending = new Map<number, AppendOp>();
  const out: { invoke: AppendOp; done: AppendOp }[] = [];
  for (const op of history) {
    if (op.f !== 'append') continue;
    if (op.type === 'invoke') pending.set(op.process, op);
    else {
      const invoke = pending.get(op.process);
      pending.delete(op.process);
      if (invoke) out.push({ invoke, done: op });
    }
  }
  return out;
}

function axisX(t0: number, t1: number, scale: (t: number) => number): string {
  const span = (t1 - t0) / 1000;
  const step = span > 600 ? 60 : span > 120 ? 10 : span > 30 ? 5 : 1;
  let out = '';
  for (let s = 0; s <= span; s += step) {
    const x = scale(t0 + s * 1000);
    out += `<line x1="${x}" y1="${HEIGHT - BOTTOM}" x2="${x}" y2="${HEIGHT - BOTTOM + 4}" stroke="#555"/>`;
    out += `<text x="${x}" y="${HEIGHT - BOTTOM + 16}" font-size="10" text-anchor="middle">${s}s</text>`;
  }
  return out;
}

function shading(
  intervals: readonly Interval[],
  scale: (t: number) => number,
  heal: number | undefined,
): string {
  let out = '';
  for (const iv of intervals) {
    const x = scale(iv.start);
    const w = Math.max(1, scale(iv.end) - x);
    out += `<rect x="${x}" y="${TOP}" width="${w}" height="${HEIGHT - TOP - BOTTOM}" fill="#8888ff" opacity="0.18"><title>${esc(iv.label)}</title></rect>`;
  }
  if (heal !== undefined) {
    const x = scale(heal);
    out += `<line x1="${x}" y1="${TOP}" x2="${x}" y2="${HEIGHT - BOTTOM}" stroke="#333" stroke-dasharray="4 3"><title>heal all</title></line>`;
  }
  return out;
}

function latencyChart(
  history: readonly Op[],
  t1: number,
  intervals: readonly Interval[],
  heal: number | undefined,
): string {
  const ops = appendLatencies(history);
  // A loop, not Math.max(...spread): a long run has more operations than the call stack has room for.
  let maxLatency = 10;
  for (const o of ops) maxLatency = Math.max(maxLatency, o.done.time - o.invoke.time);
  const x = (t: number) => LEFT + (t / Math.max(1, t1)) * (WIDTH - LEFT - RIGHT);
  const logMax = Math.log10(maxLatency);
  const y = (ms: number) =>
    HEIGHT - BOTTOM - (Math.log10(Math.max(1, ms)) / logMax) * (HEIGHT - TOP - BOTTOM);
  let points = '';
  for (const type of ['ok', 'info', 'fail'] as const) {
    const mine = ops.filter((o) => o.done.type === type);
    const every = Math.max(1, Math.ceil(mine.length / MAX_POINTS));
    for (let i = 0; i < mine.length; i += every) {
      const o = mine[i]!;
      points += `<circle cx="${x(o.invoke.time).toFixed(1)}" cy="${y(o.done.time - o.invoke.time).toFixed(1)}" r="1.6" fill="${COLORS[type]}"/>`;
    }
  }
  let yAxis = '';
  for (let p = 0; p <= Math.ceil(logMax); p++) {
    const ms = 10 ** p;
    if (ms > maxLatency * 1.01) break;
    yAxis += `<line x1="${LEFT - 4}" y1="${y(ms)}" x2="${WIDTH - RIGHT}" y2="${y(ms)}" stroke="#eee"/><text x="${LEFT - 6}" y="${y(ms) + 3}" font-size="10" text-anchor="end">${ms} ms</text>`;
  }
  return svg(`${shading(intervals, x, heal)}${yAxis}${axisX(0, t1, x)}${points}`);
}

function throughputChart(
  history: readonly Op[],
  t1: number,
  intervals: readonly Interval[],
  heal: number | undefined,
): string {
  const buckets = Math.max(1, Math.ceil(t1 / 1000));
  const counts = {
    ok: new Array<number>(buckets).fill(0),
    fail: new Array<number>(buckets).fill(0),
    info: new Array<number>(buckets).fill(0),
  };
  for (const op of history) {
    if (op.f !== 'append' || op.type === 'invoke') continue;
    counts[op.type][Math.min(buckets - 1, Math.floor(op.time / 1000))]!++;
  }
  const max = Math.max(1, ...counts.ok, ...counts.fail, ...counts.info);
  const x = (t: number) => LEFT + (t / Math.max(1, t1)) * (WIDTH - LEFT - RIGHT);
  const y = (n: number) => HEIGHT - BOTTOM - (n / max) * (HEIGHT - TOP - BOTTOM);
  let lines = '';
  for (const type of ['ok', 'info', 'fail'] as const) {
    const pts = counts[type].map((n, i) => `${x(i * 1000 + 500).toFixed(1)},${y(n).toFixed(1)}`).join(' ');
    lines += `<polyline points="${pts}" fill="none" stroke="${COLORS[type]}" stroke-width="1.5"/>`;
  }
  const yAxis = [0, Math.round(max / 2), max]
    .map((n) => `<text x="${LEFT - 6}" y="${y(n) + 3}" font-size="10" text-anchor="end">${n}/s</text>`)
    .join('');
  return svg(`${shading(intervals, x, heal)}${yAxis}${axisX(0, t1, x)}${lines}`);
}

function svg(body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">${body}</svg>`;
}

/** The report page. */
export function renderReport(history: readonly Op[], verdict: Verdict, meta: ReportMeta): string {
  const t1 = history.length > 0 ? history[history.length - 1]!.time : 1;
  const intervals = faultIntervals(history, t1);
  const heal = history.find((op) => op.f === 'heal-all' && op.type === 'invoke')?.time;
  const cited = new Set(verdict.anomalies.flatMap((a) => a.ops));
  const anomalies = verdict.anomalies
    .map(
      (a) =>
        `<li><b>${esc(a.type)}</b> (partition ${a.partition}): ${esc(a.message)}<br>events: ${a.ops
          .map((i) => `<a href="#op-${i}">${i}</a>`)
          .join(', ')}</li>`,
    )
    .join('');
  const citedOps = history
    .filter((op) => cited.has(op.index))
    .map(
      (op) =>
        `<tr id="op-${op.index}"><td>${op.index}</td><td><code>${esc(JSON.stringify(op))}</code></td></tr>`,
    )
    .join('');
  const faults = intervals
    .map(
      (iv) =>
        `<tr><td>${(iv.start / 1000).toFixed(1)}s</td><td>${(iv.end / 1000).toFixed(1)}s</td><td>${esc(iv.label)}</td></tr>`,
    )
    .join('');
  const counts = Object.entries(verdict.counts)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`)
    .join('');
  const anomalyCounts = Object.entries(verdict.anomalyCounts)
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`)
    .join('');
  const c = verdict.corruption;
  const corruption = c.faults
    .map(
      (f) =>
        `<tr><td>${f.fault}</td><td>${f.broker}</td><td>${esc(f.kind)}</td><td>${esc(f.damage)}</td><td>${esc(f.outcome)}</td><td>${esc(f.error ?? '')}</td><td>${esc(f.repair ?? '')}</td></tr>`,
    )
    .join('');
  const legend = (['ok', 'info', 'fail'] as const)
    .map((t) => `<span style="color:${COLORS[t]}">● ${t}</span>`)
    .join(' &nbsp; ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raftlog jepsen: ${esc(meta.scenario)} seed ${meta.seed}</title>
<style>
body{font-family:system-ui,sans-serif;margin:20px;color:#222}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:left}
code{font-size:12px;word-break:break-all}.valid{color:#2a9d4b}.invalid{color:#d62828}
tr:target{background:#ffd}
</style></head><body>
<h1>raftlog jepsen-like run: ${esc(meta.scenario)}, seed ${meta.seed}, ${meta.nodes} brokers</h1>
<p class="${verdict.valid ? 'valid' : 'invalid'}"><b>${verdict.valid ? 'VALID: no anomaly found' : 'INVALID: anomalies found'}</b></p>
<p>Replay: <code>${esc(meta.command)}</code></p>
${meta.unexpectedExits.length > 0 ? `<p class="invalid">Unexpected broker exits: ${esc(meta.unexpectedExits.join('; '))}</p>` : ''}
<h2>Counts</h2><table>${counts}</table>
${anomalyCounts ? `<h2>Anomaly counts</h2><table>${anomalyCounts}</table>` : ''}
<h2>Append latency by outcome (log scale; faults shaded, dashed line: heal all)</h2>
<p>${legend}</p>
${latencyChart(history, t1, intervals, heal)}
<h2>Appends completed per second</h2>
<p>${legend}</p>
${throughputChart(history, t1, intervals, heal)}
<h2>Faults</h2><table><tr><th>start</th><th>healed</th><th>fault</th></tr>${faults}</table>
${
  corruption
    ? `<h2>File corruption</h2><p>${c.refused} refused to start, ${c.storageFailed} stopped serving on finding the damage, ${c.undetected} started with nothing detected (a rollback or a damaged write-ahead log tail is invisible to the broker: a risk to acknowledged writes), ${c.notReady} not ready in time.</p>
<table><tr><th>fault</th><th>broker</th><th>kind</th><th>damage</th><th>outcome</th><th>error</th><th>repair</th></tr>${corruption}</table>`
    : ''
}
<h2>Anomalies</h2>${anomalies ? `<ol>${anomalies}</ol>` : '<p>None.</p>'}
${citedOps ? `<h2>Events cited by anomalies</h2><table>${citedOps}</table>` : ''}
</body></html>
`;
}
