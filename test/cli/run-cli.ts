import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Running the built `raftlog` command as a child process. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI entry point. */
export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** Build the project (`npm run build`), so {@link CLI} is the current code. */
export async function build(): Promise<void> {
  await promisify(execFile)('npm', ['run', 'build'], { cwd: ROOT });
}

/** What a finished command printed, and its exit code. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run `raftlog ...args` to completion with `input` on its standard input; the child is killed
 * (by PID) if it has not exited within `timeoutMs`, or if anything throws.
 */
export async function runCli(args: readonly string[], input = '', timeoutMs = 20_000): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child.stdin.end(input);
    const code = await exited(child, timeoutMs);
    return { code, stdout, stderr };
  } finally {
    killIfRunning(child);
  }
}

/** Resolves with the exit code once `child` exits; rejects after `timeoutMs`. */
export function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const timer = setTimeout(
      () => reject(new Error(`raftlog did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Kill `child` by its PID unless it has exited. */
export function killIfRunning(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    process.kill(child.pid, 'SIGKILL');
  }
}
