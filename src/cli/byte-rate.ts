import { RaftlogError } from '../errors.js';

const UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parse a byte count per second such as `52428800`, `512k`, `50m` or `50MiB` (binary units). */
export function parseByteRate(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\/s)?$/i.exec(value.trim());
  const n = m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isFinite(n) || n < 1) {
    throw new RaftlogError('INVALID_REQUEST', `${flag} must be a byte rate such as 50MiB, got "${value}"`);
  }
  return Math.floor(n);
}
