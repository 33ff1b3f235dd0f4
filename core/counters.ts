/**
 * Named counters: the one primitive every layer counts with. A group is a plain object whose
 * keys are fixed when it is made, so V8 keeps one shape and `group.InErrors++` stays cheap.
 * Which names exist is decided by the layer that owns the group (Linux `nstat` names where one
 * exists); the stack composes the groups of all layers (`stack/stats.ts`).
 *
 * @module
 */

import { DOUBLE_ZERO } from "./v8_shapes.ts";

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
  //
  // Byte totals (names ending in "Bytes") start as doubles, then +0: one that passed 2^31 — the
  // end of this V8's small integers (2^30 where it compresses pointers), within a second at
  // 10–20 Gbit/s — changed the group's map mid-run, and V8 threw away the code that had used it
  // ("wrong map": bench/README.md, "rx13h").
  const c: Counters = Object.fromEntries(
    names.map((n) => [n, n.endsWith("Bytes") ? DOUBLE_ZERO : 0]),
  );
  for (const n of names) if (n.endsWith("Bytes")) c[n] = 0;
  return c;
}
