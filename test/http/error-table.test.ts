import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, RaftlogError } from '../../src/errors.js';
import { ERROR_TABLE, statusOf } from '../../src/http/error-table.js';
import { FakeBroker } from './fake-broker.js';
import { call, serverPool } from './harness.js';

const start = serverPool();

/** The rows of the "Codes" table of docs/errors.md. */
function documentedCodes(): Map<string, { errorCode: number; status: number; retriable: boolean }> {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, { errorCode: number; status: number; retriable: boolean }>();
  for (const m of doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d{5})\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|/gm)) {
    rows.set(m[1]!, { errorCode: Number(m[2]), status: Number(m[3]), retriable: m[4] === 'yes' });
  }
  return rows;
}

describe('the error table', () => {
  it('maps every code of src/errors.ts and the HTTP-only codes, nothing else', () => {
    expect(Object.keys(ERROR_TABLE).sort()).toEqual([...ErrorCodes].sort());
  });

  it('gives five-digit error_codes whose status is an HTTP error status', () => {
    for (const { errorCode } of Object.values(ERROR_TABLE)) {
      expect(errorCode).toBeGreaterThanOrEqual(40000);
      expect(errorCode).toBeLessThan(60000);
      expect([400, 404, 405, 408, 409, 413, 415, 416, 431, 500, 503, 504]).toContain(statusOf(errorCode));
    }
  });

  it("keeps the contract's numbers", () => {
    const contract = {
      INVALID_REQUEST: 40001,
      TOPIC_NOT_FOUND: 40401,
      PARTITION_NOT_FOUND: 40402,
      TOPIC_EXISTS: 40901,
      PRODUCER_FENCED: 40902,
      OUT_OF_ORDER_SEQUENCE: 40902,
      RECORD_TOO_LARGE: 41301,
      UNSUPPORTED_MEDIA_TYPE: 41501,
      OFFSET_OUT_OF_RANGE: 41601,
      NOT_LEADER: 50301,
      NO_LEADER: 50302,
      COMMIT_TIMEOUT: 50401,
    } as const;
    for (const [code, errorCode] of Object.entries(contract)) {
      expect(ERROR_TABLE[code as keyof typeof contract].errorCode).toBe(errorCode);
    }
  });

  it('is documented, row for row, in docs/errors.md', () => {
    const documented = documentedCodes();
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_TABLE).sort());
    for (const [code, { errorCode, retriable }] of Object.entries(ERROR_TABLE)) {
      expect(documented.get(code)).toEqual({ errorCode, status: statusOf(errorCode), retriable });
    }
  });
});

describe('errors over HTTP', () => {
  it.each(ErrorCodes)('a broker error %s is answered by the table', async (code) => {
    const { url, broker } = await start();
    broker.fault = () => {
      throw new RaftlogError(code, `failed with ${code}`);
    };
    const res = await call(url, 'GET', '/v1/topics/t');
    const { errorCode, retriable } = ERROR_TABLE[code];
    expect(res.status).toBe(statusOf(errorCode));
    expect(res.body).toEqual({ error_code: errorCode, code, message: `failed with ${code}`, retriable });
  });

  it.each([
    ['an Error', new Error('secret path /var/lib/raftlog')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'secret')")],
    ['a string', 'secret'],
  ])(
    '%s thrown by the broker is 500 INTERNAL_ERROR with a generic message and no stack',
    async (_what, thrown) => {
      const { url, broker } = await start();
      broker.fault = () => {
        throw thrown;
      };
      const res = await call(url, 'GET', '/v1/topics');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        error_code: 50000,
        code: 'INTERNAL_ERROR',
        message: 'internal error',
        retriable: false,
      });
    },
  );

  it('logs an unexpected error, with the error, to the injected logger', async () => {
    const logged: Array<[object, string]> = [];
    const record = (obj: object, msg: string) => logged.push([obj, msg]);
    const logger = { debug: () => {}, info: record, warn: record, error: record };
    const { url, broker } = await start(new FakeBroker(), { logger });
    const thrown = new Error('disk on fire');
    broker.fault = () => {
      throw thrown;
    };
    expect((await call(url, 'GET', '/v1/topics')).status).toBe(500);
    expect(logged).toEqual([
      [{ err: thrown, method: 'GET', url: '/v1/topics' }, 'unexpected error answering a request'],
    ]);
  });

  it('shows only listed facts of an error, never its other details', async () => {
    const { url, broker } = await start();
    broker.fault = () => {
      throw new RaftlogError('OFFSET_OUT_OF_RANGE', 'out', {
        details: { log_start_offset: 5, highWatermark: 9, path: '/secret', groupId: 3 },
      });
    };
    const res = await call(url, 'GET', '/v1/topics');
    expect(res.body).toEqual({
      error_code: 41601,
      code: 'OFFSET_OUT_OF_RANGE',
      message: 'out',
      retriable: false,
      log_start_offset: 5,
      high_watermark: 9,
    });
  });
});
