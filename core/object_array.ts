/**
 * Empty arrays made for objects from the start.
 *
 * V8 gives an empty array literal `[]` the "small integers" elements kind; the first object
 * stored into it changes the array's map to the "any value" kind. Code that V8 optimised on
 * arrays that had already changed (the warm-up's, built later) meets the unchanged map of an
 * array that a long-lived object made earlier and fills only now — the real stack, built
 * before the warm-up runs — and is deoptimised ("wrong map", "not a Smi" at `push` and
 * stores: bench/README.md, "warm9"). An array that starts in its final kind never changes map.
 *
 * @module
 */

/**
 * A new empty array already of V8's "any value" elements kind, so storing the first object
 * leaves its map as it is (see the module comment). Use it for an array field of a long-lived
 * object that collects objects while the stack runs.
 *
 * @example
 * ```ts
 * const items = objectArray<{ id: number }>();
 * items.push({ id: 1 }); // no elements-kind change
 * items.length; // 1
 * ```
 */
export function objectArray<T>(): T[] {
  // A literal holding an object-kind value has the object elements kind; emptying the array
  // keeps it (an elements kind only ever moves towards the more general).
  const a: unknown[] = [null];
  a.length = 0;
  return a as T[];
}
