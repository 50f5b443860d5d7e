import type { BrokerApi } from '../broker/api.js';
import { isErrorCode } from '../errors.js';
import { isCount } from './validate.js';

/** When a request that failed with `err` should be sent on to the leader, and where. */

/** A leader to forward to. */
export interface ForwardTarget {
  readonly leaderId: number;
  readonly url: string;
}

/**
 * The leader to forward to: only for NOT_LEADER naming a leader other than this broker whose URL
 * is known, and only for requests that were not forwarded already. Undefined otherwise.
 */
export function forwardTarget(
  err: unknown,
  broker: BrokerApi,
  alreadyForwarded: boolean,
): ForwardTarget | undefined {
  if (alreadyForwarded || !isErrorCode(err, 'NOT_LEADER')) return undefined;
  const leaderId = err.details.leader;
  if (!isCount(leaderId) || leaderId === broker.id) return undefined;
  const url = broker.brokerUrl(leaderId);
  return url === undefined ? undefined : { leaderId, url };
}
