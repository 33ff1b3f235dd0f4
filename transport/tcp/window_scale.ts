/**
 * Window scale helpers (RFC 7323 §2): choosing the shift a receiver announces, and converting
 * between the 16-bit header field and a byte count. Allocation-free, never throw.
 *
 * @example
 * ```ts
 * import { decodeWindow, encodeWindow, windowShiftFor } from "./window_scale.ts";
 * const shift = windowShiftFor(4 * 1024 * 1024); // 7
 * const field = encodeWindow(3_000_000, shift); // 23437
 * decodeWindow(field, shift); // 2_999_936
 * ```
 *
 * @module
 */

/** Largest shift count allowed (RFC 7323 §2.3). */
export const MAX_WINDOW_SHIFT = 14;

/** Largest value of the 16-bit Window field (RFC 9293 §3.1). */
export const MAX_WINDOW_FIELD = 0xffff;

/** Largest window a scaled connection can offer: 65535 << 14 bytes (just under 1 GiB). */
export const MAX_SCALED_WINDOW = MAX_WINDOW_FIELD * (1 << MAX_WINDOW_SHIFT);

/**
 * The smallest shift that lets a receive buffer of `maxWindowBytes` be advertised in full,
 * capped at {@link MAX_WINDOW_SHIFT}. Announce this in the SYN's Window Scale option; size the
 * buffer for the largest it may grow to (auto-tuning), because the shift is fixed for the life
 * of the connection (RFC 7323 §2.2).
 *
 * @example
 * ```ts
 * windowShiftFor(65535); // 0
 * windowShiftFor(65536); // 1
 * ```
 */
export function windowShiftFor(maxWindowBytes: number): number {
  let shift = 0;
  while (shift < MAX_WINDOW_SHIFT && maxWindowBytes / (1 << shift) > MAX_WINDOW_FIELD) shift++;
  return shift;
}

/**
 * A received shift count made usable: RFC 7323 §2.3 says a value above 14 is an error to log
 * but MUST be treated as 14. Negative or non-integer input gives 0.
 *
 * @example
 * ```ts
 * clampReceivedShift(15); // 14
 * ```
 */
export function clampReceivedShift(shift: number): number {
  if (!(shift > 0)) return 0;
  return shift > MAX_WINDOW_SHIFT ? MAX_WINDOW_SHIFT : shift | 0;
}

/**
 * The 16-bit Window field for a window of `windowBytes` under `shift`: `windowBytes >> shift`,
 * rounded down and saturated at 65535. Rounding down can move the advertised right edge left
 * by up to `2**shift - 1` bytes; a caller that must never shrink the window (RFC 9293
 * §3.8.6.2.2) keeps its window a multiple of `2**shift` or rounds up itself.
 *
 * @example
 * ```ts
 * encodeWindow(1000, 2); // 250
 * ```
 */
export function encodeWindow(windowBytes: number, shift: number): number {
  if (!(windowBytes > 0)) return 0;
  const field = Math.floor(windowBytes / (1 << shift));
  return field > MAX_WINDOW_FIELD ? MAX_WINDOW_FIELD : field;
}

/**
 * The window in bytes carried by a 16-bit Window field under `shift` (RFC 7323 §2.3:
 * `SND.WND = SEG.WND << Snd.Wind.Shift`). Not applied to SYN segments (RFC 7323 §2.2), whose
 * window is never scaled.
 *
 * @example
 * ```ts
 * decodeWindow(0xffff, 14); // 1_073_725_440
 * ```
 */
export function decodeWindow(field: number, shift: number): number {
  return (field & MAX_WINDOW_FIELD) * (1 << shift);
}
