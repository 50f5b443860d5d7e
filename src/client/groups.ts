import type {
  GroupDescription,
  GroupOffset,
  GroupSummary,
  MemberState,
  TopicAssignment,
} from '../broker/groups-api.js';
import { RaftlogError } from '../errors.js';
import type { RaftlogClient } from './client.js';

/**
 * The consumer-group calls of issue 8's HTTP API, and their snake_case answers as the embedding
 * API's camelCase types. Any broker takes them (it forwards to the group's coordinator).
 */

// biome-ignore lint/suspicious/noExplicitAny: wire bodies are read field by field.
type Wire = any;

const GROUP_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** `group` if it is a valid group name, else INVALID_REQUEST. */
export function checkGroup(group: string): string {
  if (typeof group !== 'string' || !GROUP_NAME.test(group) || group === '.' || group === '..') {
    throw new RaftlogError('INVALID_REQUEST', 'group names are 1 to 249 characters of [a-zA-Z0-9._-]');
  }
  return group;
}

export function groupPath(group: string): string {
  return `/v1/groups/${encodeURIComponent(checkGroup(group))}`;
}

function assignmentsFromWire(list: Wire): TopicAssignment[] {
  return ((list ?? []) as Wire[]).map((a) => ({ topic: a.topic, partitions: a.partitions }));
}

/** Partitions grouped by topic, as the wire carries them. */
export function byTopic(partitions: readonly { topic: string; partition: number }[]): TopicAssignment[] {
  const out = new Map<string, number[]>();
  for (const tp of partitions) out.set(tp.topic, [...(out.get(tp.topic) ?? []), tp.partition]);
  return [...out].map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a - b) }));
}

export function memberFromWire(m: Wire): MemberState {
  return {
    memberId: m.member_id,
    generation: m.generation,
    assignments: assignmentsFromWire(m.assignments),
    revoking: assignmentsFromWire(m.revoking),
  };
}

export function offsetsFromWire(body: Wire): GroupOffset[] {
  return (body.offsets as Wire[]).map((o) => ({
    topic: o.topic,
    partition: o.partition,
    offset: o.offset,
    lag: o.lag ?? null,
  }));
}

export async function listGroups(client: RaftlogClient): Promise<GroupSummary[]> {
  const body = (await client.request({ method: 'GET', path: '/v1/groups' }, 'idempotent')) as Wire;
  return (body.groups as Wire[]).map((g) => ({
    group: g.group,
    generation: g.generation,
    members: g.members,
  }));
}

export async function describeGroup(client: RaftlogClient, group: string): Promise<GroupDescription> {
  const d = (await client.request({ method: 'GET', path: groupPath(group) }, 'idempotent')) as Wire;
  return {
    group: d.group,
    generation: d.generation,
    members: (d.members as Wire[]).map((m) => ({
      memberId: m.member_id,
      topics: m.topics,
      sessionTimeoutMs: m.session_timeout_ms,
      assignments: assignmentsFromWire(m.assignments),
      revoking: assignmentsFromWire(m.revoking),
    })),
    partitions: (d.partitions as Wire[]).map((p) => ({
      topic: p.topic,
      partition: p.partition,
      memberId: p.member_id ?? null,
      offset: p.offset ?? null,
      highWatermark: p.high_watermark ?? null,
      lag: p.lag ?? null,
    })),
  };
}

export async function groupOffsets(client: RaftlogClient, group: string): Promise<GroupOffset[]> {
  return offsetsFromWire(
    await client.request({ method: 'GET', path: `${groupPath(group)}/offsets` }, 'idempotent'),
  );
}
