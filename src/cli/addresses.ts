import { RaftlogError } from '../errors.js';

/** Parse `host:port` (port 0..65535) or fail with a message naming the flag. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at);
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RaftlogError('INVALID_REQUEST', `${flag} must be HOST:PORT, got "${value}"`);
  }
  return { host, port };
}

/** Parse `--peers 1=host:port,2=host:port`. */
export function parsePeers(value: string): Map<number, string> {
  const peers = new Map<number, string>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const id = Number(part.slice(0, eq));
    if (eq <= 0 || !Number.isSafeInteger(id) || id <= 0) {
      throw new RaftlogError('INVALID_REQUEST', `--peers entries are ID=HOST:PORT, got "${part}"`);
    }
    const address = part.slice(eq + 1);
    parseHostPort(address, '--peers');
    if (peers.has(id)) throw new RaftlogError('INVALID_REQUEST', `--peers names broker ${id} twice`);
    peers.set(id, address);
  }
  return peers;
}
