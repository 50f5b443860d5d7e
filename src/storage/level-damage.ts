import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RaftlogError } from '../errors.js';

/**
 * How the LevelDB store tells damage on disk from other failures, and keeps refusing a data
 * directory once it found it damaged.
 *
 * classic-level opens LevelDB without `paranoid_checks` and reads without `verify_checksums`
 * (neither is exposed). So LevelDB itself raises `LEVEL_CORRUPTION` only for damage it cannot
 * read past (a MANIFEST, a table's index or a compressed block), our own CRC32 catches flipped
 * record bytes, and a write-ahead log record that fails LevelDB's checksum is *dropped* while
 * opening, with nothing but a `dropping N bytes` line in LevelDB's info `LOG` file. Dropped
 * records may be acknowledged entries or a vote, so that line makes the store refuse the
 * directory. LevelDB rewrites the log into a table during that same open, so the next open would
 * no longer see the damage: the refusal is remembered in a marker file until an operator removes
 * it.
 */

/** The file whose presence makes `LevelLogStore.open` refuse a data directory. */
export const DAMAGE_MARKER = 'RAFTLOG-DAMAGED';

/** The LevelDB error code in `err` or its causes, e.g. `LEVEL_CORRUPTION`. */
export function levelErrorCode(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 'LEVEL_CORRUPTION' || code === 'LEVEL_IO_ERROR' || code === 'LEVEL_LOCKED') return code;
  }
  return undefined;
}

/** True for a read failure that says the data on disk is damaged or unreadable. */
export function isDiskDamage(err: unknown): boolean {
  const code = levelErrorCode(err);
  return code === 'LEVEL_CORRUPTION' || code === 'LEVEL_IO_ERROR';
}

/** The error for a data directory that could not be opened or read back. */
export function unreadableDirectory(location: string, err: unknown): RaftlogError {
  if (err instanceof RaftlogError) return err;
  const message = (err as Error)?.message ?? String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  if (levelErrorCode(err) === 'LEVEL_LOCKED') {
    return new RaftlogError('DATA_DIR_LOCKED', `data directory ${location} is in use by another process`, {
      cause: err,
      details: { dir: location },
    });
  }
  const damaged = isDiskDamage(err);
  return new RaftlogError(
    damaged ? 'STORAGE_CORRUPT' : 'STORAGE_FAILED',
    damaged
      ? `data directory ${location} is damaged: ${message}${cause}`
      : `cannot open data directory ${location}: ${message}${cause}`,
    { cause: err, details: { dir: location } },
  );
}

/** Refuse `location` if an earlier open found it damaged. */
export async function checkNoDamageMarker(location: string): Promise<void> {
  let reason: string;
  try {
    reason = (await readFile(path.join(location, DAMAGE_MARKER), 'utf8')).trim();
  } catch {
    return;
  }
  throw damagedDirectory(location, `${reason} (remembered in ${DAMAGE_MARKER})`);
}

/**
 * After LevelDB opened `location`: the write-ahead log records it dropped on the way, from its
 * info `LOG` (rewritten by every open). Records them in the marker file and throws when there
 * are any.
 */
export async function checkNothingDropped(location: string): Promise<void> {
  let log: string;
  try {
    log = await readFile(path.join(location, 'LOG'), 'utf8');
  } catch {
    return;
  }
  const dropped = log.split('\n').filter((line) => / dropping \d+ bytes; /.test(line));
  if (dropped.length === 0) return;
  const bytes = dropped.reduce((n, line) => n + Number(/dropping (\d+) bytes/.exec(line)![1]), 0);
  const first = dropped[0]!.replace(/^.*?\/([^/]+: dropping)/, '$1');
  const reason = `LevelDB dropped ${bytes} bytes of its write-ahead log while opening it (${first})`;
  await writeFile(path.join(location, DAMAGE_MARKER), `${reason}\n`);
  throw damagedDirectory(location, reason);
}

function damagedDirectory(location: string, reason: string): RaftlogError {
  return new RaftlogError(
    'STORAGE_CORRUPT',
    `data directory ${location} is damaged: ${reason}; acknowledged writes or votes may be missing, ` +
      'so this broker refuses to start on it',
    { details: { dir: location } },
  );
}
