import type {
  CommitOffsetsRequest,
  GroupApi,
  GroupDescription,
  GroupOffset,
  GroupSummary,
  HeartbeatRequest,
  MemberState,
  TopicAssignment,
} from '../broker/groups-api.js';
import { MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS } from '../broker/groups-api.js';
import { RaftlogError } from '../errors.js';
import { FORWARDED_HEADER } from './forwarder.js';
import { JSON_TYPE, type ParsedBody } from './media.js';
import type { RouteContext, RouteDef, RouteRequest } from './routes.js';
import { checkCount, checkObject, checkQuery, checkTopicName, invalid, parseCount } from './validate.js';

/**
 * The consumer-group routes of issue 8. Requests about one group are served by its coordinator's
 * leader; elsewhere the broker throws NOT_LEADER and the server forwards (see `server.ts`).
 */

/** Most topics one member may subscribe to, and most offsets one commit may carry. */
const MAX_TOPICS = 1000;
const MAX_OFFSETS = 100_000;

const GROUP_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const MEMBER_ID = /^[a-zA-Z0-9._-]{1,128}$/;

type Params = Record<string, string>;

function groupParam(req: RouteRequest): string {
  const group = (req.params as Params).group ?? '';
  if (!GROUP_NAME.test(group) || group === '.' || group === '..') {
    throw invalid('group names are 1 to 249 characters of [a-zA-Z0-9._-], and not "." or ".."');
  }
  return group;
}

function memberParam(req: RouteRequest): string {
  const member = (req.params as Params).member ?? '';
  if (!MEMBER_ID.test(member)) throw invalid('member ids are 1 to 128 characters of [a-zA-Z0-9._-]');
  return member;
}

/** The body's value, or undefined when the request had none. */
function optionalBody(req: RouteRequest): unknown {
  return (req.body as ParsedBody | undefined)?.value;
}

function requiredBody(req: RouteRequest): unknown {
  const body = optionalBody(req);
  if (body === undefined) throw invalid('a JSON or msgpack body is required');
  return body;
}

function checkMemberId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !MEMBER_ID.test(value)) {
    throw invalid(`${field} must be 1 to 128 characters of [a-zA-Z0-9._-]`);
  }
  return value;
}

function parseJoin(body: unknown) {
  const b = checkObject('body', body, ['topics', 'session_timeout_ms', 'member_id', 'confirm_revocations']);
  if (!Array.isArray(b.topics) || b.topics.length === 0 || b.topics.length > MAX_TOPICS) {
    throw invalid(`topics must be an array of 1 to ${MAX_TOPICS} topic names`);
  }
  const topics = b.topics.map((t) => checkTopicName(t));
  if (b.confirm_revocations !== undefined && typeof b.confirm_revocations !== 'boolean') {
    throw invalid('confirm_revocations must be true or false');
  }
  return {
    topics,
    ...(b.member_id === undefined ? {} : { memberId: checkMemberId('member_id', b.member_id) }),
    ...(b.confirm_revocations === true ? { confirmRevocations: true } : {}),
    ...(b.session_timeout_ms === undefined
      ? {}
      : {
          sessionTimeoutMs: checkCount('session_timeout_ms', b.session_timeout_ms, {
            min: MIN_SESSION_TIMEOUT_MS,
            max: MAX_SESSION_TIMEOUT_MS,
          }),
        }),
  };
}

