/**
 * Where a broker's CPU goes, from a `node --cpu-prof` profile (`npm run bench -- --cpu-prof`
 * writes one per broker): self time by area (raftlog's own directories, each npm package, Node's
 * internals, GC, idle) and the top functions by self time.
 *
 *   node dist/bench/cpuprofile-top.js FILE.cpuprofile [--top 25] [--after 5]
 *
 * `--after S` counts only samples taken S seconds or more after the profile started: a broker's
 * start-up (module loading, compiling) otherwise shows up as a large share of a short run.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' }, after: { type: 'string', default: '0' } },
  allowPositionals: true,
});

/** An area for a script URL: `src/<dir>`, `npm:<package>`, `node:<module>`, or the V8 pseudo-frames. */
function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const src = /\/dist\/src\/([^/]+)\//.exec(url);
  if (src) return `src/${src[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url);
  if (internal) return `node:${internal[1]}`;
  return url.replace(/^file:\/\//, '');
}

for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const skipUs = Number(values.after) * 1e6;
  // timeDeltas[i] is the time from sample i-1 to sample i: sample i lasted until timeDeltas[i+1].
  let at = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    if (at < skipUs) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let total = 0;
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    total += us;
    if (functionName === '(idle)') continue;
    busy += us;
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1)}%`;
  console.log(
    `\n${file}\n  profiled ${(total / 1e6).toFixed(1)} s, busy (not idle) ${(busy / 1e6).toFixed(1)} s; shares below are of busy time`,
  );
  console.log('  by area:');
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, 15))
    console.log(`    ${pct(us).padStart(6)}  ${a}`);
  console.log('  top functions (self time):');
  for (const [f, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, Number(values.top)))
    console.log(`    ${pct(us).padStart(6)}  ${f}`);
}
