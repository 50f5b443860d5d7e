import { describe, expect, it } from 'vitest';
import { classifyAppend } from '../../src/jepsen/workload.js';

const error = (status: number, code: string) => ({
  status,
  body: { error_code: status * 100 + 1, code, message: '', retriable: true },
});

describe('classifyAppend: only answers that guarantee nothing was written are definite failures', () => {
  it('200 with an offset is ok, duplicates included', () => {
    expect(
      classifyAppend({ status: 200, body: { partition: 0, base_offset: 7, last_offset: 7 } }, false),
    ).toEqual({
      kind: 'ok',
      offset: 7,
      duplicate: false,
    });
    expect(classifyAppend({ status: 200, body: { base_offset: 3, duplicate: true } }, true)).toMatchObject({
      duplicate: true,
    });
  });

  it('validation and producer errors are definite', () => {
    expect(classifyAppend(error(400, 'INVALID_REQUEST'), false).kind).toBe('fail');
    expect(classifyAppend(error(409, 'OUT_OF_ORDER_SEQUENCE'), false).kind).toBe('fail');
  });

  it('NO_LEADER is definite: refused before proposing, relayed or not', () => {
    expect(classifyAppend(error(503, 'NO_LEADER'), false).kind).toBe('fail');
  });

  it('NOT_LEADER is definite only when the broker could not have forwarded the request', () => {
    expect(classifyAppend(error(503, 'NOT_LEADER'), true).kind).toBe('fail');
    expect(classifyAppend(error(503, 'NOT_LEADER'), false).kind).toBe('info');
  });

  it('COMMIT_TIMEOUT, other 5xx, 408 and unparseable answers are indeterminate', () => {
    expect(classifyAppend(error(504, 'COMMIT_TIMEOUT'), true).kind).toBe('info');
    expect(classifyAppend(error(500, 'INTERNAL_ERROR'), true).kind).toBe('info');
    expect(classifyAppend(error(408, 'REQUEST_TIMEOUT'), true).kind).toBe('info');
    expect(classifyAppend({ status: 200, body: undefined }, true).kind).toBe('info');
  });
});
