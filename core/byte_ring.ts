/**
 * A byte ring buffer for socket send and receive buffers.
 *
 * Bytes are addressed by their *offset* from the read pointer: offsets `[0, length)` are
 * readable, offsets `[length, capacity)` are free. TCP uses the free part too: out-of-order
 * data is stored at its final place with {@link ByteRing.writeAt} and becomes readable with
 * {@link ByteRing.commit} once the hole before it is filled; retransmissions re-read sent but
 * unacknowledged bytes with {@link ByteRing.peek} or {@link ByteRing.readableSpan} and drop them
 * with {@link ByteRing.consume} when acknowledged.
 *
 * Storage: a ring built with a {@link RingStoragePool} holds no memory until it is first
 * written, takes the smallest pool chunk that fits what it holds, grows (doubling, one copy)
 * as more arrives, and gives the chunk back the moment it is empty again — its *capacity* is
 * a limit, not an allocation, so an idle socket costs no buffer. A ring built without a pool
 * allocates its whole capacity at once and keeps it.
 *
 * Data methods never throw, and allocate only when a pooled ring grows: lengths are clipped to what fits or exists, and
 * the count actually moved is returned. One deliberate exception to "no allocation": a copy of
 * more than `SMALL_COPY_BYTES` (`core/copy_bytes.ts`) bytes goes through `Uint8Array.prototype.set` on a
 * transient `subarray` view, because JS has no offset-taking copy between two typed arrays and a
 * byte loop is 18× slower at 1460 bytes (0.9 µs vs 49 ns, Deno 2.9.6). Use
 * {@link ByteRing.readableSpan} / {@link ByteRing.writableSpan} to copy with no view at all.
 *
 * @example
 * ```ts
 * import { ByteRing } from "./byte_ring.ts";
 * const ring = new ByteRing(8);
 * ring.write(new Uint8Array([1, 2, 3]), 0, 3); // 3
 * const out = new Uint8Array(3);
 * ring.read(out, 0, 3); // 3, out = [1, 2, 3]
 * ```
 *
 * @module
 */

import { copyBytes } from "./copy_bytes.ts";
import type { RingStoragePool } from "./ring_storage.ts";
import type { SubarrayCache } from "./subarray_cache.ts";

/**
 * A caller-owned record that {@link ByteRing.readableSpan} and {@link ByteRing.writableSpan}
 * fill: `buf[off, off + len)` is one contiguous part of the ring's storage. Valid until the
 * next {@link ByteRing.resize}.
 */
export interface ByteSpan {
  /** The ring's backing storage. */
  buf: Uint8Array;
  /** Start of the span in `buf`. */
  off: number;
  /** Length of the span in bytes (0 when there is nothing). */
  len: number;
}

/** How many bytes of `arr` exist from `off` on, limited to `len` (0 for nonsense input). */
function clipToArray(arr: Uint8Array, off: number, len: number): number {
  if (!(off >= 0) || !(len > 0)) return 0;
  const avail = arr.length - off;
  return len < avail ? len : avail > 0 ? avail : 0;
}

/** The storage of a ring that holds none. */
const NO_STORAGE = new Uint8Array(0);

/**
 * Byte ring with read/peek/consume at the front, write/writeAt/commit at the back, and a
 * contents-preserving {@link ByteRing.resize} of its capacity.
 *
 * @example
 * ```ts
 * const rx = new ByteRing(16);
 * rx.writeAt(4, new Uint8Array([5, 6]), 0, 2); // out of order: offsets 4..5, not readable yet
 * rx.write(new Uint8Array([1, 2, 3, 4]), 0, 4); // the hole is filled: 4 readable
 * rx.commit(2); // 6 readable: 1 2 3 4 5 6
 * ```
 */
export class ByteRing {
  /** Storage (NO_STORAGE while a pooled ring holds none). */
  #buf: Uint8Array;
  /** Bytes of storage (`#buf.length`). */
  #size: number;
  /** Most readable bytes (the limit; storage may be smaller). */
  #capacity: number;
  /** Index in #buf of offset 0 (the read pointer). */
  #head = 0;
  /** Readable bytes. */
  #length = 0;
  /** Bytes from the read pointer that hold data: readable plus what writeAt stored beyond. */
  #extent = 0;
  /** Where storage comes from and goes back to; null: allocated once, kept. */
  readonly #pool: RingStoragePool | null;
  /** Storage size to start with when taking storage again (the last size held). */
  #sizeHint = 0;
  /** Where long copies out of the ring take their source views (null: a view per copy). */
  readonly #readViews: SubarrayCache | null;

