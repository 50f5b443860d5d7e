import { randomUUID } from 'node:crypto';
import type { FetchResult } from '../broker/api.js';
import type { MemberState, TopicAssignment } from '../broker/groups-api.js';
import { isErrorCode, RaftlogError } from '../errors.js';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import type { RaftlogClient } from './client.js';
import type { ConsumedRecord } from './consumer.js';
import { RaftlogClientError } from './errors.js';
import { byTopic, checkGroup, groupOffsets, groupPath, memberFromWire } from './groups.js';
import { checkCount, checkTopic } from './validate.js';

/** A partition of a topic. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Options of {@link GroupConsumer}. */
export interface GroupConsumerOptions {
  readonly group: string;
  /** Topics to consume (at least one). */
  readonly topics: readonly string[];
  /** How long the coordinator waits for a heartbeat before it gives this member's partitions away. Default 10 s. */
  readonly sessionTimeoutMs?: number;
  /** Time between heartbeats. Default a third of the session timeout. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Commit processed records automatically (default true): a record counts as processed once the
   * loop that received it asks for the next one. With false, call {@link GroupConsumer.commit}.
   */
  readonly autoCommit?: boolean;
  /** Most time between automatic commits while there is progress. Default 1000 ms. */
  readonly autoCommitIntervalMs?: number;
  /** Where to start on a partition the group has no committed offset for. Default `'earliest'`. */
  readonly resetOffset?: 'earliest' | 'latest';
  readonly maxRecords?: number;
  readonly maxBytes?: number;
  /** How long one long poll waits at the end of a partition. Default 2000 ms. */
  readonly pollTimeoutMs?: number;
  /**
   * End the iteration once every assigned partition has been read up to its high watermark
   * (as of its last fetch), instead of waiting for new records. Default false.
   */
  readonly untilEnd?: boolean;
  /**
   * Called (and awaited) when partitions are taken away: after their fetches stopped and (with
   * auto commit) what was processed of them was committed, before the group is told they are
   * free, so a commit made here counts. Also called for partitions lost because no heartbeat got
   * through for a whole session (then the group may have given them away already; an error
   * thrown then is ignored).
   */
  readonly onRevoked?: (partitions: readonly TopicPartition[]) => void | Promise<void>;
  /** Called (and awaited) when partitions are given to this member, before their first record. */
  readonly onAssigned?: (partitions: readonly TopicPartition[]) => void | Promise<void>;
}

/** Progress on one partition this member consumes. */
interface Active {
  readonly tp: TopicPartition;
  /** Next offset to fetch. */
  position: number;
  /** After the last record handed out by the iterator. */
  delivered: number;
  /** After the last record whose processing finished (the loop asked for the next one). */
  processed: number;
  /** The offset last committed (or read from the group); commits only move past it. */
  committed: number;
  /** Aborts this partition's fetch in flight. */
  readonly abort: AbortController;
}

type Poll =
  | { readonly key: string; readonly result: FetchResult }
  | { readonly key: string; readonly error: unknown };

const key = (tp: TopicPartition) => `${tp.topic}\0${tp.partition}`;
const BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 1000 };

/**
 * A member of a consumer group, read with `for await (const record of consumer)`. Between groups
 * every group sees every record; within a group each partition is read by one member at a time.
 * The consumer joins the group, heartbeats in the background, fetches the partitions the group
 * assigns it from their committed offsets, and follows rebalances: a heartbeat answering another
 * assignment revokes partitions ({@link GroupConsumerOptions.onRevoked}) and starts new ones
 * ({@link GroupConsumerOptions.onAssigned}).
 *
 * Rebalances have a barrier: a revoked partition stops being fetched once the record in hand is
 * processed, what was processed of it is committed (auto commit), `onRevoked` runs, and only then
 * does the consumer confirm it to the group, which gives it to its new owner. A consumer whose
 * heartbeats fail for a whole session stops reading (the group expires it about then).
 *
 * Delivery is at least once: offsets are committed only for records that were processed (auto
 * commit) or handed out before {@link commit} (manual), and only while this member owns the
 * partition in the current generation, so a record is never skipped; after a rebalance or a
 * crash the next owner reads again from the last commit.
 *
 * {@link close} commits what was processed and leaves the group, so its partitions move at once.
 */
