import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { runScript } from './helpers/script.js';

/** Each `testdata/*.txt` is one scenario; its first line (a comment) says what it checks. */
const dir = new URL('./testdata/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

describe('Raft scenario scripts (test/raft/testdata)', () => {
  it('has scenarios', () => {
    if (files.length === 0) throw new Error('no scenario scripts found');
  });
  for (const file of files) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const title = text.split('\n')[0]!.replace(/^#\s*/, '');
    it(`${file}: ${title}`, () => runScript(text, `testdata/${file}`));
  }
});
