/**
 * A small seeded pseudo-random generator (mulberry32) for the simulation: the Raft core's only
 * randomness is injected, and the simulator gives every node its own stream derived from the
 * schedule's seed, so a run is a pure function of the generated schedule.
 */

/** A random source returning integers in `[0, n)`, the shape `RaftConfig.randomInt` expects. */
export type RandomInt = (n: number) => number;

/** A mulberry32 generator over 32-bit state; `seed` may be any integer. */
export function mulberry32(seed: number): RandomInt {
  let state = seed | 0;
  return (n: number): number => {
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`randomInt: invalid bound ${n}`);
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u32 = (t ^ (t >>> 14)) >>> 0;
    return Math.floor((u32 / 2 ** 32) * n);
  };
}

/** The seed of node `id`'s stream in a run seeded with `runSeed` (distinct per node and run). */
export function nodeSeed(runSeed: number, id: number): number {
  return (Math.imul(runSeed | 0, 0x9e3779b1) ^ Math.imul(id, 0x85ebca6b)) | 0;
}
