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
  // One `Object.fromEntries` call, not a loop of `c[name] = 0`: V8 turns an object that gains
  // more than about 20 properties by keyed stores into a dictionary (every `c.Name++` a hash
  // lookup), while `fromEntries` builds it in fast mode with all its fields (V8 15.0, checked
  // by tests/unit/counters_shape_test.ts).
  return Object.fromEntries(names.map((n) => [n, 0]));
}
