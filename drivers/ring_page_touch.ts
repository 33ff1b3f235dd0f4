/**
 * Writing every page of a fresh packet ring once at open, so a cold process's first lap
 * through the ring does not pay each page's first write one frame at a time.
 *
 * The kernel maps a packet ring's pages into the process at `mmap` (no page faults later), but
 * its page-table entries start clean. Under a hypervisor that tracks the guest's dirty bits by
 * shadow paging (this machine: PVM), the first write to each such page leaves the guest: in a
 * fresh 1,000-connection `pingpong --connect` crowd, a V2 ring of 20,960 slots is on its first
 * lap, and `perf record -e cpu-clock` put 13–17 µs per connection on the one `xchg` of the RX
 * ring's release — its `Atomics.store` of TP_STATUS_KERNEL — against 0.1 µs warm. Written here
 * instead, a page costs 6.5–12.6 µs at open (bench/README.md, branch `cold9z`): the cost moves
 * to the open, it does not go away.
 *
 * @module
 */

/** Bytes of a page: every page of the mapping gets one write. */
export const RING_TOUCH_PAGE_BYTES = 4096;

/**
 * Write every page of `words`' buffer from byte `from` to `to` once, without changing a byte: a
 * locked add of 0 to the page's first word, atomic against the kernel filling that page at the
 * same time (a frame may already be arriving). Set-up only; returns the pages written.
 *
 * @example
 * ```ts
 * const words = new Uint32Array(new ArrayBuffer(16384));
 * touchRingPages(words, 0, 16384); // 4
 * ```
 */
export function touchRingPages(words: Uint32Array, from: number, to: number): number {
  let pages = 0;
  for (let b = from; b < to; b += RING_TOUCH_PAGE_BYTES) {
    Atomics.add(words, b >>> 2, 0);
    pages++;
  }
  return pages;
}
