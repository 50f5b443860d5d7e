import { expect } from 'vitest';
import { ProgressState } from '../../../src/raft/rawnode.js';
import type { ConfChangeSingle, Message } from '../../../src/raft/types.js';
import { ConfChangeTransition, Role } from '../../../src/raft/types.js';
import type { NodeSettings } from './cluster.js';
import { Cluster } from './cluster.js';
import { addLearner, addVoter, confChange, removeNode } from './conf-change.js';
import { thrownCode } from './errors.js';
import type { LogState } from './log-state.js';
import { entriesWithTerms, membership } from './log-state.js';
import { typeByName } from './messages.js';

/**
 * The interpreter of the scenario scripts in `test/raft/testdata/*.txt`: one command per line,
 * `#` starts a comment. Arguments are positional (`propose 1 x`) or named (`count=2`, `count<=2`).
 *
 * Set-up:   log <id> terms=1,1,2 [term=N] (before `cluster`, a node's initial log)
 *           cluster voters=1,2,3 [learners=] [start=] [bootstrap=N] [seed=N] [prevote=false]
 *                   [checkquorum=false] [inflight=N] [inflightbytes=N] [maxsize=N]
 * Inputs:   campaign <id> | propose <id> <data> | read-index <id> <ctx> | transfer <from> <to>
 *           conf-change <id> [add-voter=a,b] [add-learner=c] [remove=d] [transition=auto|implicit|explicit]
 *           report-snapshot <leader> <to> ok|fail | compact <id>
 *           refused <CODE> <input command...>   (the input must throw that error code)
 * Time:     tick <id> [n] | run-ticks <n> | tick-until <id> <key=value...> max=<ticks>
 * Network:  process-ready <id...> | deliver [from=] [to=] [type=] | drop [from=] [to=] [type=]
 *           stabilize [nodes=1,2] | isolate <id> | partition 1,2 3 | heal
 *           crash <id> | restart <id> | start <id> | mark
 * Checks:   expect <id> [role=] [term=] [vote=] [commit=] [leader=] [last=] [applied=]
 *                  [transferee=] [voters=] [learners=] [outgoing=] [state.N=] [match.N=]
 *           expect-leader 2,3 (the running leader of the highest term is one of them)
 *           expect-applied <id> a,b,c | expect-terms <id> 1,1,2 | expect-read <id> <ctx> index=N
 *           expect-sent [from=] [to=] [type=] [reject=] count=N   (since the last `mark`)
 *           expect-pending [from=] [to=] [type=] count=N
 */
