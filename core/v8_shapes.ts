/**
 * Values that give V8 objects their final layout from the first one made.
 *
 * The real stack is built before the warm-up runs (`serve`) or after it (`pingpong`); either
 * way, an object whose layout V8 changes after it was made — a number field that starts as a
 * small integer and later holds a double, an array that starts with small integers and later
 * holds objects — has a map that the other stack's compiled code does not expect, and every
 * field elsewhere typed with the old map is generalised when an object with the new one is
 * stored into it, which throws away all the code that relied on that field's type (the TCP
 * receive and send paths: bench/README.md, "warm9"). Starting in the final layout avoids both.
 *
 * **Arrays.** V8 gives an empty array literal `[]` the "small integers" elements kind; the first object
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

/**
 * A zero that V8 stores as a double (-0): the start value of a number field that will hold
 * doubles (times in ms, unsigned 32-bit words), so the field has its final representation from
 * the first object made (see the module comment). -0 equals 0 under `===`, `<`, arithmetic and
 * bitwise operators, and prints as "0"; only `Object.is` and `1 / x` tell it apart.
 *
 * @example
 * ```ts
 * class Sample {
 *   atMs = DOUBLE_ZERO;
 * }
 * new Sample().atMs === 0; // true
 * ```
 */
export const DOUBLE_ZERO = -0;
