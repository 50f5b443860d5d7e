import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const repo = path.resolve(import.meta.dirname, '../..');

/** A runnable JavaScript copy of some of the repository's sources, for child processes. */
export interface TranspiledCopy {
  /** Absolute path of the compiled form of a source file given relative to the repository. */
  script(source: string): string;
  remove(): Promise<void>;
}

/** The `.ts` files of `entry` (a file, or a directory walked recursively), relative to the repo. */
async function tsFiles(entry: string): Promise<string[]> {
  if (!(await stat(path.join(repo, entry))).isDirectory()) return [entry];
  const out: string[] = [];
  for (const e of await readdir(path.join(repo, entry), { withFileTypes: true })) {
    const rel = path.join(entry, e.name);
    if (e.isDirectory()) out.push(...(await tsFiles(rel)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/**
 * Transpiles `sources` (types stripped, no type check: `tsc` checks types separately) into a
 * temporary directory that mirrors the repository layout, with `node_modules` linked in. Node 20
 * cannot run TypeScript, and child processes must run the code under test, not a stale build.
 */
export async function transpileToTemp(sources: readonly string[], prefix: string): Promise<TranspiledCopy> {
  const out = await mkdtemp(path.join(os.tmpdir(), prefix));
  await symlink(path.join(repo, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  await writeFile(path.join(out, 'package.json'), '{ "type": "module" }\n');
  for (const entry of sources) {
    for (const file of await tsFiles(entry)) {
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
  }
  return {
    script: (source) => path.join(out, source.replace(/\.ts$/, '.js')),
    remove: () => rm(out, { recursive: true, force: true }),
  };
}
