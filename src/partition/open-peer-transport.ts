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
}

/**
 * The peer transport of a broker whose store is open, returned once its peers confirmed that the
 * store did not go back in time (`rollback-guard.ts`): create the broker only after this resolves.
 * Rejects with `STORAGE_CORRUPT` when a peer saw more from this broker than the store holds, after
 * closing the transport; the caller closes the store.
 */
export async function openPeerTransport(o: OpenPeerTransportOptions): Promise<TcpTransport> {
  const { store, dir, gate, logger, ...transportOptions } = o;
  const guard = new RollbackGuard({ store, dir, ...(logger ? { logger } : {}) });
  const transport = await TcpTransport.listen({
    ...transportOptions,
    syncCounters: guard,
    ...(logger ? { logger } : {}),
  });
  try {
    await guard.confirm(transport, [...(o.peers?.keys() ?? [])], gate);
  } catch (err) {
    await transport.close();
    throw err;
  }
  return transport;
}
