/**
 * Small helpers every frame pump shares: the transmit bounds check, option
 * validation, the closed-driver error, receive-slot memory and alignment.
 *
 * @module
 */

import { GSO_NONE, type RxBatch, type TxOffload } from "../link/driver.ts";
import { ETH_HLEN } from "../ffi/constants.ts";
import { EBADF, SyscallError } from "../ffi/errno.ts";

/**
 * Validate an integer option in [min, max]; `fallback` when undefined. Throws RangeError
 * naming `driver` and the option. Set-up only.
 *
 * @example
 * ```ts
 * const rxSlots = intOption("TapDriver", "rxBatch", opts.rxBatch, 64, 1, 1024);
 * ```
 */
export function intOption(
  driver: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${driver}: ${name} must be ${min}..${max}, got ${value}`);
  }
  return value;
}

/**
 * The transmit bounds check every driver makes first: true when `frame[off, off + len)` is
 * inside `frame` and holds at least an Ethernet header. Allocation-free.
 *
 * @example
 * ```ts
 * if (!txFrameInBounds(frame, off, len)) { stats.txDropped++; return false; }
 * ```
 */
export function txFrameInBounds(frame: Uint8Array, off: number, len: number): boolean {
  return len >= ETH_HLEN && off >= 0 && off + len <= frame.length;
}

/**
 * True when `offload` asks the driver for something (a partial checksum to finish or a
 * super-frame to segment). Allocation-free.
 *
 * @example
 * ```ts
 * if (asksOffload(offload) && !this.vnetHdr) { stats.txDropped++; return false; }
 * ```
 */
export function asksOffload(offload: TxOffload | null): boolean {
  return offload !== null && (offload.needsCsum || offload.gsoType !== GSO_NONE);
}

/**
 * How many frames one `receive` may return: `max`, bounded by the batch's capacity and the
 * driver's own `limit`. Allocation-free.
 *
 * @example
 * ```ts
 * const want = rxWant(batch, max, this.rxSlots);
 * ```
 */
export function rxWant(batch: RxBatch, max: number, limit: number): number {
  let want = max < batch.capacity ? max : batch.capacity;
  if (want > limit) want = limit;
  return want;
}

/**
 * Fill entry `n` of `batch`: frame bytes `buf[off, off + len)` with `RX_*` flags `flags`.
 * Allocation-free.
 *
 * @example
 * ```ts
 * putRxFrame(batch, n, slot, vnetBytes, len, RX_CSUM_PARTIAL);
 * ```
 */
export function putRxFrame(
  batch: RxBatch,
  n: number,
  buf: Uint8Array,
  off: number,
  len: number,
  flags: number,
): void {
  batch.buf[n] = buf;
  batch.off[n] = off;
  batch.len[n] = len;
  batch.flags[n] = flags;
}

/**
 * `count` views of `bytes` each over one new block of memory: receive or staging slots made
 * once at open.
 *
 * @example
 * ```ts
 * const rxViews = slotViews(64, 65_600);
 * ```
 */
export function slotViews(count: number, bytes: number): Uint8Array[] {
  const block = new ArrayBuffer(count * bytes);
  const views = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) views[i] = new Uint8Array(block, i * bytes, bytes);
  return views;
}

/**
 * The error every call on a closed driver throws (EBADF).
 *
 * @example
 * ```ts
 * if (this.#closed) throw closedError("TapDriver", "transmit");
 * ```
 */
export function closedError(driver: string, op: string): SyscallError {
  return new SyscallError(op, EBADF, `${driver} is closed`);
}

/**
 * `n` rounded up to a multiple of `to` (any positive integer).
 *
 * @example
 * ```ts
 * roundUp(1514, 8); // 1520
 * ```
 */
export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
