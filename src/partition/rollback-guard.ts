import { RaftlogError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { LogStore } from '../storage/log-store.js';
import type { PeerTransport, SyncCounterExchange } from './transport.js';

/**
 * Detects a broker restarted on a data directory older than the one it last ran on — put back
 * from a copy or a backup, replaced by an empty one, or short of synced writes — and refuses to
 * start it. Raft assumes a replica never forgets what it made durable: one that does may vote a
 * second time in a term, or help elect a leader that lacks an entry it acknowledged, and an
 * acknowledged write is lost ("Protocol-Aware Recovery for Consensus-Based Storage", FAST'18).
 *
 * How:
 * 1. The store numbers its synced batches durably (`LogStore.syncCounter`). Every frame a broker
 *    sends carries its latest durable number — Raft messages, and the empty broker heartbeat
 *    every heartbeat interval — so every connected peer knows within ~100 ms how far this
 *    broker's disk has got, and a message promising durable state (a vote, an append
 *    acknowledgement) always travels with a number that covers it.
 * 2. Each broker keeps, per peer, the highest number seen, and writes it with the store's next
 *    batch: staged right after the frame is read, before the host's turn that acts on the frame,
 *    so it is in the same batch as that turn's writes or an earlier one. When no batch comes
 *    within {@link FLUSH_MS} (an idle broker, whose Readies need nothing written), it asks for one
 *    itself, unsynced; it never adds a batch to a busy broker's.
 * 3. At start, before the broker's Raft groups tick or step anything, it connects to every peer;
 *    each answers in its authenticated handshake with the highest number it saw from this
 *    broker. Any answer above the broker's own number proves the directory went back in time:
 *    the start is refused with `STORAGE_CORRUPT`, nothing touched. The broker starts once every
 *    peer answered no higher, or — after {@link GateOptions.waitForAllMs} — once enough of them
 *    did that, with itself, they are a majority of the cluster (a peer that is down cannot
 *    answer; waiting for all would keep a 3-broker cluster with one broker lost from ever
 *    restarting another). A broker without peers has no gate.
 *
 * There are no false refusals: a peer only ever sees numbers that were durable when sent, and a
 * directory that did not go back in time holds at least that number.
 *
 * What must be durable when. A counted vote makes a leader that acts only after its first entry
 * is synced, and the peer's number was staged before that entry: both are durable together.
 * An acknowledgement counted towards a commit may be answered to the client after an unsynced
 * batch (a Ready with only a commit index needs no sync); the peer's number is written in that
 * batch or before, so it survives a crash of the process, and it is synced by the next synced
 * batch. Syncing it before every acknowledgement would cost a second fsync per write at low
 * concurrency; syncing it on its own would bump this broker's counter, which its peers would
 * then sync in turn, forever.
 *
 * The window that remains: a rollback that lost only synced batches of the last heartbeat
 * interval before the broker stopped is known only to the peers that got the frames carrying
 * them (a vote goes to one candidate, an acknowledgement to one leader). It goes undetected when
 * those peers cannot answer within `waitForAllMs` (down, or cut off), or lost what they saw (a
 * power loss of theirs before their next synced batch). Any older rollback is detected as long
 * as one peer that was connected to the broker at the time answers.
 */

/** How long what was seen may stay staged before the guard asks for a batch of its own. */
export const FLUSH_MS = 100;

/** Node meta name of the highest sync counter seen from each peer. */
const SEEN_META = 'peer-sync-counters';
const ENTRY_BYTES = 16;

/** Where the start gate stands, given the answers so far; see {@link gateVerdict}. */
export type GateVerdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'wait'; readonly answered: number; readonly needed: number }
  | { readonly kind: 'refuse'; readonly peer: number; readonly seen: number };

/**
 * The start gate's rule: refuse when any peer saw more than `own`; pass when every peer
 * answered, or, once `waitedForAll`, when the peers that answered form a majority of the cluster
 * with this broker; else wait.
 */
export function gateVerdict(
  own: number,
  answers: ReadonlyMap<number, number>,
  peers: readonly number[],
  waitedForAll: boolean,
): GateVerdict {
  let refusal: { peer: number; seen: number } | undefined;
  let answered = 0;
  for (const peer of peers) {
    const seen = answers.get(peer);
    if (seen === undefined) continue;
    answered++;
    if (seen > own && seen > (refusal?.seen ?? 0)) refusal = { peer, seen };
  }
  if (refusal !== undefined) return { kind: 'refuse', ...refusal };
  // A majority of the cluster of `peers.length + 1` brokers, this one counted.
  const needed = waitedForAll ? Math.floor((peers.length + 1) / 2) : peers.length;
  return answered >= needed ? { kind: 'pass' } : { kind: 'wait', answered, needed };
}

