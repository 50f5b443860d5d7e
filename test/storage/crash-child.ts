/**
 * Child process of the crash and lock tests.
 *
 *   node crash-child.js append <dir> <seed>      append with acknowledgements until killed
 *   node crash-child.js overwrite <dir> <seed>   append and overwrite suffixes until killed
 *   node crash-child.js hold <dir>               open the store, print "ready", wait to be killed
 *
 * In `append` mode it prints `open` once the store is open, then `ack <group> <index>` after each
 * commit covering entries of that group up to that index resolved (never before).
 *
 * In `overwrite` mode one writer, as a Raft follower would, now appends after a group's last
 * entry and now replaces a suffix by entries of a new, higher term (a new leader overwriting
 * uncommitted entries; the new suffix may be shorter or longer than the old). Before staging
 * each write it prints `write <group> <from> <term> <count>` (the log becomes its first
 * `from - 1` entries followed by `count` entries of `term`), and once the commit covering every
 * write printed so far resolved, `ack`. Every line has reached the pipe before the child goes on
 * (see `say`): a write that reached the disk was always announced first.
 */
import { LevelLogStore } from '../../src/storage/level-log-store.js';
import { say } from './child-output.js';
import { CRASH_GROUPS, crashEntry, mulberry32 } from './crash-pattern.js';

const [mode, dir, seedArg] = process.argv.slice(2);

async function hold(): Promise<void> {
  await LevelLogStore.open(dir!);
  say('ready');
  setInterval(() => {}, 60_000);
}

async function append(): Promise<void> {
  const random = mulberry32(Number(seedArg));
  const store = await LevelLogStore.open(dir!);
  // Each run writes with a higher term than the runs before it.
  const previous = store.getMeta(0, 'run');
  const run = (previous === undefined ? 0 : previous[0]!) + 1;
  store.putMeta(0, 'run', Uint8Array.of(run));
  await store.commit();
  say('open');

  const worker = async (): Promise<never> => {
    for (;;) {
      const acked = new Map<number, number>();
      for (let k = 1 + Math.floor(random() * 4); k > 0; k--) {
        const group = 1 + Math.floor(random() * CRASH_GROUPS);
        const log = store.group(group);
        const from = log.lastIndex() + 1;
        const n = 1 + Math.floor(random() * 5);
        const entries = [];
        for (let i = from; i < from + n; i++) entries.push(crashEntry(group, i, run));
        store.append(group, entries);
        store.setHardState(group, { term: run, vote: 1, commit: from + n - 1 });
        acked.set(group, from + n - 1);
        // Now and then compact, so crashes also hit compactions.
        if (random() < 0.2 && log.lastIndex() - log.firstIndex() > 40) {
          const index = log.lastIndex() - 20;
          store.compact(group, {
            meta: {
              index,
              term: log.term(index),
              confState: {
                voters: [1],
                learners: [],
                votersOutgoing: [],
                learnersNext: [],
                autoLeave: false,
              },
            },
            data: Buffer.from(`snapshot ${group} ${index}`),
          });
        }
      }
      await store.commit();
      for (const [group, index] of acked) say(`ack ${group} ${index}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

async function overwrite(): Promise<void> {
  const random = mulberry32(Number(seedArg));
  const store = await LevelLogStore.open(dir!);
  // Every overwrite takes a term above any in the store, as a newly elected leader's would.
  let term = 1;
  for (let group = 1; group <= CRASH_GROUPS; group++) {
    const log = store.group(group);
    term = Math.max(term, log.term(log.lastIndex()));
  }
  say('open');
  for (;;) {
    for (let k = 1 + Math.floor(random() * 4); k > 0; k--) {
      const group = 1 + Math.floor(random() * CRASH_GROUPS);
      const last = store.group(group).lastIndex();
      let from = last + 1;
      if (last > 0 && random() < 0.4) {
        from = last - Math.floor(random() * Math.min(last, 10));
        term++;
      }
      const count = 1 + Math.floor(random() * 8);
      const entries = [];
      for (let i = from; i < from + count; i++) entries.push(crashEntry(group, i, term));
      say(`write ${group} ${from} ${term} ${count}`);
      store.append(group, entries);
    }
    await store.commit();
    say('ack');
  }
}

const modes: Record<string, () => Promise<void>> = { hold, append, overwrite };
await modes[mode!]!();