function parseCommit(body: unknown): CommitOffsetsRequest {
  const b = checkObject('body', body, ['member_id', 'generation', 'offsets']);
  if (b.member_id !== undefined) checkMemberId('member_id', b.member_id);
  if (b.generation !== undefined && b.member_id === undefined) {
    throw invalid('generation is only meaningful with member_id');
  }
  if (!Array.isArray(b.offsets) || b.offsets.length === 0 || b.offsets.length > MAX_OFFSETS) {
    throw invalid(`offsets must be an array of 1 to ${MAX_OFFSETS} entries`);
  }
  const seen = new Set<string>();
  const offsets = b.offsets.map((o, i) => {
    const e = checkObject(`offsets[${i}]`, o, ['topic', 'partition', 'offset']);
    const topic = checkTopicName(e.topic);
    const partition = checkCount(`offsets[${i}].partition`, e.partition);
    const key = `${topic}\0${partition}`;
    if (seen.has(key)) throw invalid(`offsets[${i}] repeats ${topic}/${partition}`);
    seen.add(key);
    return { topic, partition, offset: checkCount(`offsets[${i}].offset`, e.offset) };
  });
  return {
    offsets,
    ...(b.member_id === undefined ? {} : { memberId: b.member_id as string }),
    ...(b.generation === undefined ? {} : { generation: checkCount('generation', b.generation) }),
  };
}

/** `{"generation"?, "revoked"?: [{"topic","partitions"}]}`; `revoked` needs `generation`. */
function parseHeartbeat(body: unknown): HeartbeatRequest {
  if (body === undefined) return {};
  const b = checkObject('body', body, ['generation', 'revoked']);
  const generation = b.generation === undefined ? undefined : checkCount('generation', b.generation);
  let revoked: HeartbeatRequest['revoked'];
  if (b.revoked !== undefined) {
    if (!Array.isArray(b.revoked) || b.revoked.length > MAX_TOPICS) {
      throw invalid(`revoked must be an array of at most ${MAX_TOPICS} {"topic","partitions"}`);
    }
    if (generation === undefined) throw invalid('revoked needs the generation it was seen in');
    let count = 0;
    revoked = b.revoked.map((a, i) => {
      const e = checkObject(`revoked[${i}]`, a, ['topic', 'partitions']);
      count += Array.isArray(e.partitions) ? e.partitions.length : 0;
      if (!Array.isArray(e.partitions) || count > MAX_OFFSETS) {
        throw invalid(
          `revoked[${i}].partitions must be an array of partitions (${MAX_OFFSETS} in all at most)`,
        );
      }
      return {
        topic: checkTopicName(e.topic),
        partitions: e.partitions.map((p, j) => checkCount(`revoked[${i}].partitions[${j}]`, p)),
      };
    });
  }
  return {
    ...(generation === undefined ? {} : { generation }),
    ...(revoked === undefined ? {} : { revoked }),
  };
}

function assignmentsView(list: readonly TopicAssignment[]) {
  return list.map((a) => ({ topic: a.topic, partitions: a.partitions }));
}

/** `POST /v1/groups/{group}/members` and the heartbeat. */
export function memberView(m: MemberState) {
  return {
    member_id: m.memberId,
    generation: m.generation,
    assignments: assignmentsView(m.assignments),
    revoking: assignmentsView(m.revoking),
  };
}

/** `GET /v1/groups/{group}/offsets`. */
export function offsetsView(offsets: readonly GroupOffset[]) {
  return {
    offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, lag: o.lag })),
  };
}

/** `GET /v1/groups`. */
export function groupListView(groups: readonly GroupSummary[]) {
  return { groups: groups.map((g) => ({ group: g.group, generation: g.generation, members: g.members })) };
}

/** `GET /v1/groups/{group}`. */
export function groupView(d: GroupDescription) {
  return {
    group: d.group,
    generation: d.generation,
    members: d.members.map((m) => ({
      member_id: m.memberId,
      topics: m.topics,
      session_timeout_ms: m.sessionTimeoutMs,
      assignments: assignmentsView(m.assignments),
      revoking: assignmentsView(m.revoking),
    })),
    partitions: d.partitions.map((p) => ({
      topic: p.topic,
      partition: p.partition,
      member_id: p.memberId,
      offset: p.offset,
      high_watermark: p.highWatermark,
      lag: p.lag,
    })),
  };
}

