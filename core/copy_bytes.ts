/**
 * The one byte copy between two typed arrays at offsets, shared by the socket byte rings and
 * the drivers' frame copies. JS has no offset-taking copy between two typed arrays: a short
 * copy goes byte by byte (no view object: a 64-byte request/response message and its frame —
 * TCP over IPv6 with timestamps is 150 bytes — cost the heap nothing, ~30 ns more than a
 * native copy); a longer one uses `Uint8Array.prototype.set` on one transient `subarray` view
 * (measured on Deno 2.9.6: 93 ns for a 9,014-byte frame against 1,006 ns for a 32-bit word
 * loop, 49 ns against 0.9 µs for a byte loop at 1,460 bytes) — the one allocation per copy
 * the data path accepts (V8 usually elides it).
 *
 * @module
 */

/** Copies up to this many bytes are done with a plain loop (no view object). */
export const SMALL_COPY_BYTES = 160;

/**
 * Copy `len` bytes from `src[srcOff..]` to `dst[dstOff..]`. The caller has checked the bounds.
 *
 * @example
 * ```ts
 * const dst = new Uint8Array(4);
 * copyBytes(new Uint8Array([1, 2, 3]), 1, dst, 0, 2); // dst = [2, 3, 0, 0]
 * ```
 */
export function copyBytes(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  len: number,
): void {
  if (len <= SMALL_COPY_BYTES) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
  } else if (srcOff === 0 && len === src.length) {
    dst.set(src, dstOff);
  } else {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  }
}
