import type { Message } from '../../../src/raft/types.js';
import { MessageType } from '../../../src/raft/types.js';

/** A message with every field the scenario does not care about at its default. */
export function msg(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...fields };
}

/** Selects messages: by sender, recipient and/or type, or by any predicate. */
export type MessageFilter =
  | { readonly from?: number; readonly to?: number; readonly type?: MessageType }
  | ((m: Message) => boolean);

export function matches(filter: MessageFilter | undefined, m: Message): boolean {
  if (filter === undefined) return true;
  if (typeof filter === 'function') return filter(m);
  return (
    (filter.from === undefined || filter.from === m.from) &&
    (filter.to === undefined || filter.to === m.to) &&
    (filter.type === undefined || filter.type === m.type)
  );
}

const typeNames = new Map<number, string>(Object.entries(MessageType).map(([name, value]) => [value, name]));

/** A message's type by name (`App`, `VoteResp`...). */
export function typeName(type: MessageType): string {
  return typeNames.get(type) ?? `type${type}`;
}

/** Looks a message type up by name, for scenario scripts. */
export function typeByName(name: string): MessageType {
  const type = (MessageType as Record<string, MessageType>)[name];
  if (type === undefined) throw new Error(`unknown message type ${name}`);
  return type;
}

/** One line per message, for assertion failures: `1->2 App t3 prev=2/5 commit=4 [3/6 3/7]`. */
export function describeMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${typeName(m.type)} t${m.term}`];
  if (m.logTerm !== 0 || m.index !== 0) parts.push(`log=${m.logTerm}/${m.index}`);
  if (m.commit !== 0) parts.push(`commit=${m.commit}`);
  if (m.reject) parts.push(`reject(hint=${m.rejectHint})`);
  if (m.entries.length > 0) parts.push(`[${m.entries.map((e) => `${e.term}/${e.index}`).join(' ')}]`);
  if (m.snapshot !== undefined) parts.push(`snap=${m.snapshot.meta.term}/${m.snapshot.meta.index}`);
  return parts.join(' ');
}

const electionTypes = new Set<MessageType>([
  MessageType.PreVote,
  MessageType.PreVoteResp,
  MessageType.Vote,
  MessageType.VoteResp,
]);

/** Only the messages of an election, so a leader can win before any append is delivered. */
export const electionTraffic = (m: Message): boolean => electionTypes.has(m.type);

/** Bytes of entry data a message carries. */
export function entryBytes(m: Message): number {
  return m.entries.reduce((sum, e) => sum + e.data.length, 0);
}
