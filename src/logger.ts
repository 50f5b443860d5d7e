/**
 * The structured logger raftlog writes to: pino's call shape (`logger.warn({ group }, 'msg')`), so
 * a pino instance can be passed as is. Silent unless the embedding application gives one.
 */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const noop = (): void => {};

/** A logger that writes nothing (the default, and what tests use). */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
