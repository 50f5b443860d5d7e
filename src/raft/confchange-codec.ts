import { Packr } from 'msgpackr';
import { RaftlogError } from '../errors.js';
import { type ConfChange, type ConfChangeSingle, ConfChangeTransition, ConfChangeType } from './types.js';

const packr = new Packr({ useRecords: false });

const transitions = new Set<number>(Object.values(ConfChangeTransition));
const changeTypes = new Set<number>(Object.values(ConfChangeType));

/** Encode a membership change as the data of a ConfChange entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const wire: [number, number[], Uint8Array?] = [
    cc.transition,
    cc.changes.flatMap((c) => [c.type, c.nodeId]),
  ];
  if (cc.context !== undefined) wire.push(cc.context);
  return packr.pack(wire);
}

/** Decode a ConfChange entry's data; throws `INVALID_REQUEST` on anything malformed. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let wire: unknown;
  try {
    wire = packr.unpack(data);
  } catch (cause) {
    throw new RaftlogError('INVALID_REQUEST', 'conf change: undecodable', { cause });
  }
  if (!Array.isArray(wire) || wire.length < 2 || wire.length > 3) {
    throw new RaftlogError('INVALID_REQUEST', 'conf change: not a [transition, changes, context?] tuple');
  }
  const [transition, flat, context] = wire as [unknown, unknown, unknown];
  if (typeof transition !== 'number' || !transitions.has(transition)) {
    throw new RaftlogError('INVALID_REQUEST', 'conf change: unknown transition');
  }
  if (!Array.isArray(flat) || flat.length % 2 !== 0) {
    throw new RaftlogError('INVALID_REQUEST', 'conf change: malformed change list');
  }
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const type = flat[i];
    const nodeId = flat[i + 1];
    if (typeof type !== 'number' || !changeTypes.has(type)) {
      throw new RaftlogError('INVALID_REQUEST', 'conf change: unknown change type');
    }
    if (typeof nodeId !== 'number' || !Number.isSafeInteger(nodeId) || nodeId <= 0) {
      throw new RaftlogError('INVALID_REQUEST', 'conf change: invalid node id');
    }
    changes.push({ type: type as ConfChangeType, nodeId });
  }
  if (context !== undefined && !(context instanceof Uint8Array)) {
    throw new RaftlogError('INVALID_REQUEST', 'conf change: context is not bytes');
  }
  const cc: ConfChange = { transition: transition as ConfChangeTransition, changes };
  return context === undefined ? cc : { ...cc, context };
}
