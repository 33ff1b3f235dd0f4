/**
 * The chunked transfer coding (RFC 9112 §7.1): an incremental decoder that finds the data in
 * whatever pieces the bytes arrive in, and the framing bytes the encoder writes around each
 * chunk. The decoder is a state machine over bytes, bounded (chunk-size digits, extension and
 * trailer bytes) and never throws: malformed input moves it to an error state.
 *
 * @module
 */

const CR = 13;
const LF = 10;

/** Most hex digits in a chunk size (2^52 − 1 bytes: beyond any real body, exact as a double). */
const MAX_SIZE_DIGITS = 13;
/** Most bytes of chunk extensions and trailer fields together, per body. */
export const MAX_CHUNK_METADATA_BYTES = 16 * 1024;

const S_SIZE = 0;
const S_SIZE_WS = 1;
const S_EXT = 2;
const S_SIZE_LF = 3;
const S_DATA = 4;
const S_DATA_CR = 5;
const S_DATA_LF = 6;
const S_TRAILER_START = 7;
const S_TRAILER = 8;
const S_TRAILER_LF = 9;
const S_FINAL_LF = 10;
const S_DONE = 11;
const S_ERROR = 12;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Decodes one chunked body. Feed it bytes with {@link decode}; after each call,
 * `dataStart`/`dataEnd` delimit the payload found (possibly empty), `done` says the last
 * chunk and the trailers were read, `error` that the coding is malformed.
 *
 * @example
 * ```ts
 * const d = new ChunkedDecoder();
 * const bytes = new TextEncoder().encode("3\r\nabc\r\n0\r\n\r\n");
 * let at = 0;
 * while (!d.done && !d.error) at += d.decode(bytes, at, bytes.length); // dataStart..dataEnd = "abc" once
 * ```
 */
export class ChunkedDecoder {
  /** Start of the payload found by the last {@link decode} call. */
  dataStart = 0;
  /** End of that payload (equal to `dataStart` when none). */
  dataEnd = 0;
  #state = S_SIZE;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #metadata = 0;

  /** The body ended (last chunk and trailer section read). */
  get done(): boolean {
    return this.#state === S_DONE;
  }

  /** The coding was malformed or over its limits. */
  get error(): boolean {
    return this.#state === S_ERROR;
  }

  /** Payload bytes still due in the current chunk. */
  get chunkRemaining(): number {
    return this.#state === S_DATA ? this.#remaining : 0;
  }

  /** Start over for a new body. */
  reset(): void {
    this.#state = S_SIZE;
    this.#size = 0;
    this.#digits = 0;
    this.#remaining = 0;
    this.#metadata = 0;
    this.dataStart = this.dataEnd = 0;
  }

  #fail(): number {
    this.#state = S_ERROR;
    return 0;
  }

  /**
   * Consume bytes from `buf[start, end)`: returns how many were consumed. Stops after at most
   * one run of payload (reported in `dataStart`/`dataEnd`), at the end of the body, or on an
   * error; call again with the rest.
   */
  decode(buf: Uint8Array, start: number, end: number): number {
    this.dataStart = this.dataEnd = start;
    let i = start;
    while (i < end) {
      const st = this.#state;
      if (st === S_DATA) {
        const n = Math.min(this.#remaining, end - i);
        this.dataStart = i;
        this.dataEnd = i + n;
        this.#remaining -= n;
        if (this.#remaining === 0) this.#state = S_DATA_CR;
        return i + n - start;
      }
      if (st === S_DONE || st === S_ERROR) break;
      const c = buf[i++];
      switch (st) {
        case S_SIZE: {
          const h = hexValue(c);
          if (h >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return this.#fail();
            this.#size = this.#size * 16 + h;
          } else if (this.#digits === 0) return this.#fail();
          else if (c === CR) this.#state = S_SIZE_LF;
          else if (c === 59 /* ; */) this.#state = S_EXT;
          else if (c === 32 || c === 9) this.#state = S_SIZE_WS; // BWS before ';' (§7.1.1)
          else return this.#fail();
          break;
        }
        case S_SIZE_WS:
          if (c === 59) this.#state = S_EXT;
          else if (c === CR) this.#state = S_SIZE_LF;
          else if (c !== 32 && c !== 9) return this.#fail();
          break;
        case S_EXT:
          // Extensions are skipped (§7.1.1: a recipient MUST ignore unrecognised ones).
          if (++this.#metadata > MAX_CHUNK_METADATA_BYTES) return this.#fail();
          if (c === CR) this.#state = S_SIZE_LF;
          else if (c === LF) return this.#fail();
          break;
        case S_SIZE_LF:
          if (c !== LF) return this.#fail();
          if (this.#size === 0) this.#state = S_TRAILER_START;
          else {
            this.#remaining = this.#size;
            this.#state = S_DATA;
          }
          this.#size = 0;
          this.#digits = 0;
          break;
        case S_DATA_CR:
          if (c !== CR) return this.#fail();
          this.#state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (c !== LF) return this.#fail();
          this.#state = S_SIZE;
          break;
        case S_TRAILER_START:
          if (c === CR) this.#state = S_FINAL_LF;
          else if (c === LF) return this.#fail();
          else {
            this.#metadata++;
            this.#state = S_TRAILER;
          }
          break;
        case S_TRAILER:
          // Trailer fields are read and dropped (§7.1.2 lets a recipient discard them).
          if (++this.#metadata > MAX_CHUNK_METADATA_BYTES) return this.#fail();
          if (c === CR) this.#state = S_TRAILER_LF;
          else if (c === LF) return this.#fail();
          break;
        case S_TRAILER_LF:
          if (c !== LF) return this.#fail();
          this.#state = S_TRAILER_START;
          break;
        case S_FINAL_LF:
          if (c !== LF) return this.#fail();
          this.#state = S_DONE;
          return i - start;
      }
    }
    return i - start;
  }
}

/** The `0\r\n\r\n` that ends a chunked body (no trailers). */
export const LAST_CHUNK: Uint8Array = new TextEncoder().encode("0\r\n\r\n");

/**
 * Write the size line of a chunk of `len` bytes (`hex CRLF`) into `buf` at `off`; returns the
 * bytes written (at most 15).
 *
 * @example
 * ```ts
 * const b = new Uint8Array(16);
 * writeChunkHeader(b, 0, 255); // 4: "ff\r\n"
 * ```
 */
export function writeChunkHeader(buf: Uint8Array, off: number, len: number): number {
  const hex = len.toString(16);
  for (let i = 0; i < hex.length; i++) buf[off + i] = hex.charCodeAt(i);
  buf[off + hex.length] = CR;
  buf[off + hex.length + 1] = LF;
  return hex.length + 2;
}
