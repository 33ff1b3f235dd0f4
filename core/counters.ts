/**
 * Named counters: the one primitive every layer counts with. A group is a plain object whose
 * keys are fixed when it is made, so V8 keeps one shape and `group.InErrors++` stays cheap.
 * Which names exist is decided by the layer that owns the group (Linux `nstat` names where one
 * exists); the stack composes the groups of all layers (`stack/stats.ts`).
 *
 * @module
 */

/** A group of named counters. Keys are fixed at construction so V8 keeps one shape. */
export type Counters = Record<string, number>;

/**
 * A counter group with every name in `names` at zero.
 *
 * @example
 * ```ts
 * const c = makeCounters(["InFrames", "OutFrames"]);
 * c.InFrames++;
 * console.log(c.InFrames); // 1
 * ```
 */
export function makeCounters(names: readonly string[]): Counters {
  const c: Counters = {};
  for (const n of names) c[n] = 0;
  return c;
}
