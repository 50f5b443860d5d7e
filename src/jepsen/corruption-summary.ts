import type { CorruptionNote, Op } from './history.js';

/**
 * What the file-corruption faults of a run did, from the nemesis's notes in the history: the
 * last note of each fault says how the damaged broker took it in the end.
 */

/** Totals and per-fault outcomes of the corruption faults. */
export interface CorruptionSummary {
  /** One entry per corruption fault, with its last note and the history index of that note. */
  readonly faults: readonly (CorruptionNote & { readonly fault: number; readonly op: number })[];
  /** Brokers that refused to start on their damaged files. */
  readonly refused: number;
  /** Brokers that started, then stopped serving on finding the damage. */
  readonly storageFailed: number;
  /**
   * Brokers that started and served on the damaged or rolled-back files with nothing detected:
   * harmless when the damage missed live data, a risk to acknowledged writes otherwise.
   */
  readonly undetected: number;
  /** Brokers that were not ready in time after the damage (neither refused nor failed). */
  readonly notReady: number;
}

/** Summarise the corruption notes of `history`. */
export function summarizeCorruption(history: readonly Op[]): CorruptionSummary {
  const last = new Map<number, CorruptionNote & { fault: number; op: number }>();
  for (const op of history) {
    if (op.f !== 'fault' || op.corruption === undefined) continue;
    const fault = op.fault ?? -1;
    last.set(fault, { ...op.corruption, fault, op: op.index });
  }
  const faults = [...last.values()];
  const count = (outcome: CorruptionNote['outcome']) => faults.filter((f) => f.outcome === outcome).length;
  return {
    faults,
    refused: count('refused'),
    storageFailed: count('storage-failed'),
    undetected: count('started'),
    notReady: count('not-ready'),
  };
}