export class GroupConsumer implements AsyncIterable<ConsumedRecord> {
  readonly group: string;
  readonly #client: RaftlogClient;
  readonly #topics: string[];
  readonly #sessionTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #autoCommit: boolean;
  readonly #autoCommitMs: number;
  readonly #options: GroupConsumerOptions;

  #memberId: string | undefined;
  #generation = -1;
  /** The coordinator's latest word on this member's partitions. */
  #assigned = new Map<string, TopicPartition>();
  /** Partitions the iterator currently reads. */
  readonly #active = new Map<string, Active>();
  /** Revoked partitions being wound up (commit, `onRevoked`): still ours to commit. */
  readonly #revoking = new Map<string, Active>();
  /** Revoked partitions wound up, to confirm with the next heartbeat. */
  readonly #toConfirm = new Map<string, TopicPartition>();
  /** Partitions dropped when the session was lost, for `onRevoked`. */
  #lost: TopicPartition[] = [];
  /** Fires when a session's worth of time passed since the last heartbeat that got through was sent. */
  #sessionTimer: NodeJS.Timeout | undefined;
  /** Ends the session loop's pause early (a revocation to confirm); see {@link #wake}. */
  #nudge: (() => void) | undefined;
  #woken = false;
  #heartbeats: Promise<void> = Promise.resolve();
  #rebalances: Promise<void> = Promise.resolve();
  #lastCommit = 0;
  /** Resolves when the assignment changed or the consumer closed; replaced after each. */
  #changed!: Promise<void>;
  #signal!: () => void;
  #session: Promise<void> | undefined;
  #joining: Promise<void> | undefined;
  #commitChain: Promise<void> = Promise.resolve();
  #iterating = false;
  #closed = false;
  readonly #stop = new AbortController();

