/**
 * Coverage figures of simulated runs: how often the schedules reached the states worth testing
 * (elections, commits, crashes, snapshots, membership changes, reads). The test prints them and
 * requires each to be reached, so a generator that stopped exercising something fails loudly.
 */
export interface SimStats {
  /** Terms in which some node became leader. */
  leaderTerms: number;
  /** Entries applied, summed over nodes. */
  entriesApplied: number;
  /** Crashes that fired, summed over nodes. */
  crashes: number;
  compactions: number;
  /** Snapshots received from a leader and installed. */
  snapshotsInstalled: number;
  confChangesApplied: number;
  readsServed: number;
}

export function emptyStats(): SimStats {
  return {
    leaderTerms: 0,
    entriesApplied: 0,
    crashes: 0,
    compactions: 0,
    snapshotsInstalled: 0,
    confChangesApplied: 0,
    readsServed: 0,
  };
}

/** Add `b`'s counts into `a`. */
export function addStats(a: SimStats, b: Readonly<SimStats>): void {
  for (const k of Object.keys(a) as (keyof SimStats)[]) a[k] += b[k];
}

export function formatStats(s: Readonly<SimStats>): string {
  return Object.entries(s)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
