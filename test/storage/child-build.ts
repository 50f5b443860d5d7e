import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const repo = path.resolve(import.meta.dirname, '../..');

/** Sources a child process needs: the store, what it imports, and the child scripts. */
const SOURCES = [
  'src/errors.ts',
  'src/storage',
  'test/storage/crash-child.ts',
  'test/storage/crash-pattern.ts',
];

/** A runnable JavaScript copy of the store for child processes (Node 20 cannot run TypeScript). */
export interface ChildBuild {
  /** Absolute path of the compiled form of a source file given relative to the repository. */
  script(source: string): string;
  remove(): Promise<void>;
}

async function sourceFiles(entry: string): Promise<string[]> {
  if (entry.endsWith('.ts')) return [entry];
  const names = await readdir(path.join(repo, entry));
  return names.filter((n) => n.endsWith('.ts')).map((n) => path.join(entry, n));
}

/**
 * Transpiles the store and the child scripts (types stripped, no type check) into a temporary
 * directory that mirrors the repository layout, with `node_modules` linked in.
 */
export async function buildChild(): Promise<ChildBuild> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'raftlog-child-'));
  await symlink(path.join(repo, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  await writeFile(path.join(out, 'package.json'), '{ "type": "module" }\n');
  for (const entry of SOURCES) {
    for (const file of await sourceFiles(entry)) {
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
