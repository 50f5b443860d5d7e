import fc from 'fast-check';
import { ConfChangeTransition } from '../../../src/raft/types.js';

/**
 * Where a node crashes while it carries out a `Ready` (see the order documented on `Ready`):
 * `now` crashes it at once; the others arm a crash that fires on the node's next `Ready`.
 */
export const CrashPoints = [
  'now',
  /** Writes staged but not committed: all of this Ready's persistence is lost. */
  'beforePersist',
  'afterPersist',
  'midSend',
  'afterSend',
  /** Half the committed entries applied and that progress made durable. */
  'midApply',
  'beforeAdvance',
] as const;
export type CrashPoint = (typeof CrashPoints)[number];

/** Membership changes the schedule proposes, resolved against the proposer's current membership. */
export const MembershipOps = [
  'addLearner',
  /** Add a voter: promote a learner, or add a node that is not a member. */
  'addVoter',
  'removeVoter',
  'removeLearner',
  /** Add one voter and remove another in one joint change. */
  'replaceVoter',
  /** The empty change that leaves a joint configuration. */
  'leaveJoint',
  /** Turn a voter (the leader too, when picked) into a learner. */
  'demoteVoter',
] as const;
export type MembershipOp = (typeof MembershipOps)[number];

/**
 * One step of a simulated schedule. Nodes are named by id; `pick` chooses among whatever exists
 * when the event runs (an in-flight message, a candidate member), modulo their number, so any
 * schedule is valid and shrinking keeps it valid.
 */
export type SimEvent =
  | { readonly kind: 'tick'; readonly node: number; readonly ticks: number }
  | { readonly kind: 'tickAll'; readonly ticks: number }
  | { readonly kind: 'campaign'; readonly node: number }
  | { readonly kind: 'deliver'; readonly pick: number }
  /** Deliver every message in flight when the event starts, oldest first. */
  | { readonly kind: 'deliverAll' }
  | { readonly kind: 'drop'; readonly pick: number }
  | { readonly kind: 'duplicate'; readonly pick: number }
  /** Bit `id - 1` of `sides` puts node `id` on side 1; the rest are on side 0. */
  | { readonly kind: 'partition'; readonly sides: number }
  | { readonly kind: 'heal' }
  | { readonly kind: 'crash'; readonly node: number; readonly at: CrashPoint }
  /** Crash whichever node leads the highest term now (faults aimed where they hurt most). */
  | { readonly kind: 'crashLeader'; readonly at: CrashPoint }

  /** Restart one of the nodes that are down, chosen by `pick`. */
  | { readonly kind: 'restart'; readonly pick: number }
  /** `size` picks a small, medium or large payload (to exercise the message size limits). */
  | { readonly kind: 'propose'; readonly node: number; readonly size: 0 | 1 | 2 }
  | {
      readonly kind: 'confChange';
      readonly node: number;
      readonly op: MembershipOp;
      readonly pick: number;
      readonly transition: ConfChangeTransition;
    }
  /** Ask the current leader (if any) to hand leadership to `target`. */
  | { readonly kind: 'transferLeader'; readonly target: number }
  | { readonly kind: 'compact'; readonly node: number }
  | { readonly kind: 'readIndex'; readonly node: number };

/** Settings of one simulated run. */
export interface SimSetup {
  /** Initial voters `1 .. voters`; nodes `voters + 1 .. voters + spares` start empty. */
  readonly voters: number;
  readonly spares: number;
  /** Seed of the nodes' random election timeouts. */
  readonly seed: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
}

/** The generated input of one run: its setup and its schedule of events. */
export interface SimCase {
  readonly setup: SimSetup;
  readonly events: readonly SimEvent[];
}

/** Events over nodes `1 .. nodes`, weighted so that schedules make progress between faults. */
export function eventArbitrary(nodes: number): fc.Arbitrary<SimEvent> {
  const node = fc.integer({ min: 1, max: nodes });
  const pick = fc.nat({ max: 1_000 });
  return fc.oneof(
    { weight: 25, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick }) },
    { weight: 12, arbitrary: fc.record({ kind: fc.constant('deliverAll' as const) }) },
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('tick' as const),
        node,
        ticks: fc.integer({ min: 1, max: 5 }),
      }),
    },
    {
      weight: 16,
      arbitrary: fc.record({ kind: fc.constant('tickAll' as const), ticks: fc.integer({ min: 1, max: 5 }) }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('campaign' as const), node }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('partition' as const),
        sides: fc.nat({ max: 2 ** nodes - 1 }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('heal' as const) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('crash' as const),
        node,
        at: fc.constantFrom(...CrashPoints),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('crashLeader' as const),
        at: fc.constantFrom(...CrashPoints),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('restart' as const), pick }) },
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('propose' as const),
        node,
        size: fc.constantFrom(0 as const, 1 as const, 2 as const),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('confChange' as const),
        node,
        op: fc.constantFrom(...MembershipOps),
        pick,
        transition: fc.constantFrom(
          ConfChangeTransition.Auto,
          ConfChangeTransition.JointImplicit,
          ConfChangeTransition.JointExplicit,
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('transferLeader' as const), target: node }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), node }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('readIndex' as const), node }) },
  );
}

/** Runs of a cluster of `voters` initial voters and two spare nodes that may join it. */
export function simCaseArbitrary(voters: number, maxEvents: number): fc.Arbitrary<SimCase> {
  const spares = 2;
  return fc.record({
    setup: fc.record({
      voters: fc.constant(voters),
      spares: fc.constant(spares),
      seed: fc.integer(),
      preVote: fc.boolean(),
      checkQuorum: fc.boolean(),
    }),
    events: fc.array(eventArbitrary(voters + spares), { minLength: 50, maxLength: maxEvents, size: 'max' }),
  });
}