  /**
   * A ring of `capacity` bytes (an integer ≥ 1); with `pool`, storage is taken from it on
   * demand and given back when the ring empties. With `readViews`, a long copy out of the ring
   * ({@link ByteRing.peek}, {@link ByteRing.read}) takes its source view from that table: a TCP
   * send ring whose segments start at the same places lap after lap (see
   * {@link ByteRing.runFrom}) copies them out with no view per segment.
   *
   * @throws {RangeError} if `capacity` is not a positive integer.
   */
  constructor(
    capacity: number,
    pool: RingStoragePool | null = null,
    readViews: SubarrayCache | null = null,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`ByteRing: capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#pool = pool;
    this.#readViews = readViews;
    if (pool === null) {
      this.#buf = new Uint8Array(capacity);
      this.#size = capacity;
    } else {
      this.#buf = NO_STORAGE;
      this.#size = 0;
    }
  }

  /** Total bytes the ring can hold. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Readable bytes stored. */
  get length(): number {
    return this.#length;
  }

  /** Bytes that can still be written (`capacity - length`); includes uncommitted `writeAt` data. */
  get free(): number {
    return this.#capacity - this.#length;
  }

  /** True when nothing is readable. */
  get isEmpty(): boolean {
    return this.#length === 0;
  }

  /** True when no byte can be written. */
  get isFull(): boolean {
    return this.#length === this.#capacity;
  }

  /** Bytes of storage held now (0 for a pooled ring that holds no data). */
  get storageBytes(): number {
    return this.#size;
  }

  /** Index in the storage of `offset` bytes past the read pointer (`offset ≤ size`). */
  #index(offset: number): number {
    const i = this.#head + offset;
    return i >= this.#size ? i - this.#size : i;
  }

  /** Make the storage hold offsets [0, end) (end ≤ capacity). Pooled rings only grow here. */
  #reserve(end: number): void {
    if (end <= this.#size) return;
    const pool = this.#pool!;
    const next = pool.take(end > this.#sizeHint ? end : this.#sizeHint);
    if (this.#extent > 0) this.#copyOut(0, next, 0, this.#extent, null);
    if (this.#size > 0) pool.give(this.#buf);
    this.#buf = next;
    this.#size = next.length;
    this.#sizeHint = this.#size;
    this.#head = 0;
  }

  /** A pooled ring that holds nothing gives its storage back. */
  #releaseIfEmpty(): void {
    if (this.#extent !== 0 || this.#pool === null || this.#size === 0) return;
    this.#pool.give(this.#buf);
    this.#buf = NO_STORAGE;
    this.#size = 0;
    this.#head = 0;
  }

  /**
   * Copy `n` bytes from `src[off..]` into the ring at `offset` (caller checked bounds), the
   * long source views from `views` when given.
   */
  #copyIn(
    offset: number,
    src: Uint8Array,
    off: number,
    n: number,
    views: SubarrayCache | null,
  ): void {
    const at = this.#index(offset);
    const first = this.#size - at;
    if (n <= first) {
      if (views !== null) views.copy(src, off, this.#buf, at, n);
      else copyBytes(src, off, this.#buf, at, n);
    } else {
      copyBytes(src, off, this.#buf, at, first);
      copyBytes(src, off + first, this.#buf, 0, n - first);
    }
  }

  /**
   * Copy `n` bytes from the ring at `offset` into `dst[off..]` (caller checked bounds), the long
   * source views from `views` when given.
   */
  #copyOut(
    offset: number,
    dst: Uint8Array,
    off: number,
    n: number,
    views: SubarrayCache | null,
  ): void {
    const at = this.#index(offset);
    const first = this.#size - at;
    if (views !== null) {
      if (n <= first) {
        views.copy(this.#buf, at, dst, off, n);
      } else {
        views.copy(this.#buf, at, dst, off, first);
        views.copy(this.#buf, 0, dst, off + first, n - first);
      }
    } else if (n <= first) {
      copyBytes(this.#buf, at, dst, off, n);
    } else {
      copyBytes(this.#buf, at, dst, off, first);
      copyBytes(this.#buf, 0, dst, off + first, n - first);
    }
  }

  /**
   * Append `src[off, off + len)` as readable data; copies as much as fits. With `views`, a long
   * copy that does not wrap takes its source view from that table (no view per copy: the
   * receive path, whose frames sit at the same offsets of a ring again and again).
   *
   * @returns bytes written (0 when full).
   */
  write(src: Uint8Array, off: number, len: number, views: SubarrayCache | null = null): number {
    let n = clipToArray(src, off, len);
    const free = this.#capacity - this.#length;
    if (n > free) n = free;
    if (n === 0) return 0;
    const end = this.#length + n;
    this.#reserve(end);
    this.#copyIn(this.#length, src, off, n, views);
    this.#length = end;
    if (end > this.#extent) this.#extent = end;
    return n;
  }

  /**
   * Copy up to `len` readable bytes into `dst[off..]` and consume them.
   *
   * @returns bytes read (0 when empty).
   */
  read(dst: Uint8Array, off: number, len: number): number {
    const n = this.peek(dst, off, 0, len);
    if (n > 0) this.consume(n);
    return n;
  }

  /**
   * Copy up to `len` readable bytes starting `fromOffset` bytes past the read pointer into
   * `dst[dstOff..]`, without consuming them. TCP rebuilds (re)transmitted segments from the send
   * buffer this way: `fromOffset` is `seq - SND.UNA`.
   *
   * @returns bytes copied (0 when `fromOffset ≥ length`).
   */
  peek(dst: Uint8Array, dstOff: number, fromOffset: number, len: number): number {
    if (!(fromOffset >= 0)) return 0;
    let n = clipToArray(dst, dstOff, len);
    const avail = this.#length - fromOffset;
    if (n > avail) n = avail;
    if (n <= 0) return 0;
    this.#copyOut(fromOffset, dst, dstOff, n, this.#readViews);
    return n;
  }

  /**
   * Readable bytes from `fromOffset` on that lie in one piece of the storage, before it wraps
   * (0 when `fromOffset ≥ length`). A sender that ends a segment there starts the next at the
   * storage's first byte: with full-sized segments after it, every lap through the storage
   * then puts its segments at the same places, which is what lets `readViews` reuse views.
   */
  runFrom(fromOffset: number): number {
    const avail = this.#length - fromOffset;
    if (!(fromOffset >= 0) || avail <= 0) return 0;
    const first = this.#size - this.#index(fromOffset);
    return avail < first ? avail : first;
  }

  /**
   * Drop up to `n` readable bytes from the front (acknowledged send data, or data handed out
   * zero-copy through {@link ByteRing.readableSpan}).
   *
   * @returns bytes dropped.
   */
  consume(n: number): number {
    if (!(n > 0)) return 0;
    if (n > this.#length) n = this.#length;
    this.#head = this.#index(n); // n ≤ size, so one wrap at most
    this.#length -= n;
    this.#extent -= n;
    if (this.#extent === 0) this.#releaseIfEmpty();
    return n;
  }

  /**
   * Store `src[off, off + len)` at `offset` bytes past the end of the readable data, without
   * making it readable (out-of-order TCP data goes to its final place: `offset` is
   * `SEG.SEQ - RCV.NXT`). Bytes that would fall beyond the capacity are not stored. Data so
   * stored survives {@link ByteRing.read}/{@link ByteRing.consume} and becomes readable with
   * {@link ByteRing.commit}; {@link ByteRing.write} writes over it from offset 0.
   *
   * `views` as for {@link ByteRing.write}.
   *
   * @returns bytes stored (a prefix of the input; 0 when `offset ≥ free`).
   */
  writeAt(
    offset: number,
    src: Uint8Array,
    off: number,
    len: number,
    views: SubarrayCache | null = null,
  ): number {
    if (!(offset >= 0)) return 0;
    let n = clipToArray(src, off, len);
    const room = this.#capacity - this.#length - offset;
    if (n > room) n = room;
    if (n <= 0) return 0;
    const end = this.#length + offset + n;
    this.#reserve(end);
    this.#copyIn(this.#length + offset, src, off, n, views);
    if (end > this.#extent) this.#extent = end;
    return n;
  }

  /**
   * Make `n` more bytes readable: the ones after the current end, filled earlier by
   * {@link ByteRing.writeAt} or through {@link ByteRing.writableSpan}. Clipped to `free`.
   *
   * @returns bytes committed.
   */
  commit(n: number): number {
    if (!(n > 0)) return 0;
    const free = this.#capacity - this.#length;
    if (n > free) n = free;
    this.#length += n;
    if (this.#length > this.#extent) {
      this.#reserve(this.#length);
      this.#extent = this.#length;
    }
    return n;
  }

  /**
   * Zero-copy read access: fill `out` with the contiguous run of readable bytes that starts
   * `fromOffset` bytes past the read pointer. Readable data is at most two runs; the second
   * starts at `fromOffset + out.len`.
   *
   * @example
   * ```ts
   * const ring = new ByteRing(8);
   * ring.write(new Uint8Array([1, 2, 3]), 0, 3);
   * const span: ByteSpan = { buf: new Uint8Array(0), off: 0, len: 0 };
   * const socketBuffer = new Uint8Array(3);
   * for (let at = 0; ring.readableSpan(at, span) > 0; at += span.len) {
   *   socketBuffer.set(span.buf.subarray(span.off, span.off + span.len), at);
   * }
   * ```
   *
   * @returns `out.len` (0 when `fromOffset ≥ length`).
   */
  readableSpan(fromOffset: number, out: ByteSpan): number {
    out.buf = this.#buf;
    const avail = this.#length - fromOffset;
    if (!(fromOffset >= 0) || avail <= 0) {
      out.off = 0;
      out.len = 0;
      return 0;
    }
    const at = this.#index(fromOffset);
    const first = this.#size - at;
    out.off = at;
    out.len = avail < first ? avail : first;
    return out.len;
  }

  /**
   * Zero-copy write access: fill `out` with the contiguous run of free space that starts
   * `fromOffset` bytes past the end of the readable data. Write into it, then
   * {@link ByteRing.commit} (in order) or leave it uncommitted (out of order). A pooled ring
   * takes (or grows) its storage here to hold the whole free part.
   *
   * @returns `out.len` (0 when `fromOffset ≥ free`).
   */
  writableSpan(fromOffset: number, out: ByteSpan): number {
    const avail = this.#capacity - this.#length - fromOffset;
    if (!(fromOffset >= 0) || avail <= 0) {
      out.buf = this.#buf;
      out.off = 0;
      out.len = 0;
      return 0;
    }
    this.#reserve(this.#capacity);
    out.buf = this.#buf;
    const at = this.#index(this.#length + fromOffset);
    const first = this.#size - at;
    const room = this.#capacity - this.#length - fromOffset;
    out.off = at;
    out.len = room < first ? room : first;
    return out.len;
  }

  /**
   * Change the capacity (receive-window auto-tuning), keeping the readable bytes and whatever
   * {@link ByteRing.writeAt} stored after them, up to the new capacity. A ring without a pool
   * allocates the new storage (call it from control paths, not per packet); a pooled ring only
   * moves its limit. Spans handed out before are stale.
   *
   * @throws {RangeError} if `newCapacity` is not an integer ≥ max(1, length).
   */
  resize(newCapacity: number): void {
    if (!Number.isInteger(newCapacity) || newCapacity < 1 || newCapacity < this.#length) {
      throw new RangeError(
        `ByteRing.resize: capacity must be an integer >= max(1, length ${this.#length}), ` +
          `got ${newCapacity}`,
      );
    }
    if (newCapacity === this.#capacity) return;
    if (this.#extent > newCapacity) this.#extent = newCapacity;
    this.#capacity = newCapacity;
    if (this.#pool !== null) {
      this.#releaseIfEmpty();
      return;
    }
    const next = new Uint8Array(newCapacity);
    const keep = newCapacity < this.#size ? newCapacity : this.#size;
    this.#copyOut(0, next, 0, keep, null);
    this.#buf = next;
    this.#size = newCapacity;
    this.#head = 0;
  }

  /** Forget all data (readable and uncommitted) and rewind; a pooled ring gives its storage back. */
  clear(): void {
    this.#head = 0;
    this.#length = 0;
    this.#extent = 0;
    this.#releaseIfEmpty();
  }
}