/** The group routes, bound to `ctx`. */
export function buildGroupRoutes(ctx: RouteContext): RouteDef[] {
  const groups = (): GroupApi => {
    const g = ctx.broker.groups;
    if (g === undefined)
      throw new RaftlogError('ROUTE_NOT_FOUND', 'this broker does not serve consumer groups');
    return g;
  };
  /** The groups of one coordinator hosted on other brokers: its replicas are asked in turn. */
  async function askElsewhere(coordinator: number, replicas: readonly number[]): Promise<GroupSummary[]> {
    for (const id of replicas) {
      const url = id === ctx.broker.id ? undefined : ctx.brokerUrl(id);
      if (url === undefined) continue;
      try {
        const res = await ctx.forwarder.forward({
          baseUrl: url,
          method: 'GET',
          pathAndQuery: `/v1/groups?coordinators=${coordinator}`,
          accept: JSON_TYPE,
        });
        if (res.status !== 200) continue;
        const body = JSON.parse(res.body.toString('utf8')) as { groups: GroupSummary[] };
        ctx.metrics.countForward('list_groups', 'ok');
        return body.groups.map((g) => ({ group: g.group, generation: g.generation, members: g.members }));
      } catch {
        ctx.metrics.countForward('list_groups', 'failed');
      }
    }
    throw new RaftlogError('NO_LEADER', `no replica of group coordinator ${coordinator} answered`);
  }

  return [
    {
      method: 'GET',
      url: '/v1/groups',
      operation: 'list_groups',
      async handle(req) {
        // `coordinators` (internal): list only these partitions of the internal topic.
        const q = checkQuery(req.query, ['coordinators']);
        const only = q.coordinators?.split(',').map((c) => parseCount('coordinators', c, { max: 100_000 }));
        const listing = await groups().listGroups(only);
        const all = [...listing.groups];
        if (listing.elsewhere.length > 0) {
          if (req.headers[FORWARDED_HEADER] !== undefined) {
            throw new RaftlogError('NO_LEADER', 'a coordinator asked for is not hosted here');
          }
          const remote = await Promise.all(
            listing.elsewhere.map((e) => askElsewhere(e.coordinator, e.replicas)),
          );
          for (const list of remote) all.push(...list);
          all.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
        }
        return { status: 200, body: groupListView(all) };
      },
    },
    {
      method: 'GET',
      url: '/v1/groups/:group',
      operation: 'describe_group',
      async handle(req) {
        checkQuery(req.query, []);
        return { status: 200, body: groupView(await groups().describeGroup(groupParam(req))) };
      },
    },
    {
      method: 'POST',
      url: '/v1/groups/:group/members',
      operation: 'join_group',
      async handle(req) {
        checkQuery(req.query, []);
        const group = groupParam(req);
        return {
          status: 200,
          body: memberView(await groups().joinGroup(group, parseJoin(requiredBody(req)))),
        };
      },
    },
    {
      method: 'POST',
      url: '/v1/groups/:group/members/:member/heartbeat',
      operation: 'heartbeat',
      async handle(req) {
        checkQuery(req.query, []);
        const group = groupParam(req);
        const member = memberParam(req);
        const hb = parseHeartbeat(optionalBody(req));
        return { status: 200, body: memberView(await groups().heartbeat(group, member, hb)) };
      },
    },
    {
      method: 'DELETE',
      url: '/v1/groups/:group/members/:member',
      operation: 'leave_group',
      async handle(req) {
        checkQuery(req.query, []);
        await groups().leaveGroup(groupParam(req), memberParam(req));
        return { status: 204 };
      },
    },
    {
      method: 'PUT',
      url: '/v1/groups/:group/offsets',
      operation: 'commit_offsets',
      async handle(req) {
        checkQuery(req.query, []);
        const group = groupParam(req);
        await groups().commitOffsets(group, parseCommit(requiredBody(req)));
        return { status: 204 };
      },
    },
    {
      method: 'GET',
      url: '/v1/groups/:group/offsets',
      operation: 'group_offsets',
      async handle(req) {
        checkQuery(req.query, []);
        return { status: 200, body: offsetsView(await groups().groupOffsets(groupParam(req))) };
      },
    },
  ];
}
