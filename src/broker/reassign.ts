import { type Logger, silentLogger } from '../logger.js';
import type { RaftHost } from '../partition/host.js';
import { Role } from '../raft/types.js';
import { encodeMetadataCommand, METADATA_GROUP, type MetadataState } from '../statemachine/metadata.js';
import type { CatchUpBytes } from './catch-up-bytes.js';
import { type MembershipGoal, type MembershipStep, nextMembershipStep } from './membership-step.js';

/** A transfer of leadership that did not happen is asked for again after this long. */
const RETRY_TRANSFER_MS = 2000;
/** A completion that did not reach the metadata is proposed again after this long. */
const RETRY_COMPLETE_MS = 1000;

/** How far a replica being added has caught up with its leader. */
export interface MoveProgress {
  readonly group: number;
  readonly target: readonly number[];
  /** The step the mover is waiting on, or taking. */
  readonly state: string;
  /**
   * Replicas being added: the entries they hold, of the leader's `lastIndex`; and where the
   * group can tell (partitions), the bytes they hold of the `totalBytes` they need.
   */
  readonly catchUp: ReadonlyArray<{
    readonly broker: number;
    readonly match: number;
    readonly lastIndex: number;
    readonly bytes?: number;
    readonly totalBytes?: number;
  }>;
}

/** The bytes a replica whose log reaches `match` holds of what it needs; `undefined` if unknown. */
export type CatchUpBytesOf = (group: number, match: number) => CatchUpBytes | undefined;

/**
 * Drives the Raft membership of a group towards a goal, on the group's leader, one change at a
 * time ({@link nextMembershipStep}). Called again and again (broker housekeeping): it looks at the
 * group's actual membership each time, so a new leader resumes a move where the old one left it.
 */
export class MembershipDriver {
  private readonly pending = new Set<number>();
  private readonly lastTransfer = new Map<number, number>();

  constructor(
    private readonly host: RaftHost,
    private readonly log: Logger = silentLogger,
  ) {}

  /** Take the next step for `group` if this broker leads it; returns what the step was. */
  step(group: number, goal: MembershipGoal, now = Date.now()): MembershipStep | undefined {
    const status = this.host.status(group);
    if (status?.role !== Role.Leader || !status.progress || this.pending.has(group)) return undefined;
    const progress = [...status.progress];
    const next = nextMembershipStep(
      {
        self: this.host.nodeId,
        confState: status.confState,
        lastIndex: status.lastIndex,
        match: new Map(progress.map(([id, pr]) => [id, pr.match])),
        next: new Map(progress.map(([id, pr]) => [id, pr.next])),
      },
      goal,
    );
    if (next.kind === 'change') {
      this.pending.add(group);
      this.log.info({ group, change: next.change }, 'membership change');
      this.host.proposeConfChange(group, next.change).then(
        () => this.pending.delete(group),
        (err: unknown) => {
          this.pending.delete(group);
          this.log.debug({ group, err }, 'membership change not made; retried');
        },
      );
    } else if (next.kind === 'transfer' && now - (this.lastTransfer.get(group) ?? 0) >= RETRY_TRANSFER_MS) {
      this.lastTransfer.set(group, now);
      this.log.info({ group, to: next.to }, 'leaving the group: transferring leadership');
      try {
        this.host.transferLeader(group, next.to);
      } catch (err) {
        this.log.debug({ group, err }, 'leadership transfer not started; retried');
      }
    }
    return next;
  }

  /** Forget groups no longer driven. */
  retain(groups: ReadonlySet<number>): void {
    for (const g of this.lastTransfer.keys()) if (!groups.has(g)) this.lastTransfer.delete(g);
  }
}

/**
 * Replica moves: for every partition with a move in the metadata whose group this broker leads,
 * step its membership towards the move's target, then propose the move's completion to the
 * metadata group (idempotent, so a new leader may propose it again).
 */
export class ReplicaMover {
  private readonly driver: MembershipDriver;
  private readonly progress = new Map<number, MoveProgress>();
  private readonly lastComplete = new Map<number, number>();

  constructor(
    private readonly host: RaftHost,
    log: Logger = silentLogger,
    private readonly catchUpBytes: CatchUpBytesOf = () => undefined,
  ) {
    this.driver = new MembershipDriver(host, log);
  }

  run(state: MetadataState, now = Date.now()): void {
    const moving = new Set<number>();
    for (const topic of Object.values(state.topics)) {
      for (const p of topic.partitions) {
        if (!p.move) continue;
        moving.add(p.group);
        const target = p.move.target;
        const step = this.driver.step(p.group, { voters: target, learners: [] }, now);
        if (step === undefined) {
          this.progress.delete(p.group);
          continue;
        }
        this.progress.set(p.group, this.describe(p.group, target, step));
        if (step.kind === 'done' && now - (this.lastComplete.get(p.group) ?? 0) >= RETRY_COMPLETE_MS) {
          this.lastComplete.set(p.group, now);
          this.host.submit(
            METADATA_GROUP,
            encodeMetadataCommand({ op: 'complete_move', group: p.group, target }),
          );
        }
      }
    }
    for (const g of [...this.progress.keys(), ...this.lastComplete.keys()]) {
      if (moving.has(g)) continue;
      this.progress.delete(g);
      this.lastComplete.delete(g);
    }
    this.driver.retain(moving);
  }

  /** Moves this broker drives (it leads their groups), with how far their new replicas are. */
  moves(): MoveProgress[] {
    return [...this.progress.values()];
  }

  private describe(group: number, target: readonly number[], step: MembershipStep): MoveProgress {
    const status = this.host.status(group);
    const voters = new Set(status?.confState.voters ?? []);
    const catchUp = target
      .filter((id) => !voters.has(id))
      .map((broker) => {
        const match = status?.progress?.get(broker)?.match ?? 0;
        const bytes = this.catchUpBytes(group, match);
        return {
          broker,
          match,
          lastIndex: status?.lastIndex ?? 0,
          ...(bytes ? { bytes: bytes.bytes, totalBytes: bytes.total } : {}),
        };
      });
    const state =
      step.kind === 'wait'
        ? step.reason
        : step.kind === 'transfer'
          ? `handing leadership to ${step.to}`
          : step.kind === 'done'
            ? 'completing'
            : 'changing membership';
    return { group, target, state, catchUp };
  }
}
