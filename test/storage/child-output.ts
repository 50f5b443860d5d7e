import { writeSync } from 'node:fs';

/**
 * Prints `line` to standard output before returning, for a child that the test kills.
 *
 * `process.stdout.write` is not enough: when the pipe is full (the test reads slowly, as on a
 * loaded machine) Node keeps the line in memory and returns, the child goes on writing to disk,
 * and a SIGKILL then loses lines for writes that did reach the disk. `writeSync` on descriptor 1
 * blocks until the pipe took the line (a child's standard streams are blocking unless
 * `process.stdout` was touched, which these children never do).
 */
export function say(line: string): void {
  writeSync(1, `${line}\n`);
}
