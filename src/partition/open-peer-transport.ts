import type { Logger } from '../logger.js';
import type { LogStore } from '../storage/log-store.js';
import { type GateOptions, RollbackGuard } from './rollback-guard.js';
import { TcpTransport, type TcpTransportOptions } from './tcp-transport.js';

/** Options of {@link openPeerTransport}. */
export interface OpenPeerTransportOptions extends Omit<TcpTransportOptions, 'syncCounters' | 'logger'> {
  /** The broker's open store. */
  readonly store: LogStore;
  /** Its data directory, named if the start is refused. */
  readonly dir: string;
  readonly gate?: GateOptions;
  readonly logger?: Logger;
  /**
   * For a broker joining a running cluster (its peers are not in `peers`): registers it and sets
   * the peers on the transport, returning their ids, before the gate asks them.
   */
  readonly join?: (transport: TcpTransport) => Promise<readonly number[]>;
}

/**
 * The peer transport of a broker whose store is open, returned once its peers confirmed that the
 * store did not go back in time (`rollback-guard.ts`): create the broker only after this resolves.
 * Rejects with `STORAGE_CORRUPT` when a peer saw more from this broker than the store holds, after
 * closing the transport; the caller closes the store.
 */
export async function openPeerTransport(o: OpenPeerTransportOptions): Promise<TcpTransport> {
  const { store, dir, gate, logger, join, ...transportOptions } = o;
  const guard = new RollbackGuard({ store, dir, ...(logger ? { logger } : {}) });
  const transport = await TcpTransport.listen({
    ...transportOptions,
    syncCounters: guard,
    ...(logger ? { logger } : {}),
  });
  try {
    const peers = join ? await join(transport) : [...(o.peers?.keys() ?? [])];
    await guard.confirm(transport, peers, gate);
  } catch (err) {
    await transport.close();
    throw err;
  }
  return transport;
}
