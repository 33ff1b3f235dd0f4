/**
 * An intrusive least-recently-used list: the entries carry their own links (`lruPrev`,
 * `lruNext`, `inLru`), so using, adding, removing and evicting are O(1) and allocate nothing.
 * The neighbour caches (ARP, NDP) keep their resolved entries on one to evict the least
 * recently used when full.
 *
 * @module
 */

/** What an entry carries to sit on an {@link LruList}. */
export interface LruLinks<T> {
  /** The entry used just before (toward the head). */
  lruPrev: T | null;
  /** The entry used just after (toward the tail). */
  lruNext: T | null;
  /** True while on a list. */
  inLru: boolean;
}

/**
 * Entries in order of use: the head was used longest ago, the tail most recently.
 *
 * @example
 * ```ts
 * class E { lruPrev: E | null = null; lruNext: E | null = null; inLru = false; }
 * const lru = new LruList<E>();
 * const a = new E(), b = new E();
 * lru.touch(a);
 * lru.touch(b);
 * lru.touch(a);
 * lru.head === b; // true: b was used longest ago
 * ```
 */
export class LruList<T extends LruLinks<T>> {
  #head: T | null = null;
  #tail: T | null = null;
  #size = 0;

  /** The least recently used entry, or null when empty. */
  get head(): T | null {
    return this.#head;
  }

  /** Entries on the list. */
  get size(): number {
    return this.#size;
  }

  /** `e` was used now: add it, or move it, to the tail. */
  touch(e: T): void {
    if (e.inLru) {
      if (this.#tail === e) return;
      this.remove(e);
    }
    e.inLru = true;
    e.lruPrev = this.#tail;
    e.lruNext = null;
    if (this.#tail !== null) this.#tail.lruNext = e;
    else this.#head = e;
    this.#tail = e;
    this.#size++;
  }

  /** Take `e` off the list (nothing when it is not on it). */
  remove(e: T): void {
    if (!e.inLru) return;
    if (e.lruPrev !== null) e.lruPrev.lruNext = e.lruNext;
    else this.#head = e.lruNext;
    if (e.lruNext !== null) e.lruNext.lruPrev = e.lruPrev;
    else this.#tail = e.lruPrev;
    e.lruPrev = null;
    e.lruNext = null;
    e.inLru = false;
    this.#size--;
  }
}
