/**
 * TCP sequence-number arithmetic: serial-number comparison of 32-bit values that wrap
 * (RFC 9293 §3.4, RFC 1982 §3.2).
 *
 * Every value is a uint32 held in a JS number (`0 ≤ x < 2**32`); results are normalised with
 * `>>> 0`. Comparisons use the signed 32-bit distance, so `a` is "less than" `b` when `b` lies
 * in the 2**31 values that follow `a`. At a distance of exactly 2**31 the order is undefined
 * (RFC 1982 §3.2); these functions then call each value less than the other, the same as
 * Linux's `before()`. TCP never gets there: windows are < 2**30 (RFC 7323 §2.3).
 *
 * All functions are branch-light, allocation-free and never throw: safe on the per-packet path.
 *
 * @example
 * ```ts
 * import { seqAdd, seqLt } from "./seq.ts";
 * const nxt = seqAdd(0xffff_fff0, 0x20); // 0x10: wrapped
 * seqLt(0xffff_fff0, nxt); // true
 * ```
 *
 * @module
 */

/** Number of distinct sequence numbers (2**32). */
export const SEQ_SPACE = 0x1_0000_0000;

/**
 * `a + n` modulo 2**32. `n` may be negative (then it subtracts).
 *
 * @example
 * ```ts
 * seqAdd(0xffff_ffff, 1); // 0
 * ```
 */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * `a - n` modulo 2**32.
 *
 * @example
 * ```ts
 * seqSub(0, 1); // 0xffff_ffff
 * ```
 */
export function seqSub(a: number, n: number): number {
  return (a - n) >>> 0;
}

/**
 * Signed distance `a - b` as an int32, in [-2**31, 2**31). Positive when `a` is after `b`.
 *
 * @example
 * ```ts
 * seqDiff(5, 0xffff_fffb); // 10
 * seqDiff(0xffff_fffb, 5); // -10
 * ```
 */
export function seqDiff(a: number, b: number): number {
  // RFC 1982 §3.2: compare through the difference modulo 2**SERIAL_BITS; `| 0` is that
  // difference read as two's-complement int32.
  return (a - b) | 0;
}

/**
 * `a < b` in sequence space (RFC 9293 §3.4 "=<" family).
 *
 * @example
 * ```ts
 * seqLt(0xffff_ffff, 0); // true
 * ```
 */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/**
 * `a ≤ b` in sequence space.
 *
 * @example
 * ```ts
 * seqLe(7, 7); // true
 * ```
 */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/**
 * `a > b` in sequence space.
 *
 * @example
 * ```ts
 * seqGt(0, 0xffff_ffff); // true
 * ```
 */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * `a ≥ b` in sequence space.
 *
 * @example
 * ```ts
 * seqGe(7, 7); // true
 * ```
 */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/**
 * The later of `a` and `b` in sequence space (`a` when equal or undefined).
 *
 * @example
 * ```ts
 * seqMax(0xffff_fff0, 3); // 3
 * ```
 */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) < 0 ? b >>> 0 : a >>> 0;
}

/**
 * The earlier of `a` and `b` in sequence space (`a` when equal or undefined).
 *
 * @example
 * ```ts
 * seqMin(0xffff_fff0, 3); // 0xffff_fff0
 * ```
 */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) > 0 ? b >>> 0 : a >>> 0;
}

/**
 * `start ≤ x < start + len` in sequence space: is `x` one of the `len` numbers beginning at
 * `start`? `len` is a byte count in `[0, 2**32)`; with `len = 0` nothing is inside.
 *
 * This is only the half-open interval test. RFC 9293 §3.10.7.4's acceptability table treats
 * zero-length segments and a zero receive window specially (e.g. an empty segment with
 * `SEG.SEQ = RCV.NXT` is acceptable in a zero window): that is the caller's logic, or use
 * {@link seqSegmentAcceptable}, which implements the table.
 *
 * @example
 * ```ts
 * seqInWindow(2, 0xffff_fffe, 8); // true: the window wraps
 * seqInWindow(6, 0xffff_fffe, 8); // false: one past the end
 * ```
 */
export function seqInWindow(x: number, start: number, len: number): boolean {
  // The unsigned offset of x from start is < len exactly when x is inside.
  return ((x - start) >>> 0) < len;
}

/**
 * `lo ≤ x ≤ hi` in sequence space, both ends inclusive, with `hi` taken as at most 2**32 - 1
 * numbers after `lo`. Typical use, RFC 9293 §3.10.7.4: an ACK of new data satisfies
 * `SND.UNA < SEG.ACK ≤ SND.NXT`, which is `seqBetween(ack, seqAdd(una, 1), nxt)`.
 *
 * @example
 * ```ts
 * seqBetween(0, 0xffff_fff0, 0x10); // true
 * ```
 */
export function seqBetween(x: number, lo: number, hi: number): boolean {
  return ((x - lo) >>> 0) <= ((hi - lo) >>> 0);
}

/**
 * RFC 9293 §3.10.7.4 segment acceptability test ("There are four cases for the acceptability
 * test for an incoming segment"):
 *
 * | SEG.LEN | RCV.WND | test |
 * | --- | --- | --- |
 * | 0 | 0 | `SEG.SEQ = RCV.NXT` |
 * | 0 | > 0 | `RCV.NXT ≤ SEG.SEQ < RCV.NXT + RCV.WND` |
 * | > 0 | 0 | not acceptable |
 * | > 0 | > 0 | first or last byte in the window |
 *
 * `segLen` counts SYN and FIN as one each, as in the RFC. A segment refused here still gets
 * its ACK and RST processing by the caller (an ACK is sent in reply unless RST was set).
 *
 * @example
 * ```ts
 * seqSegmentAcceptable(100, 0, 100, 0); // true: empty ACK at RCV.NXT in a zero window
 * seqSegmentAcceptable(90, 20, 100, 1000); // true: last byte is inside
 * ```
 */
export function seqSegmentAcceptable(
  segSeq: number,
  segLen: number,
  rcvNxt: number,
  rcvWnd: number,
): boolean {
  return seqSegmentAcceptableAt((segSeq - rcvNxt) | 0, segLen, rcvWnd);
}

/**
 * {@link seqSegmentAcceptable} by the segment's distance `dist = (SEG.SEQ - RCV.NXT) | 0`:
 * the per-segment form, as a distance near the window is a small integer, where a sequence
 * number ≥ 2**30 passed to a call V8 does not inline is a new heap number.
 *
 * @example
 * ```ts
 * seqSegmentAcceptableAt(-1, 10, 100); // true: its last byte is in the window
 * ```
 */
export function seqSegmentAcceptableAt(dist: number, segLen: number, rcvWnd: number): boolean {
  if (segLen === 0) {
    if (rcvWnd === 0) return dist === 0;
    return (dist >>> 0) < rcvWnd;
  }
  if (rcvWnd === 0) return false;
  // First byte SEG.SEQ or last byte SEG.SEQ + SEG.LEN - 1 inside [RCV.NXT, RCV.NXT + RCV.WND).
  return (dist >>> 0) < rcvWnd || ((dist + segLen - 1) >>> 0) < rcvWnd;
}
