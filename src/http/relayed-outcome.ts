import type { ErrorCode } from '../errors.js';
import type { ErrorBody } from './error-response.js';
import { ERROR_TABLE, statusOf } from './error-table.js';
import type { ForwardedResponse } from './forwarder.js';
import { formatOfContentType, parseBody } from './media.js';
import type { BatchOutcome } from './produce-routing.js';
import { isCount } from './validate.js';

/**
 * The outcome of a partition batch that the leader wrote for us: its answer to
 * `POST /v1/topics/{topic}/partitions/{p}/records`, either the base offset or the leader's error
 * body, passed on unchanged. Throws when the answer is neither (the forward then counts as failed).
 */
export function relayedBatchOutcome(res: ForwardedResponse): BatchOutcome {
  const format = formatOfContentType(res.contentType);
  if (format === undefined) throw new Error(`leader answered with content type ${res.contentType}`);
  const body = parseBody(format, res.body).value as Record<string, unknown> | null;
  if (res.status === 200 && isCount(body?.base_offset)) return { baseOffset: body.base_offset };
  const code = body?.code;
  if (
    typeof code === 'string' &&
    Object.hasOwn(ERROR_TABLE, code) &&
    body?.error_code === ERROR_TABLE[code as ErrorCode].errorCode &&
    statusOf(body.error_code) === res.status
  ) {
    return { error: { status: res.status, body: body as unknown as ErrorBody, unexpected: false } };
  }
  throw new Error(`leader answered ${res.status} with an unexpected body`);
}
