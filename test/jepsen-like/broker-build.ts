import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const repo = path.resolve(import.meta.dirname, '../..');

/** A runnable JavaScript copy of `src/` for broker child processes (Node 20 cannot run TypeScript). */
export interface BrokerBuild {
  /** The `raftlog` CLI entry point of the copy. */
  readonly main: string;
  remove(): Promise<void>;
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(repo, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(rel)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/**
 * Transpiles `src/` (types stripped, no type check: `tsc` checks types separately) into a
 * temporary directory with `node_modules` linked in, so the brokers run the code under test.
 */
export async function buildBroker(): Promise<BrokerBuild> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'raftlog-jepsen-build-'));
  await symlink(path.join(repo, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  await writeFile(path.join(out, 'package.json'), '{ "type": "module" }\n');
  for (const file of await tsFiles('src')) {
    const source = await readFile(path.join(repo, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2023,
        verbatimModuleSyntax: true,
      },
    });
    const target = path.join(out, file.replace(/\.ts$/, '.js'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
  return {
    main: path.join(out, 'src/cli/main.js'),
    remove: () => rm(out, { recursive: true, force: true }),
  };
}
