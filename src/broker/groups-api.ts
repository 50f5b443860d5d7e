/**
 * What a broker offers for consumer groups (issue 8), in the embedding API's camelCase. Requests
 * about one group are served by the leader of its coordinator (a partition of the internal topic
 * `__consumer_groups`); elsewhere they throw NOT_LEADER with `details.leader` (or NO_LEADER), like
 * produce and fetch, so front ends forward them.
 */

/** Partitions of one topic held by a member. */
export interface TopicAssignment {
  readonly topic: string;
  /** Ascending. */
  readonly partitions: readonly number[];
}

export interface JoinGroupRequest {
  /** Topics to consume (at least one). Topics that do not exist yet are assigned once they do. */
  readonly topics: readonly string[];
  /** How long the member may stay silent before it is removed. Default {@link DEFAULT_SESSION_TIMEOUT_MS}. */
  readonly sessionTimeoutMs?: number;
  /**
   * The member id, chosen by the client (a fresh random one per member) so that a retried join
   * is answered with the member the first attempt made instead of making a second one. Absent:
   * the coordinator chooses.
   */
  readonly memberId?: string;
  /**
   * The member confirms revocations ({@link HeartbeatRequest.revoked}); partitions taken from it
   * then move only once it confirmed, left or expired. Absent or false: they move at once, so
   * the old and the new owner may both read them for a while (clients that predate the barrier).
   */
  readonly confirmRevocations?: boolean;
}

/** What a heartbeat may carry. */
export interface HeartbeatRequest {
  /** The member's generation; another one is STALE_GENERATION (with the current one). */
  readonly generation?: number;
  /**
   * Partitions of {@link MemberState.revoking} the member stopped consuming (and committed what it
   * processed of), as seen in `generation` (required with it). They go to their new owners.
   */
  readonly revoked?: readonly TopicAssignment[];
}

/** A member's generation and partitions: the answer to a join or a heartbeat. */
export interface MemberState {
  readonly memberId: string;
  readonly generation: number;
  /** What the member may consume now. */
  readonly assignments: readonly TopicAssignment[];
  /** What it must stop consuming, then confirm with {@link HeartbeatRequest.revoked}. */
  readonly revoking: readonly TopicAssignment[];
}

export interface CommitOffsetsRequest {
  /** The committing member; absent for a commit from outside the group (only while it has no members). */
  readonly memberId?: string;
  /** The member's generation; an older one is STALE_GENERATION. */
  readonly generation?: number;
  readonly offsets: ReadonlyArray<{
    readonly topic: string;
    readonly partition: number;
    readonly offset: number;
  }>;
}

/** A committed offset and how far the partition's high watermark is ahead of it. */
export interface GroupOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** High watermark − offset (at least 0); null when the answering broker hosts no replica of the partition. */
  readonly lag: number | null;
}

export interface GroupSummary {
  readonly group: string;
  readonly generation: number;
  readonly members: number;
}

export interface GroupMemberDescription {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  /** What it may consume now. */
  readonly assignments: readonly TopicAssignment[];
  /** What it is told to stop consuming and has not confirmed yet. */
  readonly revoking: readonly TopicAssignment[];
}

/** One partition the group reads or has an offset for. */
export interface GroupPartitionDescription {
  readonly topic: string;
  readonly partition: number;
  /** The member that may consume it (its new owner once the previous one confirmed), or null. */
  readonly memberId: string | null;
  /** The committed offset, or null when none was committed. */
  readonly offset: number | null;
  readonly highWatermark: number | null;
  /** High watermark − committed offset (the log start when none was committed); null when unknown. */
  readonly lag: number | null;
}

export interface GroupDescription {
  readonly group: string;
  readonly generation: number;
  readonly members: readonly GroupMemberDescription[];
  readonly partitions: readonly GroupPartitionDescription[];
}

/** One row of the lag metric. */
export interface GroupLagRow {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly lag: number;
}

/** {@link GroupApi.listGroups}'s answer. */
export interface GroupListing {
  readonly groups: readonly GroupSummary[];
  /** Partitions of the internal topic (by index) not hosted here, with their replicas. */
  readonly elsewhere: ReadonlyArray<{ readonly coordinator: number; readonly replicas: readonly number[] }>;
}

export const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
export const MIN_SESSION_TIMEOUT_MS = 100;
export const MAX_SESSION_TIMEOUT_MS = 3_600_000;

export interface GroupApi {
  /** Add a member (or answer the one a retried join made); the group is created on first join. */
  joinGroup(group: string, req: JoinGroupRequest): Promise<MemberState>;
  /** Keep a member alive and take its confirmed revocations; answers its generation and partitions. */
  heartbeat(group: string, memberId: string, req?: HeartbeatRequest): Promise<MemberState>;
  /** Remove a member at once (its partitions move to the others). */
  leaveGroup(group: string, memberId: string): Promise<void>;
  commitOffsets(group: string, req: CommitOffsetsRequest): Promise<void>;
  /** Committed offsets with their lag. */
  groupOffsets(group: string): Promise<GroupOffset[]>;
  /**
   * The groups of the coordinator partitions hosted here (all, or the `coordinators` given), and
   * the coordinators hosted elsewhere with their replicas (the front end asks them).
   */
  listGroups(coordinators?: readonly number[]): Promise<GroupListing>;
  describeGroup(group: string): Promise<GroupDescription>;
  /** Lag of the groups this broker coordinates (leads), for `/metrics`; synchronous. */
  lagRows(): GroupLagRow[];
}
