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

  /** The big-endian 16-bit field at `at` bytes into the view. */
  protected get16(at: number): number {
    const o = this.off + at;
    return (this.buf[o] << 8) | this.buf[o + 1];
  }

  /** Store `v` as a big-endian 16-bit field at `at` bytes into the view. */
  protected set16(at: number, v: number): void {
    const o = this.off + at;
    this.buf[o] = v >>> 8;
    this.buf[o + 1] = v;
  }

  /** The big-endian 32-bit field at `at` bytes into the view (unsigned). */
  protected get32(at: number): number {
    const b = this.buf;
    const o = this.off + at;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }

  /** Store `v` as a big-endian 32-bit field at `at` bytes into the view. */
  protected set32(at: number, v: number): void {
    const b = this.buf;
    const o = this.off + at;
    b[o] = v >>> 24;
    b[o + 1] = v >>> 16;
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
  }
}
