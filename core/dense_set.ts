/**
 * A set of objects kept in one dense array, each member holding its own position
 * ({@link DenseSetMember.denseIndex}): add and delete are O(1) (delete moves the last member into
 * the hole) and allocate nothing once the array has grown.
 *
 * Why not a `Set`: V8's `Set`/`Map` with steady add/delete churn (a server's connections, a
 * listener's half-open entries) rehashes into a new table every few dozen operations, and the
 * table it leaves behind keeps its entries and a link to its successor. When the first of these
 * dead tables sits in the old generation, every young-generation collection treats it as a
 * root (the remembered set does not know it is dead), so the whole chain of tables — and every
 * connection that was ever a member since the last full collection — survives and is promoted:
 * measured with `serve --http` under `ab -c 32`, ~3.5 KB promoted per connection. A dense array
 * is never rehashed; a deleted member's slot is overwritten or cleared at once.
 *
 * An object may be a member of one `DenseSet` at a time (the index lives on the object).
 *
 * @example
 * ```ts
 * import { DenseSet } from "./dense_set.ts";
 * const s = new DenseSet<{ denseIndex: number }>();
 * const a = { denseIndex: -1 };
 * s.add(a);
 * s.has(a); // true
 * s.delete(a); // true
 * s.size; // 0
 * ```
 *
 * @module
 */

import { objectArray } from "./v8_shapes.ts";

/** What a {@link DenseSet} member carries: its position in the set (-1 when in none). */
export interface DenseSetMember {
  /** @internal Position in the set holding the object; -1 when it is in none. */
  denseIndex: number;
}

/** A set of {@link DenseSetMember}s in one dense array. */
export class DenseSet<T extends DenseSetMember> {
  readonly #items: (T | null)[] = objectArray();
  #n = 0;

  /** Members. */
  get size(): number {
    return this.#n;
  }

  /** True when `item` is a member of this set. */
  has(item: T): boolean {
    const i = item.denseIndex;
    return i >= 0 && i < this.#n && this.#items[i] === item;
  }

  /** Add `item` (no-op when already a member). */
  add(item: T): void {
    if (this.has(item)) return;
    const i = this.#n++;
    if (i < this.#items.length) this.#items[i] = item;
    else this.#items.push(item);
    item.denseIndex = i;
  }

  /** Remove `item`; false when it was not a member. */
  delete(item: T): boolean {
    if (!this.has(item)) return false;
    const i = item.denseIndex;
    const last = --this.#n;
    const items = this.#items;
    if (i !== last) {
      const moved = items[last]!;
      items[i] = moved;
      moved.denseIndex = i;
    }
    items[last] = null;
    item.denseIndex = -1;
    return true;
  }

  /** Member `i` (0 ≤ i < size), in no particular order. */
  at(i: number): T {
    return this.#items[i]!;
  }

  /** The members now, as a new array (safe to iterate while deleting). */
  toArray(): T[] {
    return this.#items.slice(0, this.#n) as T[];
  }

  /** Remove every member. */
  clear(): void {
    const items = this.#items;
    for (let i = 0; i < this.#n; i++) {
      items[i]!.denseIndex = -1;
      items[i] = null;
    }
    this.#n = 0;
  }
}