export function runScript(text: string, file: string): void {
  const run = new ScriptRun();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}: ${line}`;
    try {
      run.exec(parseArgs(line), where);
    } catch (err) {
      throw new Error(`${where}\n${(err as Error).message}`, { cause: err });
    }
  }
}

type Op = '=' | '<=' | '>=';

interface Args {
  readonly command: string;
  /** Everything after the command, as written. */
  readonly rest: string;
  readonly positional: string[];
  readonly named: Map<string, { op: Op; value: string }>;
}

function parseArgs(line: string): Args {
  const [command = '', ...tokens] = line.split(/\s+/);
  const rest = tokens.join(' ');
  const positional: string[] = [];
  const named = new Map<string, { op: Op; value: string }>();
  for (const token of tokens) {
    const m = /^([\w.-]+)(<=|>=|=)(.*)$/.exec(token);
    if (m) named.set(m[1]!, { op: m[2] as Op, value: m[3]! });
    else positional.push(token);
  }
  return { command, rest, positional, named };
}

function int(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isSafeInteger(n)) throw new Error(`not an integer: ${text}`);
  return n;
}

function ids(text: string): number[] {
  return text === '' ? [] : text.split(',').map(int);
}

const roles: Record<string, Role> = {
  follower: Role.Follower,
  candidate: Role.Candidate,
  precandidate: Role.PreCandidate,
  leader: Role.Leader,
};
const progressStates: Record<string, ProgressState> = {
  probe: ProgressState.Probe,
  replicate: ProgressState.Replicate,
  snapshot: ProgressState.Snapshot,
};
const transitions: Record<string, ConfChangeTransition> = {
  auto: ConfChangeTransition.Auto,
  implicit: ConfChangeTransition.JointImplicit,
  explicit: ConfChangeTransition.JointExplicit,
};

function compare(actual: number, op: Op, expected: number, what: string): void {
  if (op === '<=') expect(actual, what).toBeLessThanOrEqual(expected);
  else if (op === '>=') expect(actual, what).toBeGreaterThanOrEqual(expected);
  else expect(actual, what).toBe(expected);
}

const encoder = new TextEncoder();

class ScriptRun {
  #cluster: Cluster | undefined;
  readonly #logs: Record<number, LogState> = {};
  #mark = 0;

  get c(): Cluster {
    if (this.#cluster === undefined) throw new Error('no `cluster` yet');
    return this.#cluster;
  }

  exec(a: Args, where: string): void {
    const p = a.positional;
    const named = (key: string) => a.named.get(key)?.value;
    switch (a.command) {
      case 'log': {
        const terms = ids(named('terms') ?? '');
        const term = named('term') === undefined ? (terms.at(-1) ?? 0) : int(named('term'));
        this.#logs[int(p[0])] = { entries: entriesWithTerms(terms), hardState: { term, vote: 0, commit: 0 } };
        return;
      }
      case 'cluster':
        this.#newCluster(a);
        return;
      case 'refused': {
        const [code = '', ...input] = a.rest.split(/\s+/);
        expect(
          thrownCode(() => this.exec(parseArgs(input.join(' ')), where)),
          where,
        ).toBe(code);
        return;
      }
      case 'campaign':
        this.c.node(int(p[0])).campaign();
        return;
      case 'propose':
        this.c.propose(int(p[0]), p[1] ?? '');
        return;
      case 'read-index':
        this.c.node(int(p[0])).readIndex(encoder.encode(p[1]));
        return;
      case 'transfer':
        this.c.node(int(p[0])).transferLeader(int(p[1]));
        return;
      case 'conf-change': {
        const changes: ConfChangeSingle[] = [
          ...ids(named('add-voter') ?? '').map(addVoter),
          ...ids(named('add-learner') ?? '').map(addLearner),
          ...ids(named('remove') ?? '').map(removeNode),
        ];
        this.c
          .node(int(p[0]))
          .proposeConfChange(confChange(changes, transitions[named('transition') ?? 'auto']));
        return;
      }
      case 'report-snapshot':
        this.c.node(int(p[0])).reportSnapshot(int(p[1]), p[2] === 'ok');
        return;
      case 'compact':
        this.c.compact(int(p[0]));
        return;
      case 'tick':
        this.c.tick(int(p[0]), p[1] === undefined ? 1 : int(p[1]));
        return;
      case 'run-ticks':
        this.c.runTicks(int(p[0]));
        return;
      case 'tick-until': {
        const id = int(p[0]);
        const { max, ...conditions } = Object.fromEntries([...a.named].map(([k, v]) => [k, v.value]));
        this.c.tickUntil(() => {
          try {
            this.#expectStatus(id, conditions, where);
            return true;
          } catch {
            return false;
          }
        }, int(max));
        return;
      }
      case 'process-ready':
        for (const id of p) this.c.processReady(int(id));
        return;
      case 'deliver':
        this.c.deliver(this.#filter(a));
        return;
      case 'drop':
        this.c.drop(this.#filter(a));
        return;
      case 'stabilize': {
        const nodes = named('nodes');
        this.c.stabilize(nodes === undefined ? {} : { nodes: ids(nodes) });
        return;
      }
      case 'isolate':
        this.c.isolate(int(p[0]));
        return;
      case 'partition':
        this.c.partition(...p.map(ids));
        return;
      case 'heal':
        this.c.heal();
        return;
      case 'crash':
        this.c.crash(int(p[0]));
        return;
      case 'restart':
        this.c.restart(int(p[0]));
        return;
      case 'start':
        this.c.start(int(p[0]));
        return;
      case 'mark':
        this.#mark = this.c.sent.length;
        return;
      case 'expect':
        this.#expectStatus(int(p[0]), Object.fromEntries([...a.named].map(([k, v]) => [k, v.value])), where);
        return;
      case 'expect-leader':
        expect(ids(p[0] ?? ''), where).toContain(this.c.leader());
        return;
      case 'expect-applied':
        expect(this.c.peer(int(p[0])).sm.values(), where).toEqual(p[1] === undefined ? [] : p[1].split(','));
        return;
      case 'expect-terms':
        expect(
          this.c.log(int(p[0])).map((e) => e.term),
          where,
        ).toEqual(ids(p[1] ?? ''));
        return;
      case 'expect-read':
        expect(this.c.peer(int(p[0])).readStates, where).toEqual([
          { index: int(named('index')), context: encoder.encode(p[1]) },
        ]);
        return;
      case 'expect-sent':
        this.#expectCount(this.c.sent.slice(this.#mark), a, where);
        return;
      case 'expect-pending':
        this.#expectCount(this.c.pending, a, where);
        return;
      default:
        throw new Error(`unknown command ${a.command}`);
    }
  }

  #newCluster(a: Args): void {
    const named = (key: string) => a.named.get(key)?.value;
    const settings: { -readonly [K in keyof NodeSettings]: NodeSettings[K] } = {};
    if (named('prevote') !== undefined) settings.preVote = named('prevote') === 'true';
    if (named('checkquorum') !== undefined) settings.checkQuorum = named('checkquorum') === 'true';
    if (named('inflight') !== undefined) settings.maxInflightMsgs = int(named('inflight'));
    if (named('inflightbytes') !== undefined) settings.maxInflightBytes = int(named('inflightbytes'));
    if (named('maxsize') !== undefined) settings.maxSizePerMsg = int(named('maxsize'));
    const voters = ids(named('voters') ?? '');
    const learners = ids(named('learners') ?? '');
    const conf = membership(voters, learners);
    const logs = Object.fromEntries(
      Object.entries(this.#logs).map(([id, s]) => [id, { ...s, confState: conf }]),
    );
    const start = named('start');
    this.#cluster = new Cluster({
      voters,
      learners,
      settings,
      logs,
      ...(start === undefined ? {} : { start: ids(start) }),
      ...(named('bootstrap') === undefined ? {} : { bootstrapIndex: int(named('bootstrap')) }),
      ...(named('seed') === undefined ? {} : { seed: int(named('seed')) }),
    });
  }

  #filter(a: Args): (m: Message) => boolean {
    const named = (key: string) => a.named.get(key)?.value;
    const from = named('from');
    const to = named('to');
    const type = named('type');
    const reject = named('reject');
    return (m) =>
      (from === undefined || m.from === int(from)) &&
      (to === undefined || m.to === int(to)) &&
      (type === undefined || m.type === typeByName(type)) &&
      (reject === undefined || m.reject === (reject === 'true'));
  }

  #expectCount(messages: readonly Message[], a: Args, where: string): void {
    const count = a.named.get('count');
    if (count === undefined) throw new Error('count= is required');
    compare(messages.filter(this.#filter(a)).length, count.op, int(count.value), where);
  }

  #expectStatus(id: number, want: Record<string, string>, where: string): void {
    const s = this.c.status(id);
    const sorted = (list: readonly number[]) => [...list].sort((x, y) => x - y);
    for (const [key, value] of Object.entries(want)) {
      const what = `${where} (${key})`;
      const [field, of] = key.split('.');
      switch (field) {
        case 'role':
          expect(s.role, what).toBe(roles[value]);
          break;
        case 'term':
        case 'vote':
        case 'commit':
          expect(s.hardState[field], what).toBe(int(value));
          break;
        case 'leader':
        case 'applied':
          expect(s[field], what).toBe(int(value));
          break;
        case 'last':
          expect(s.lastIndex, what).toBe(int(value));
          break;
        case 'transferee':
          expect(s.leadTransferee, what).toBe(int(value));
          break;
        case 'voters':
        case 'learners':
          expect(sorted(s.confState[field]), what).toEqual(ids(value));
          break;
        case 'outgoing':
          expect(sorted(s.confState.votersOutgoing), what).toEqual(ids(value));
          break;
        case 'state':
          expect(s.progress?.get(int(of))?.state, what).toBe(progressStates[value]);
          break;
        case 'match':
          expect(s.progress?.get(int(of))?.match, what).toBe(int(value));
          break;
        default:
          throw new Error(`unknown status field ${key}`);
      }
    }
  }
}