/** Options of {@link RollbackGuard.confirm}. */
export interface GateOptions {
  /** How long to wait for every peer's answer before a majority is enough. Default 2 s. */
  readonly waitForAllMs?: number;
  /** How often a peer that has not answered is dialled again (by an empty frame). Default 100 ms. */
  readonly probeIntervalMs?: number;
  /** Give up with `NO_LEADER` after this long without a verdict. Default: never. */
  readonly timeoutMs?: number;
}

/** Options of {@link RollbackGuard}. */
export interface RollbackGuardOptions {
  /** The broker's open store: its sync counter, and where what peers sent is kept. */
  readonly store: LogStore;
  /** The data directory, named when the start is refused. */
  readonly dir: string;
  readonly logger?: Logger;
}

/**
 * One broker's side of rollback detection (see the module notes): the {@link SyncCounterExchange}
 * its peer transport carries counters through, and the start gate, {@link RollbackGuard.confirm}.
 */
export class RollbackGuard implements SyncCounterExchange {
  readonly #store: LogStore;
  readonly #dir: string;
  readonly #log: Logger;
  /** The highest counter seen from each peer (durable up to the last write, see `#save`). */
  readonly #seen: Map<number, number>;
  /** What each peer answered this process's handshakes: the highest counter it saw from us. */
  readonly #answers = new Map<number, number>();
  #saveQueued = false;
  #flushTimer: NodeJS.Timeout | undefined;
  /** False until the start gate passed: a refused broker writes nothing to its directory. */
  #saving = false;
  #unsaved = false;
  #answerListener: (() => void) | undefined;

  constructor(o: RollbackGuardOptions) {
    this.#store = o.store;
    this.#dir = o.dir;
    this.#log = o.logger ?? silentLogger;
    this.#seen = decodeSeen(o.store.getNodeMeta(SEEN_META));
  }

  own(): number {
    return this.#store.syncCounter();
  }

