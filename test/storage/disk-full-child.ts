/**
 * Child process of the disk-full test, run inside its own mount namespace on a small tmpfs:
 *
 *   node disk-full-child.js <dir> <copy-to>
 *
 * It prints `open`, then commits one entry to each of FILL_GROUPS groups per batch, printing
 * `ack <group> <index>` once each commit resolved, until a commit fails: then
 * `failed <code> <cause message>`. It checks that the stopped store refuses a later write and a
 * later commit (`refused <code> <code>`), closes it and copies the data directory out of the
 * tmpfs (`copied`). Last it makes the tmpfs bigger (space freed), reopens the store there and
 * commits one more entry per group (`reopened <last index of group 1 before that commit>`).
 */
import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { RaftlogError } from '../../src/errors.js';
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { say } from './child-output.js';
import { fillEntry } from './crash-pattern.js';

/** Groups written in every batch. */
const FILL_GROUPS = 4;

const [dir, copyTo] = process.argv.slice(2) as [string, string];

function codeOf(err: unknown): string {
  return err instanceof RaftlogError ? err.code : String(err);
}

async function appendToEveryGroup(store: LevelLogStore): Promise<void> {
  for (let group = 1; group <= FILL_GROUPS; group++) {
    store.append(group, [fillEntry(group, store.group(group).lastIndex() + 1)]);
  }
  await store.commit();
}

const store = await LevelLogStore.open(dir);
say('open');
for (;;) {
  try {
    await appendToEveryGroup(store);
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : '';
    say(`failed ${codeOf(err)} ${cause.replaceAll('\n', ' ')}`);
    break;
  }
  for (let group = 1; group <= FILL_GROUPS; group++) {
    say(`ack ${group} ${store.group(group).lastIndex()}`);
  }
}

const refused: string[] = [];
try {
  store.append(1, [fillEntry(1, store.group(1).lastIndex() + 1)]);
  refused.push('accepted');
} catch (err) {
  refused.push(codeOf(err));
}
refused.push(await store.commit().then(() => 'accepted', codeOf));
say(`refused ${refused.join(' ')}`);
await store.close();
cpSync(dir, copyTo, { recursive: true });
say('copied');

execFileSync('mount', ['-o', 'remount,size=64m', path.dirname(dir)]);
const reopened = await LevelLogStore.open(dir);
const last = reopened.group(1).lastIndex();
await appendToEveryGroup(reopened);
await reopened.close();
say(`reopened ${last}`);
