/** The pure Raft core: no timers, sockets, disk, clock or Promises. See `RawNode` and `Ready`. */

export { decodeConfChange, encodeConfChange } from './confchange-codec.js';
export type { RaftConfig } from './config.js';
export { ProgressState, type ProgressStatus, RawNode, type Status } from './rawnode.js';
export type { RaftStorage } from './storage.js';
export * from './types.js';