  received(peer: number, counter: number): void {
    if (counter <= (this.#seen.get(peer) ?? 0)) return;
    this.#seen.set(peer, counter);
    this.#unsaved = true;
    if (this.#saveQueued || !this.#saving) return;
    this.#saveQueued = true;
    // Once per socket callback, before any turn of the host: see the module notes.
    queueMicrotask(() => this.#save());
  }

  seenFrom(peer: number): number {
    return this.#seen.get(peer) ?? 0;
  }

  answered(peer: number, counter: number): void {
    this.#answers.set(peer, Math.max(counter, this.#answers.get(peer) ?? 0));
    if (counter > this.own() && this.#saving) {
      // After the start gate, only a peer that could not answer it can tell (see the window).
      this.#log.error(
        { peer, seen: counter, own: this.own(), dir: this.#dir },
        'a peer saw more synced batches from this broker than its data directory holds: it was rolled back',
      );
    }
    this.#answerListener?.();
  }

  /**
   * The start gate: resolves once the peers confirmed this broker's data directory is not older
   * than what they saw from it; rejects with `STORAGE_CORRUPT` when one saw more. Dials every
   * peer over `transport` (whose `syncCounters` must be this guard) with empty frames until it
   * answered. Call before any Raft group of the broker ticks or steps a message.
   */
  confirm(transport: PeerTransport, peers: readonly number[], options: GateOptions = {}): Promise<void> {
    const others = peers.filter((p) => p !== transport.self);
    if (others.length === 0) {
      this.#startSaving();
      return Promise.resolve();
    }
    const own = this.own();
    const started = Date.now();
    return new Promise<void>((resolve, reject) => {
      let waitedForAll = false;
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (err?: Error): void => {
        done = true;
        // clearTimeout clears intervals too.
        for (const t of timers) clearTimeout(t);
        this.#answerListener = undefined;
        if (err) {
          reject(err);
          return;
        }
        this.#startSaving();
        resolve();
      };
      const decide = (): void => {
        const v = gateVerdict(own, this.#answers, others, waitedForAll);
        if (v.kind === 'refuse') finish(this.#refusal(own, v.peer, v.seen));
        else if (v.kind === 'pass') {
          this.#log.info(
            { own, answers: Object.fromEntries(this.#answers), ms: Date.now() - started },
            'peers confirmed this data directory is current',
          );
          finish();
        }
      };
      const probe = (): void => {
        for (const peer of others) if (!this.#answers.has(peer)) transport.send(peer, []);
      };
      this.#log.info({ own, peers: others }, 'checking with the peers that this data directory is current');
      this.#answerListener = decide;
      timers.push(setInterval(probe, options.probeIntervalMs ?? 100));
      timers.push(
        setTimeout(() => {
          waitedForAll = true;
          decide();
          if (!done) {
            this.#log.warn(
              { own, answers: Object.fromEntries(this.#answers), peers: others },
              'waiting for a majority of the peers to confirm this data directory is current',
            );
          }
        }, options.waitForAllMs ?? 2_000),
      );
      if (options.timeoutMs !== undefined) {
        timers.push(
          setTimeout(() => {
            const v = gateVerdict(own, this.#answers, others, true);
            const heard = v.kind === 'wait' ? `${v.answered} of the ${v.needed} needed` : 'enough';
            finish(
              new RaftlogError(
                'NO_LEADER',
                `broker ${transport.self}: could not check its data directory with its peers within ` +
                  `${options.timeoutMs} ms (heard from ${heard})`,
              ),
            );
          }, options.timeoutMs),
        );
      }
      probe();
      decide();
    });
  }

  #refusal(own: number, peer: number, seen: number): RaftlogError {
    const what =
      own === 0
        ? `data directory ${this.#dir} is new (no synced batch), but broker ${peer} saw ${seen} synced ` +
          'batches from this broker: a broker cannot rejoin under its id with an empty data directory'
        : `data directory ${this.#dir} holds ${own} synced batches, but broker ${peer} saw ${seen} from ` +
          'this broker: it was rolled back (put back from an earlier copy) or lost synced writes';
    return new RaftlogError(
      'STORAGE_CORRUPT',
      `${what}. Starting on it could lose acknowledged writes (it forgot votes and entries it ` +
        'acknowledged), so the broker refuses to start; bring back its latest data directory ' +
        '(nothing can rebuild a broker from its peers yet)',
      { details: { dir: this.#dir, peer, seen, own } },
    );
  }

  #startSaving(): void {
    this.#saving = true;
    if (this.#unsaved) this.#save();
  }

  /** Stage what was seen; make sure a batch writes it soon (unsynced: see the module notes). */
  #save(): void {
    this.#saveQueued = false;
    this.#unsaved = false;
    try {
      this.#store.putNodeMeta(SEEN_META, encodeSeen(this.#seen));
    } catch {
      // The store is closed or failed: the host stops on its own next write.
      return;
    }
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      // Writes nothing when a batch of the host took it meanwhile.
      this.#store.commit({ sync: false }).catch(() => {
        // Same: a failed write stops the host at its next commit.
      });
    }, FLUSH_MS).unref();
  }
}

/** `[peer u64, counter u64]` pairs, big-endian. Staged for every frame that raises a counter. */
function encodeSeen(seen: ReadonlyMap<number, number>): Uint8Array {
  const out = Buffer.allocUnsafe(seen.size * ENTRY_BYTES);
  let at = 0;
  for (const [peer, counter] of seen) {
    writeU64(out, peer, at);
    writeU64(out, counter, at + 8);
    at += ENTRY_BYTES;
  }
  return out;
}

/** A safe integer as a u64, big-endian, in two 32-bit halves (no BigInt made per write). */
function writeU64(out: Buffer, n: number, at: number): void {
  out.writeUInt32BE(Math.floor(n / 2 ** 32), at);
  out.writeUInt32BE(n >>> 0, at + 4);
}

function decodeSeen(bytes: Uint8Array | undefined): Map<number, number> {
  const seen = new Map<number, number>();
  if (bytes === undefined) return seen;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length % ENTRY_BYTES !== 0) {
    throw new RaftlogError('STORAGE_CORRUPT', `node record ${SEEN_META} has a length of ${buf.length} bytes`);
  }
  for (let at = 0; at < buf.length; at += ENTRY_BYTES) {
    seen.set(Number(buf.readBigUInt64BE(at)), Number(buf.readBigUInt64BE(at + 8)));
  }
  return seen;
}
