import { transpileToTemp } from '../helpers/transpile.js';

/** A runnable JavaScript copy of `src/` for broker child processes (Node 20 cannot run TypeScript). */
export interface BrokerBuild {
  /** The `raftlog` CLI entry point of the copy. */
  readonly main: string;
  remove(): Promise<void>;
}

/** Transpiles `src/` so the brokers run the code under test. */
export async function buildBroker(): Promise<BrokerBuild> {
  const copy = await transpileToTemp(['src'], 'raftlog-jepsen-build-');
  return { main: copy.script('src/cli/main.ts'), remove: copy.remove };
}
