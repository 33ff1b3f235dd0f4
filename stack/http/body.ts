/**
 * Message bodies on the wire (RFC 9112 §6): reading a body framed by Content-Length, by the
 * chunked coding, or by the end of the connection, as a pull-driven `ReadableStream` whose
 * chunks are fresh arrays; a size bound (for 413) and a way to drain what the application
 * left unread so the connection can carry the next message.
 *
 * @module
 */

import { ChunkedDecoder } from "./chunked.ts";
import type { ConnReader } from "./conn_io.ts";

/** No body. */
export const BODY_NONE = 0;
/** Content-Length bytes. */
export const BODY_LENGTH = 1;
/** Chunked coding. */
export const BODY_CHUNKED = 2;
/** Until the connection closes (responses only). */
export const BODY_UNTIL_CLOSE = 3;

/** Largest chunk handed to the application at once. */
const MAX_CHUNK_BYTES = 64 * 1024;

/** Why a body could not be read. */
export type BodyErrorKind = "too-large" | "malformed" | "truncated";

/** A body that could not be read: too large (413), malformed (400) or cut short. */
export class HttpBodyError extends Error {
  /** What went wrong. */
  readonly kind: BodyErrorKind;
  /** An error of `kind`. */
  constructor(kind: BodyErrorKind, message: string) {
    super(message);
    this.name = "HttpBodyError";
    this.kind = kind;
  }
}

/**
 * Reads one message body from a connection's reader.
 *
 * @example
 * ```ts ignore
 * const body = new BodyReader(reader, BODY_LENGTH, 5, 1 << 20);
 * for (let c = await body.next(); c !== null; c = await body.next()) console.log(c.length);
 * ```
 */
export class BodyReader {
  /** Payload bytes read so far. */
  received = 0;
  /** The whole body was read. */
  done: boolean;
  /** Called once, before the first read from the wire (100-continue hooks in here). */
  beforeFirstRead: (() => Promise<void> | null) | null = null;
  readonly #reader: ConnReader;
  readonly #mode: number;
  #remaining: number;
  readonly #maxBytes: number;
  #decoder: ChunkedDecoder | null = null;
  #failed: HttpBodyError | null = null;

  /** A body of `mode` (`BODY_*`) and, for BODY_LENGTH, `length` bytes; over `maxBytes` fails. */
  constructor(reader: ConnReader, mode: number, length: number, maxBytes: number) {
    this.#reader = reader;
    this.#mode = mode;
    this.#remaining = mode === BODY_LENGTH ? length : 0;
    this.#maxBytes = maxBytes;
    this.done = mode === BODY_NONE || (mode === BODY_LENGTH && length === 0);
    if (mode === BODY_CHUNKED) this.#decoder = new ChunkedDecoder();
  }

  /** The error that stopped reading, if any. */
  get error(): HttpBodyError | null {
    return this.#failed;
  }

  #fail(kind: BodyErrorKind, message: string): never {
    this.#failed = new HttpBodyError(kind, message);
    this.done = true;
    throw this.#failed;
  }

  #count(n: number): void {
    this.received += n;
    if (this.received > this.#maxBytes) {
      this.#fail("too-large", `body larger than ${this.#maxBytes} bytes`);
    }
  }

  /** The next piece of the body (a fresh array), or null at its end. Throws HttpBodyError. */
  async next(): Promise<Uint8Array | null> {
    if (this.#failed !== null) throw this.#failed;
    if (this.done) return null;
    if (this.beforeFirstRead !== null) {
      const hook = this.beforeFirstRead;
      this.beforeFirstRead = null;
      const p = hook();
      if (p !== null) await p;
    }
    const r = this.#reader;
    if (this.#mode === BODY_LENGTH) {
      const chunk = await r.take(Math.min(this.#remaining, MAX_CHUNK_BYTES));
      if (chunk === null) this.#fail("truncated", "connection closed inside the body");
      this.#remaining -= chunk.length;
      if (this.#remaining === 0) this.done = true;
      this.#count(chunk.length);
      return chunk;
    }
    if (this.#mode === BODY_UNTIL_CLOSE) {
      const chunk = await r.take(MAX_CHUNK_BYTES);
      if (chunk === null) {
        this.done = true;
        return null;
      }
      this.#count(chunk.length);
      return chunk;
    }
    const d = this.#decoder!;
    for (;;) {
      if (r.length > 0) {
        // Large chunk payloads: take them straight from the connection once the buffer is
        // drained, like a Content-Length body.
        const used = d.decode(r.buf, r.start, r.end);
        const out = d.dataEnd > d.dataStart ? r.buf.slice(d.dataStart, d.dataEnd) : null;
        r.consume(used);
        if (d.error) this.#fail("malformed", "malformed chunked coding");
        if (out !== null) {
          this.#count(out.length);
          if (d.done) this.done = true;
          return out;
        }
        if (d.done) {
          this.done = true;
          return null;
        }
        continue;
      }
      const inChunk = d.chunkRemaining;
      if (inChunk > 0) {
        const chunk = await r.take(Math.min(inChunk, MAX_CHUNK_BYTES));
        if (chunk === null) this.#fail("truncated", "connection closed inside the body");
        // Feed the payload through the decoder so its count stays right.
        d.decode(chunk, 0, chunk.length);
        this.#count(chunk.length);
        return chunk;
      }
      if (!(await r.fill())) {
        this.#fail("truncated", "connection closed inside the body");
      }
    }
  }

  /**
   * Read and drop the rest of the body, up to `limit` more bytes: true when the body ended
   * (the connection can carry another message), false when it was longer or broken.
   */
  async discard(limit: number): Promise<boolean> {
    if (this.#failed !== null) return false;
    if (this.#mode === BODY_LENGTH && this.#remaining > limit) return false;
    const stop = this.received + limit;
    try {
      while (!this.done) {
        if (this.received > stop) return false;
        await this.next();
      }
    } catch {
      return false;
    }
    return this.#failed === null;
  }

  /** The body as a stream; cancelling it only stops reading (the caller drains or closes). */
  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const chunk = await this.next();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        } catch (e) {
          controller.error(e);
        }
      },
    }, { highWaterMark: 0 });
  }
}
