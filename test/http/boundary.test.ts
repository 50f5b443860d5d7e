import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isErrorCode } from '../../src/errors.js';
import { responseFormat } from '../../src/http/media.js';
import { checkTopicName, parseCount } from '../../src/http/validate.js';

function rejects(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (err) {
    return isErrorCode(err, 'INVALID_REQUEST');
  }
}

describe('parseCount (offsets, partitions and limits in URLs)', () => {
  it('reads every safe non-negative integer written in decimal', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (n) => parseCount('offset', String(n)) === n));
  });

  it('rejects every string that is not plain decimal digits', () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !/^[0-9]+$/.test(s)),
        (s) => rejects(() => parseCount('offset', s)),
      ),
    );
  });

  it.each(['-1', '1.5', '1e400', '1e3', '+1', ' 1', '0x10', '9007199254740992', '', 'NaN', 'Infinity'])(
    'rejects %j',
    (s) => {
      expect(rejects(() => parseCount('offset', s))).toBe(true);
    },
  );

  it('applies the range', () => {
    expect(rejects(() => parseCount('max_records', '0', { min: 1 }))).toBe(true);
    expect(rejects(() => parseCount('timeout_ms', '60001', { max: 60_000 }))).toBe(true);
    expect(parseCount('timeout_ms', '60000', { max: 60_000 })).toBe(60_000);
  });
});

describe("topic names (Kafka's rule)", () => {
  it('accepts 1 to 249 of [a-zA-Z0-9._-] except "." and ".."', () => {
    const name = fc.stringMatching(/^[a-zA-Z0-9._-]{1,249}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(fc.property(name, (s) => checkTopicName(s) === s));
  });

  it('rejects anything else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string().filter((s) => !/^[a-zA-Z0-9._-]{1,249}$/.test(s)),
          fc.constantFrom('.', '..', 'x'.repeat(250)),
        ),
        (s) => rejects(() => checkTopicName(s)),
      ),
    );
  });
});

describe('responseFormat (content negotiation)', () => {
  it.each([
    [undefined, undefined, 'json'],
    [undefined, 'application/vnd.msgpack', 'msgpack'],
    ['', 'application/vnd.msgpack', 'msgpack'],
    [undefined, 'Application/Vnd.Msgpack; charset=binary', 'msgpack'],
    ['*/*', 'application/json; charset=utf-8', 'json'],
    ['*/*', 'text/plain', 'json'],
    ['*/*', 'application/vnd.msgpack', 'msgpack'],
    ['application/vnd.msgpack', 'application/json', 'msgpack'],
    ['application/json', 'application/vnd.msgpack', 'json'],
    ['application/vnd.msgpack;q=0.5, application/json', undefined, 'json'],
    ['application/json;q=0.1, application/vnd.msgpack;q=0.2', undefined, 'msgpack'],
    ['application/vnd.msgpack, application/json', undefined, 'msgpack'],
    ['application/vnd.msgpack;q=0', undefined, 'json'],
    ['text/html', undefined, 'json'],
    ['APPLICATION/VND.MSGPACK', undefined, 'msgpack'],
  ] as const)('Accept %j, Content-Type %j → %s', (accept, contentType, format) => {
    expect(responseFormat(accept, contentType)).toBe(format);
  });
});