  constructor(client: RaftlogClient, options: GroupConsumerOptions) {
    this.#client = client;
    this.group = checkGroup(options.group);
    if (!Array.isArray(options.topics) || options.topics.length === 0) {
      throw new RaftlogError('INVALID_REQUEST', 'topics must name at least one topic');
    }
    this.#topics = options.topics.map((t) => checkTopic(t));
    this.#sessionTimeoutMs = checkCount('sessionTimeoutMs', options.sessionTimeoutMs ?? 10_000, 100);
    this.#heartbeatMs = checkCount(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs ?? Math.max(10, Math.floor(this.#sessionTimeoutMs / 3)),
      1,
    );
    this.#autoCommit = options.autoCommit ?? true;
    this.#autoCommitMs = checkCount('autoCommitIntervalMs', options.autoCommitIntervalMs ?? 1000);
    if (options.maxRecords !== undefined) checkCount('maxRecords', options.maxRecords, 1);
    if (options.maxBytes !== undefined) checkCount('maxBytes', options.maxBytes, 1);
    if (options.pollTimeoutMs !== undefined) checkCount('pollTimeoutMs', options.pollTimeoutMs);
    this.#options = options;
    this.#renewSignal();
  }

  /** This member's id in the group (undefined before it joined). */
  get memberId(): string | undefined {
    return this.#memberId;
  }

  /** The generation of the group this member last heard of (-1 before it joined). */
  get generation(): number {
    return this.#generation;
  }

  /** The partitions the iterator currently reads. */
  assignment(): TopicPartition[] {
    return [...this.#active.values()].map((a) => a.tp);
  }

  /** Join the group now (the iterator joins by itself); resolves once a member. */
  async join(): Promise<void> {
    if (this.#closed) throw new RaftlogError('INVALID_REQUEST', 'the consumer is closed');
    if (this.#memberId !== undefined) return;
    this.#joining ??= this.#join().finally(() => {
      this.#joining = undefined;
    });
    await this.#joining;
    this.#session ??= this.#sessionLoop();
  }

  /**
   * Commit the records handed out so far on the partitions this member owns (the record the
   * loop is processing included). Partitions lost to a rebalance are left to their new owner.
   */
  commit(): Promise<void> {
    return this.#commit('delivered');
  }

  /** Commit what was processed (auto-commit mode), leave the group and end the iteration. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#sessionTimer);
    this.#stop.abort(new RaftlogError('INVALID_REQUEST', 'the consumer is closed'));
    for (const a of this.#active.values()) a.abort.abort(this.#stop.signal.reason);
    this.#signal();
    await this.#session?.catch(() => {});
    if (this.#memberId !== undefined) {
      if (this.#autoCommit) await this.#commit('processed', true).catch(() => {});
      await this.#commitChain.catch(() => {});
      const member = this.#memberId;
      this.#memberId = undefined;
      await this.#client
        .request({ method: 'DELETE', path: `${groupPath(this.group)}/members/${member}` }, 'idempotent', 2)
        .catch(() => {}); // the session expires anyway
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    if (this.#iterating) throw new RaftlogError('INVALID_REQUEST', 'this consumer is already being iterated');
    this.#iterating = true;
    const polls = new Map<string, Promise<Poll>>();
    /** With `untilEnd`: partitions read up to their high watermark. */
    const ended = new Set<string>();
    const allEnded = () =>
      this.#options.untilEnd === true && [...this.#active.keys()].every((k) => ended.has(k));
    const poll = (a: Active) => {
      const o = this.#options;
      polls.set(
        key(a.tp),
        this.#client
          .fetch(a.tp.topic, a.tp.partition, {
            offset: a.position,
            signal: a.abort.signal,
            timeoutMs: o.untilEnd ? 0 : (o.pollTimeoutMs ?? 2000),
            ...(o.maxRecords === undefined ? {} : { maxRecords: o.maxRecords }),
            ...(o.maxBytes === undefined ? {} : { maxBytes: o.maxBytes }),
          })
          .then(
            (result): Poll => ({ key: key(a.tp), result }),
            (error: unknown): Poll => ({ key: key(a.tp), error }),
          ),
      );
    };
    try {
      try {
        await this.join();
      } catch (err) {
        if (this.#closed) return;
        throw err;
      }
      for (;;) {
        if (this.#closed) return;
        if (!this.#inStep()) {
          await this.#serially(async () => {
            await this.#revoke();
            await this.#assign();
          });
          for (const k of ended) if (!this.#active.has(k)) ended.delete(k);
          for (const [k, a] of this.#active) if (!polls.has(k) && !ended.has(k)) poll(a);
          for (const k of polls.keys()) if (!this.#active.has(k)) polls.delete(k);
          continue;
        }
        if (allEnded()) return;
        const changed = this.#changed.then(() => undefined);
        const answer = await Promise.race([changed, ...polls.values()]);
        if (answer === undefined) continue;
        polls.delete(answer.key);
        const a = this.#active.get(answer.key);
        if (a === undefined) continue; // revoked while in flight
        if ('error' in answer) {
          await this.#fetchFailed(a, answer.error);
          if (this.#active.get(answer.key) === a && !this.#closed) poll(a);
          continue;
        }
        for (const record of answer.result.records) {
          // A partition being revoked hands out nothing more: the sooner it is confirmed, the better.
          if (this.#active.get(answer.key) !== a || !this.#assigned.has(answer.key) || this.#closed) break;
          a.delivered = record.offset + 1;
          a.position = record.offset + 1;
          yield { ...record, topic: a.tp.topic, partition: a.tp.partition };
          a.processed = record.offset + 1;
          if (this.#autoCommit && Date.now() - this.#lastCommit >= this.#autoCommitMs) {
            // A failed automatic commit is retried with the next one; reading goes on.
            await this.#commit('processed').catch(() => {});
          }
        }
        if (this.#active.get(answer.key) !== a || !this.#assigned.has(answer.key) || this.#closed) continue;
        if (answer.result.records.length === 0) a.position = answer.result.nextOffset;
        if (this.#options.untilEnd && a.position >= answer.result.highWatermark) ended.add(answer.key);
        else poll(a);
      }
    } finally {
      for (const a of this.#active.values()) {
        a.abort.abort(new RaftlogError('INVALID_REQUEST', 'the iteration ended'));
      }
      // Partitions stay assigned; a new iteration fetches again from where this one stopped.
      for (const [k, a] of this.#active) this.#active.set(k, { ...a, abort: new AbortController() });
      this.#iterating = false;
    }
  }

  // ---- membership ----------------------------------------------------------------------------

  async #join(): Promise<void> {
    // Chosen here, so that a join retried after a lost answer finds the member it made.
    const memberId = randomUUID();
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new RaftlogError('INVALID_REQUEST', 'the consumer is closed');
      const sentAt = Date.now();
      try {
        const answer = await this.#client.request(
          {
            method: 'POST',
            path: `${groupPath(this.group)}/members`,
            body: {
              topics: this.#topics,
              session_timeout_ms: this.#sessionTimeoutMs,
              member_id: memberId,
              confirm_revocations: true,
            },
            signal: this.#stop.signal,
          },
          'idempotent',
        );
        const state = memberFromWire(answer);
        this.#memberId = state.memberId;
        this.#generation = -1;
        this.#sessionAlive(sentAt);
        this.#setAssignment(state);
        return;
      } catch (err) {
        if (this.#closed) throw err;
        if (!(err instanceof RaftlogClientError) || !err.retriable) throw err;
        await this.#pause(backoffDelay(attempt, BACKOFF));
      }
    }
  }

  /** Heartbeats until closed; rejoins when the group forgot this member. */
  async #sessionLoop(): Promise<void> {
    while (!this.#closed) {
      await this.#pause(this.#heartbeatMs, true);
      if (this.#closed) return;
      if (this.#memberId === undefined) {
        await this.#join().catch(() => {});
        continue;
      }
      await this.#heartbeat();
      // Nobody iterates: wind revoked partitions up here, so that their new owners get them.
      if (!this.#iterating && !this.#inStep()) await this.#serially(() => this.#revoke()).catch(() => {});
      if (
        this.#autoCommit &&
        Date.now() - this.#lastCommit >= this.#autoCommitMs &&
        [...this.#active.values()].some((a) => a.processed > a.committed)
      ) {
        await this.#commit('processed').catch(() => {});
      }
    }
  }

  /** One heartbeat at a time, so that answers arrive in order; it carries the revocations to confirm. */
  #heartbeat(): Promise<void> {
    const run = this.#heartbeats.then(() => this.#heartbeatNow(true));
    this.#heartbeats = run.catch(() => {});
    return run;
  }

  async #heartbeatNow(confirm: boolean): Promise<void> {
    const member = this.#memberId;
    if (member === undefined) return;
    const confirming = confirm ? [...this.#toConfirm.values()] : [];
    const sentAt = Date.now();
    try {
      const answer = await this.#client.request(
        {
          method: 'POST',
          path: `${groupPath(this.group)}/members/${member}/heartbeat`,
          ...(confirming.length === 0
            ? {}
            : { body: { generation: this.#generation, revoked: byTopic(confirming) } }),
          timeoutMs: this.#sessionTimeoutMs,
          signal: this.#stop.signal,
        },
        'idempotent',
        1,
      );
      if (this.#memberId !== member) return;
      this.#sessionAlive(sentAt);
      for (const tp of confirming) this.#toConfirm.delete(key(tp));
      this.#setAssignment(memberFromWire({ ...(answer as object), member_id: member }));
    } catch (err) {
      if (this.#closed || this.#memberId !== member) return;
      if (isErrorCode(err, 'UNKNOWN_MEMBER') || isErrorCode(err, 'GROUP_NOT_FOUND')) {
        // The session expired: everything this member had is someone else's now. Join again.
        this.#memberId = undefined;
        this.#loseAll();
      } else if (isErrorCode(err, 'STALE_GENERATION') && confirming.length > 0) {
        // The group moved on since the revocation: learn the new generation (the answer wakes
        // the session loop to confirm in it).
        await this.#heartbeatNow(false);
      }
    }
  }

  /** A heartbeat sent at `sentAt` got through: the group keeps this member until a session after it. */
  #sessionAlive(sentAt: number): void {
    clearTimeout(this.#sessionTimer);
    if (this.#closed) return;
    // Counted from the sending, which precedes the coordinator's own count: this member stops
    // reading before the group can give its partitions away.
    this.#sessionTimer = setTimeout(() => this.#loseAll(), sentAt + this.#sessionTimeoutMs - Date.now());
    this.#sessionTimer.unref();
  }

  /** Stop reading everything at once (no commit, no confirmation): the group may have moved on. */
  #loseAll(): void {
    clearTimeout(this.#sessionTimer);
    for (const [k, a] of this.#active) {
      a.abort.abort(new RaftlogError('INVALID_REQUEST', 'the session was lost'));
      this.#active.delete(k);
      this.#lost.push(a.tp);
    }
    this.#toConfirm.clear();
    this.#generation = -1;
    this.#assigned = new Map();
    this.#signal();
    // Told at once, not at the iterator's next turn (it may not iterate); errors go nowhere.
    this.#serially(() => this.#reportLost()).catch(() => {});
  }

  async #reportLost(): Promise<void> {
    if (this.#lost.length === 0) return;
    const lost = this.#lost;
    this.#lost = [];
    await this.#options.onRevoked?.(lost);
  }

  #setAssignment(state: MemberState): void {
    // Answers come in order (one heartbeat at a time); an older generation is a join's leftover.
    if (state.generation < this.#generation) return;
    this.#generation = state.generation;
    const next = new Map<string, TopicPartition>();
    for (const a of state.assignments as TopicAssignment[]) {
      for (const partition of a.partitions)
        next.set(key({ topic: a.topic, partition }), { topic: a.topic, partition });
    }
    const same = next.size === this.#assigned.size && [...next.keys()].every((k) => this.#assigned.has(k));
    this.#assigned = next;
    // Given back before it was confirmed: still ours, nothing to confirm.
    for (const k of next.keys()) this.#toConfirm.delete(k);
    // The group waits for partitions this member does not read (lost, or never started): confirm.
    const lost = new Set(this.#lost.map(key));
    for (const a of state.revoking as TopicAssignment[]) {
      for (const partition of a.partitions) {
        const k = key({ topic: a.topic, partition });
        if (!this.#active.has(k) && !this.#revoking.has(k) && !lost.has(k)) {
          this.#toConfirm.set(k, { topic: a.topic, partition });
        }
      }
    }
    if (this.#toConfirm.size > 0) this.#wake();
    if (!same) this.#signal();
  }

  /** True when the iterator reads exactly what the coordinator assigned. */
  #inStep(): boolean {
    return (
      this.#lost.length === 0 &&
      this.#active.size === this.#assigned.size &&
      [...this.#assigned.keys()].every((k) => this.#active.has(k))
    );
  }

  /** Run rebalance steps one at a time (the iterator and the session loop both take them). */
  #serially(step: () => Promise<void>): Promise<void> {
    const run = this.#rebalances.then(step);
    this.#rebalances = run.catch(() => {});
    return run;
  }

  /**
   * Wind up revoked partitions: stop fetching them, commit what was processed of them (auto
   * commit), call `onRevoked`, then have them confirmed to the group. Reports lost partitions.
   */
  async #revoke(): Promise<void> {
    await this.#reportLost();
    const revoked = [...this.#active].filter(([k]) => !this.#assigned.has(k));
    if (revoked.length === 0) return;
    const member = this.#memberId;
    for (const [k, a] of revoked) {
      a.abort.abort(new RaftlogError('INVALID_REQUEST', 'the partition was revoked'));
      this.#active.delete(k);
      this.#revoking.set(k, a);
    }
    try {
      // A failed commit is not retried here: the new owner reads again from the last commit.
      if (this.#autoCommit) await this.#commit('processed').catch(() => {});
      await this.#options.onRevoked?.(revoked.map(([, a]) => a.tp));
    } finally {
      for (const [k, a] of revoked) {
        this.#revoking.delete(k);
        if (this.#memberId === member && !this.#assigned.has(k)) this.#toConfirm.set(k, a.tp);
      }
      this.#wake();
    }
  }

  /** Start reading newly assigned partitions from their committed offsets. */
  async #assign(): Promise<void> {
    const added = [...this.#assigned].filter(([k]) => !this.#active.has(k)).map(([, tp]) => tp);
    if (added.length === 0) return;
    let starts: Map<string, number>;
    try {
      starts = await this.#startOffsets(added);
    } catch (err) {
      if (this.#closed) return;
      if (!(err instanceof RaftlogClientError) || !err.retriable) throw err;
      await this.#pause(backoffDelay(1, BACKOFF));
      return; // still out of step: the loop tries again
    }
    // The assignment may have changed while the offsets were read.
    const kept = added.filter((tp) => this.#assigned.has(key(tp)) && !this.#active.has(key(tp)));
    for (const tp of kept) {
      const start = starts.get(key(tp))!;
      this.#active.set(key(tp), {
        tp,
        position: start,
        delivered: start,
        processed: start,
        committed: start,
        abort: new AbortController(),
      });
    }
    if (kept.length > 0) await this.#options.onAssigned?.(kept);
  }

  /** Committed offsets of `partitions`, or where the reset policy says for those without one. */
  async #startOffsets(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const committed = await groupOffsets(this.#client, this.group).catch((err: unknown) => {
      if (isErrorCode(err, 'GROUP_NOT_FOUND')) return [];
      throw err;
    });
    for (const o of committed) out.set(key(o), o.offset);
    const missing = partitions.filter((tp) => !out.has(key(tp)));
    for (const topic of new Set(missing.map((tp) => tp.topic))) {
      const d = await this.#client.describeTopic(topic);
      for (const tp of missing.filter((m) => m.topic === topic)) {
        const p = d.partitions[tp.partition];
        const latest = this.#options.resetOffset === 'latest';
        out.set(key(tp), p === undefined ? 0 : latest ? p.highWatermark : p.logStartOffset);
      }
    }
    return out;
  }

  /** A fetch failed: jump into the log when out of range; back off on retriable errors. */
  async #fetchFailed(a: Active, err: unknown): Promise<void> {
    if (this.#closed || a.abort.signal.aborted) return;
    if (isErrorCode(err, 'OFFSET_OUT_OF_RANGE') && err instanceof RaftlogClientError) {
      const { log_start_offset: start, high_watermark: hw } = err.facts;
      if (start !== undefined && a.position < start) a.position = start;
      else if (hw !== undefined && a.position > hw)
        a.position = this.#options.resetOffset === 'latest' ? hw : (start ?? 0);
      return;
    }
    if (err instanceof RaftlogClientError && err.retriable) {
      // A rebalance cuts the pause short: revocations are not kept waiting.
      await Promise.race([this.#pause(backoffDelay(2, BACKOFF)), this.#changed]);
      return;
    }
    throw err;
  }

  // ---- commits -------------------------------------------------------------------------------

  /** Commit progress (`processed` or `delivered`) of the partitions owned; one commit at a time. */
  #commit(which: 'processed' | 'delivered', closing = false): Promise<void> {
    const run = this.#commitChain.then(() => this.#commitNow(which, closing));
    this.#commitChain = run.catch(() => {});
    return run;
  }

  async #commitNow(which: 'processed' | 'delivered', closing: boolean, again = true): Promise<void> {
    const member = this.#memberId;
    if (member === undefined || (this.#closed && !closing)) return;
    // Revoking partitions are still owned (until confirmed): their progress counts.
    const due = [...this.#active.values(), ...this.#revoking.values()].filter((a) => a[which] > a.committed);
    this.#lastCommit = Date.now();
    if (due.length === 0) return;
    const offsets = due.map((a) => ({ topic: a.tp.topic, partition: a.tp.partition, offset: a[which] }));
    try {
      await this.#client.request(
        {
          method: 'PUT',
          path: `${groupPath(this.group)}/offsets`,
          body: { member_id: member, generation: this.#generation, offsets },
        },
        'idempotent',
      );
      due.forEach((a, i) => {
        a.committed = Math.max(a.committed, offsets[i]!.offset);
      });
    } catch (err) {
      if (again && isErrorCode(err, 'STALE_GENERATION')) {
        // A rebalance happened: learn the new generation, then commit what is still ours.
        await this.#heartbeat();
        return this.#commitNow(which, closing, false);
      }
      if (isErrorCode(err, 'STALE_GENERATION') || isErrorCode(err, 'UNKNOWN_MEMBER')) return;
      throw err;
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  #renewSignal(): void {
    this.#changed = new Promise((resolve) => {
      this.#signal = () => {
        this.#renewSignal();
        resolve();
      };
    });
  }

  /** Wake the session loop now, or at once when it next pauses. */
  #wake(): void {
    this.#woken = true;
    this.#nudge?.();
  }

  /**
   * Wait `ms` (not keeping the process alive), or less when the consumer closes, or, when
   * `wakeable`, when {@link #wake} was called since the last wakeable pause.
   */
  #pause(ms: number, wakeable = false): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stop.signal.aborted || (wakeable && this.#woken)) {
        if (wakeable) this.#woken = false;
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        this.#stop.signal.removeEventListener('abort', done);
        if (wakeable) {
          this.#nudge = undefined;
          this.#woken = false;
        }
        resolve();
      };
      if (wakeable) this.#nudge = done;
      const timer = setTimeout(done, ms);
      timer.unref();
      this.#stop.signal.addEventListener('abort', done, { once: true });
    });
  }
}
