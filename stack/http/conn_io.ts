/**
 * Buffered reading and writing on a {@link TcpConn} for protocol code (HTTP): a read buffer
 * that grows up to a bound and is compacted in place, and a writer that tries the send buffer
 * synchronously first, so a request already received or a response that fits costs no
 * promise. Both count their progress in `activity`, which timeouts compare between sweeps
 * instead of reading the clock on every call.
 *
 * @module
 */

import type { TcpConn } from "../tcp_conn.ts";

/** A zero-length buffer: what a released reader or writer holds. */
export const NO_BYTES: Uint8Array = new Uint8Array(0);

/**
 * Buffers of {@link SCRATCH_BYTES} given back by connections that ended, for the next ones:
 * a connection per request otherwise allocates (and zeroes) a read buffer and a response
 * scratch each. Bounded; shared by every connection of the process (one thread).
 */
const FREE_SCRATCH: Uint8Array[] = [];
/** Most buffers kept. */
const FREE_SCRATCH_MAX = 1024;
/** Size of a reused buffer. */
export const SCRATCH_BYTES = 4096;

/** A {@link SCRATCH_BYTES} buffer: a reused one if any (its old bytes are never exposed). */
export function takeScratch(): Uint8Array {
  return FREE_SCRATCH.pop() ?? new Uint8Array(SCRATCH_BYTES);
}

/** Give back a buffer from {@link takeScratch} (other sizes are left to the collector). */
export function giveScratch(buf: Uint8Array): void {
  if (buf.length === SCRATCH_BYTES && FREE_SCRATCH.length < FREE_SCRATCH_MAX) {
    FREE_SCRATCH.push(buf);
  }
}

/** Progress counter shared by a connection's reader and writer. */
export class Activity {
  /** Incremented on every read or write that moved bytes. */
  count = 0;
}

/**
 * A read buffer over a connection: bytes `buf[start, end)` are received and not yet consumed.
 *
 * @example
 * ```ts ignore
 * const r = new ConnReader(conn, 4096, 16384);
 * while (r.length < 4 && await r.fill()) {}
 * ```
 */
export class ConnReader {
  /** The buffer (replaced when it grows). */
  buf: Uint8Array;
  /** First unconsumed byte. */
  start = 0;
  /** End of received bytes. */
  end = 0;
  /** The peer's FIN was read (everything before it is in the buffer or consumed). */
  eof = false;
  readonly #conn: TcpConn;
  readonly #maxBytes: number;
  readonly #activity: Activity;

  /**
   * A reader on `conn` starting at `initialBytes` (in `initial` when given, a buffer of that
   * size whose old bytes do not matter), growing up to `maxBytes`.
   */
  constructor(
    conn: TcpConn,
    initialBytes: number,
    maxBytes: number,
    activity: Activity,
    initial?: Uint8Array,
  ) {
    this.#conn = conn;
    this.buf = initial ?? new Uint8Array(Math.min(initialBytes, maxBytes));
    this.#maxBytes = Math.max(initialBytes, maxBytes);
    this.#activity = activity;
  }

  /**
   * The connection is done with: hand the buffer back (for reuse) and read nothing more —
   * anything still holding this reader sees the end of the stream.
   */
  release(): Uint8Array {
    const buf = this.buf;
    this.buf = NO_BYTES;
    this.start = this.end = 0;
    this.eof = true;
    return buf;
  }

  /** Buffered, unconsumed bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** The buffer is at its bound and full: nothing more can be read into it. */
  get full(): boolean {
    return this.start === 0 && this.end === this.buf.length && this.buf.length >= this.#maxBytes;
  }

  /** Drop `n` bytes from the front. */
  consume(n: number): void {
    this.start += n;
    if (this.start >= this.end) this.start = this.end = 0;
  }

  /** Make room at the end: move the unconsumed bytes to the front, or grow. */
  #makeRoom(): boolean {
    if (this.end < this.buf.length) return true;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      return true;
    }
    if (this.buf.length >= this.#maxBytes) return false;
    const bigger = new Uint8Array(Math.min(this.#maxBytes, this.buf.length * 2));
    bigger.set(this.buf.subarray(0, this.end));
    this.buf = bigger;
    return true;
  }

  /**
   * Read what the connection has into the buffer without waiting: bytes read (> 0), 0 at EOF,
   * -1 when nothing is there yet, -2 when the buffer is full. Throws the connection's error.
   */
  tryFill(): number {
    if (this.eof) return 0;
    if (!this.#makeRoom()) return -2;
    const n = this.#conn.readInto(this.buf, this.end, this.buf.length - this.end);
    if (n > 0) {
      this.end += n;
      this.#activity.count++;
    } else if (n === 0) this.eof = true;
    return n;
  }

  /** Read more, waiting as needed: true when bytes came, false at EOF or when full. */
  async fill(): Promise<boolean> {
    for (;;) {
      const n = this.tryFill();
      if (n > 0) return true;
      if (n === 0 || n === -2) return false;
      await this.#conn.waitReadable();
    }
  }

  /**
   * Take up to `max` bytes as a fresh array: from the buffer if it holds any, else read
   * straight from the connection (no double copy for large bodies). null at EOF.
   */
  async take(max: number): Promise<Uint8Array | null> {
    for (;;) {
      if (this.length > 0) {
        const n = Math.min(max, this.length);
        const out = this.buf.slice(this.start, this.start + n);
        this.consume(n);
        return out;
      }
      if (this.eof) return null;
      const ready = this.#conn.endpoint.readableBytes;
      if (ready > 0) {
        const out = new Uint8Array(Math.min(max, ready));
        const n = this.#conn.readInto(out, 0, out.length);
        if (n > 0) {
          this.#activity.count++;
          return n === out.length ? out : out.subarray(0, n);
        }
      }
      const n = this.tryFill();
      if (n === 0) return null;
      if (n < 0) await this.#conn.waitReadable();
    }
  }
}

/**
 * Writes to a connection, synchronously while the send buffer takes the bytes.
 *
 * @example
 * ```ts ignore
 * const w = new ConnWriter(conn, activity);
 * const p = w.write(bytes, 0, bytes.length);
 * if (p !== null) await p;
 * ```
 */
export class ConnWriter {
  readonly #conn: TcpConn;
  readonly #activity: Activity;

  /** A writer on `conn`. */
  constructor(conn: TcpConn, activity: Activity) {
    this.#conn = conn;
    this.#activity = activity;
  }

  /**
   * Write `buf[off, off + len)`: null when the send buffer took all of it now, else a
   * promise that resolves once it has (rejects with the connection's error).
   */
  write(buf: Uint8Array, off: number, len: number): Promise<void> | null {
    const n = len > 0 ? this.#conn.writeFrom(buf, off, len) : 0;
    if (n > 0) this.#activity.count++;
    if (n === len) return null;
    return this.#rest(buf, off + n, len - n);
  }

  async #rest(buf: Uint8Array, off: number, len: number): Promise<void> {
    while (len > 0) {
      await this.#conn.waitWritable();
      const n = this.#conn.writeFrom(buf, off, len);
      if (n > 0) this.#activity.count++;
      else if (this.#conn.endpoint.stateName() === "CLOSED") {
        throw Object.assign(new Error("connection closed while writing"), { code: "EPIPE" });
      }
      off += n;
      len -= n;
    }
  }
}
