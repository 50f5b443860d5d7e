import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BROKER_NODE_FLAGS } from '../../src/cli/node-flags.js';

describe('the V8 flags of a broker', () => {
  it('are the ones the raftlog command starts node with', () => {
    const main = readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8');
    expect(main.split('\n', 1)[0]).toBe(`#!/usr/bin/env -S node ${BROKER_NODE_FLAGS.join(' ')}`);
  });

  it('are flags this node accepts', () => {
    const { status, stderr } = spawnSync(process.execPath, [...BROKER_NODE_FLAGS, '-e', '0'], {
      encoding: 'utf8',
    });
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
});
