/**
 * One build's HTTP server over a broker that answers every produce at once (no Raft, no disk),
 * for `http-produce-cpu.ts`: what the HTTP layer alone costs per produce request.
 *
 *   node dist/bench/http-produce-server.js BUILD_DIR
 *
 * Prints `{"url": ...}` once listening; stops on SIGTERM.
 */
import type { BrokerApi, ProduceRecord, ProduceResult } from '../src/broker/api.js';
import type { createHttpServer as CreateHttpServer } from '../src/http/server.js';

const build = process.argv[2];
if (build === undefined) throw new Error('usage: http-produce-server.js BUILD_DIR');
const { createHttpServer } = (await import(`${build}/dist/src/http/server.js`)) as {
  createHttpServer: typeof CreateHttpServer;
};

let next = 0;
const broker = {
  id: 1,
  brokerUrl: () => undefined,
  partitionStatus: () => [],
  isReady: () => true,
  async partitionCount() {
    return 1;
  },
  async produce(
    _topic: string,
    partition: number,
    records: readonly ProduceRecord[],
  ): Promise<ProduceResult> {
    const baseOffset = next;
    next += records.length;
    return { partition, baseOffset, lastOffset: next - 1 };
  },
} as unknown as BrokerApi;

const server = createHttpServer({ broker });
const { url } = await server.listen('127.0.0.1', 0);
console.log(JSON.stringify({ url }));
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
