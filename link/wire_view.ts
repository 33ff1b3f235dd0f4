/**
 * The base of every packet view (smoltcp's "packet" idea): a window onto bytes that a layer
 * reads and writes at named offsets. One view object per layer is reused for every packet:
 * {@link WireView.attach} points it at new bytes, nothing is allocated.
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

/**
 * A reusable window `buf[off, off + len)`; subclasses add field accessors and `check()`.
 *
 * @example
 * ```ts
 * class TwoBytes extends WireView {
 *   get value(): number {
 *     return (this.buf[this.off] << 8) | this.buf[this.off + 1];
 *   }
 * }
 * new TwoBytes().attach(new Uint8Array([1, 2]), 0, 2).value; // 258
 * ```
 */
export class WireView {
  /** The bytes the view is attached to. */
  buf: Uint8Array = EMPTY;
  /** Offset of the header in `buf`. */
  off = 0;
  /** Bytes available from `off`. */
  len = 0;

  /** Point the view at `buf[off, off + len)`; returns `this`. */
  attach(buf: Uint8Array, off: number, len: number): this {
    this.buf = buf;
    this.off = off;
    this.len = len;
    return this;
  }
}
