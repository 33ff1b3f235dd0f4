/**
 * Writing a fetch `Response` as an HTTP/1.1 response (RFC 9112 §4, §6): status line, the
 * response's fields (minus the hop-by-hop ones this writer decides itself), a `date`, and the
 * framing — Content-Length when the length is known (given by the handler, or the body turned
 * out to be one chunk), chunked otherwise, or the end of the connection for an HTTP/1.0 client.
 * Small responses leave in one write with their head.
 *
 * @module
 */

import { LAST_CHUNK, writeChunkHeader } from "./chunked.ts";
import { type ConnWriter, NO_BYTES } from "./conn_io.ts";
import { fieldList, staticBody } from "./fetch_internals.ts";
import { httpDate } from "./http_date.ts";
import { encodeRawResponse, type RawResponse, rawResponseBytes } from "./raw_response.ts";
import { reasonPhrase } from "./status.ts";

/** Head plus body up to this size is copied into one buffer and written at once. */
const COALESCE_BYTES = 16 * 1024;
/**
 * A body whose declared length is at most this is read whole with `bytes()`, which for a
 * string or bytes body never builds a stream (the cheap path of small responses).
 */
const WHOLE_BODY_BYTES = 64 * 1024;
/** Microtask turns to wait for a body's second read to show the body is already complete. */
const SETTLE_TURNS = 3;

const encoder = new TextEncoder();
const CRLF = new Uint8Array([13, 10]);

/**
 * The Connection field a response needs: `close` when the connection ends after it, and for
 * an HTTP/1.0 client that asked to keep it, `keep-alive` (RFC 9112 §9.3: 1.0 defaults to close).
 */
function connectionField(close: boolean, minor: number): string {
  if (close) return "connection: close\r\n";
  return minor === 0 ? "connection: keep-alive\r\n" : "";
}

/** Statuses whose responses never have a body (RFC 9110 §6.4.1). */
function isNullBodyStatus(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** A response's framing and connection choices, after {@link ResponseWriter.write}. */
export interface WriteResult {
  /** Body bytes written. */
  bodyBytes: number;
  /** The connection must close after this response. */
  close: boolean;
}

/**
 * Writes responses on one connection, reusing its scratch buffer.
 *
 * @example
 * ```ts ignore
 * const rw = new ResponseWriter(writer);
 * const { close } = await rw.write(new Response("hi"), { head: false, minor: 1, keepAlive: true });
 * ```
 */
export class ResponseWriter {
  readonly #w: ConnWriter;
  #scratch: Uint8Array;
  /** Set once the status line is on its way: later failures can only abort. */
  headSent = false;
  // What the fields of the response being written said (set by #field).
  #close = false;
  #userLength = -1;
  #hasDate = false;
  #h = "";
  readonly #onField = (value: string, name: string): void => this.#field(value, name);

  /** A writer for responses on `w`, encoding into `scratch` (any old bytes; grown as needed). */
  constructor(w: ConnWriter, scratch: Uint8Array = new Uint8Array(4096)) {
    this.#w = w;
    this.#scratch = scratch;
  }

  /** The connection is done with: hand the scratch buffer back (for reuse). */
  release(): Uint8Array {
    const buf = this.#scratch;
    this.#scratch = NO_BYTES;
    return buf;
  }

  /** Take in one response field (`name` lowercase): framing and connection ones are ours. */
  #field(value: string, name: string): void {
    switch (name) {
      case "content-length":
        if (/^\d{1,15}$/.test(value)) this.#userLength = Number(value);
        return;
      case "transfer-encoding":
      case "keep-alive":
        return; // framing and connection management are ours
      case "connection":
        if (value.toLowerCase().includes("close")) this.#close = true;
        return;
      case "date":
        this.#hasDate = true;
        break;
    }
    this.#h += `${name}: ${value}\r\n`;
  }

  /** Copy `head` (latin1) into the scratch buffer, with room for `extra` bytes after it. */
  #encodeHead(head: string, extra: number): number {
    const need = head.length * 3 + extra;
    if (this.#scratch.length < need) {
      this.#scratch = new Uint8Array(Math.max(need, this.#scratch.length * 2));
    }
    const r = encoder.encodeInto(head, this.#scratch);
    if (r.written === head.length) return r.written; // ASCII: one byte per char
    // Field values are ByteStrings: one byte per char, not UTF-8.
    for (let i = 0; i < head.length; i++) this.#scratch[i] = head.charCodeAt(i) & 0xff;
    return head.length;
  }

  /** Write; null when the send buffer took it all at once (no promise, no microtask turn). */
  #send(buf: Uint8Array, off: number, len: number): Promise<void> | null {
    return this.#w.write(buf, off, len);
  }

  /** Send just a head (no body), e.g. an error or `100 Continue`. */
  async writeHead(head: string): Promise<void> {
    const n = this.#encodeHead(head, 0);
    this.headSent = true;
    const p = this.#send(this.#scratch, 0, n);
    if (p !== null) await p;
  }

  /**
   * Write a {@link RawResponse} (a responder's answer; `headOnly` for a HEAD request, `close`
   * when the connection ends after it): null when the send buffer took it at once, else a
   * promise that settles once it has.
   */
  writeRaw(
    res: RawResponse,
    headOnly: boolean,
    minor: number,
    close: boolean,
  ): Promise<void> | null {
    // A large body goes in a second write, straight from the responder's buffer.
    const apart = !headOnly && res.bodyLength > COALESCE_BYTES;
    const need = rawResponseBytes(res, headOnly || apart);
    if (this.#scratch.length < need) {
      this.#scratch = new Uint8Array(Math.max(need, this.#scratch.length * 2));
    }
    const n = encodeRawResponse(res, this.#scratch, headOnly || apart, minor, close);
    this.headSent = true;
    const p = this.#send(this.#scratch, 0, n);
    if (!apart) return p;
    return this.#sendAfter(p, res.body, res.bodyLength);
  }

  async #sendAfter(first: Promise<void> | null, body: Uint8Array, len: number): Promise<void> {
    if (first !== null) await first;
    const p = this.#send(body, 0, len);
    if (p !== null) await p;
  }

  /**
   * Write `res` for a request of HTTP/1.`minor` (`head`: a HEAD request). `keepAlive` says
   * whether the request allows another message on the connection.
   */
  async write(
    res: Response,
    req: { head: boolean; minor: number; keepAlive: boolean },
  ): Promise<WriteResult> {
    this.headSent = false;
    // A string or bytes body is sent as it is: `res.body` would build a stream for it (the
    // most expensive step of a small response). Read it first: touching `res.headers` turns
    // Deno's lazy response into a full one and drops the static form.
    const fixed = staticBody(res);
    const status = res.status;
    let h = this.#headFields(res, req.keepAlive);
    const close = this.#close;
    const userLength = this.#userLength;
    const body = fixed === undefined ? res.body : null;
    const hasBody = fixed !== undefined || body !== null;
    if (req.head || isNullBodyStatus(status) || !hasBody) {
      if (body !== null) body.cancel().catch(() => {});
      if (!isNullBodyStatus(status)) {
        const known = fixed === undefined
          ? -1
          : typeof fixed === "string"
          ? encoder.encode(fixed).length
          : fixed.length;
        const len = userLength >= 0 ? userLength : known >= 0 ? known : !hasBody ? 0 : -1;
        if (len >= 0) h += `content-length: ${len}\r\n`;
      }
      h += connectionField(close, req.minor) + "\r\n";
      await this.writeHead(h);
      return { bodyBytes: 0, close };
    }
    if (fixed !== undefined) {
      const r = this.#writeStatic(fixed, h, userLength, close, req.minor);
      return r instanceof Promise ? await r : r;
    }
    if (body === null) throw new Error("unreachable: a body that is neither static nor a stream");
    if (userLength >= 0 && userLength <= WHOLE_BODY_BYTES) {
      return await this.#writeWhole(res, h, userLength, close, req.minor);
    }
    const reader = body.getReader();
    try {
      return await this.#writeBody(reader, h, userLength, req.minor, close);
    } finally {
      reader.releaseLock();
    }
  }

  /**
   * Write `res` now when it needs no waiting to be laid out: a string or bytes body (not for
   * a HEAD request, nor a status without a body). Returns the result — a promise when the
   * send buffer could not take it all at once — or null, having written nothing, when
   * {@link write} must do it. Throws (before writing) when its content-length is wrong.
   */
  writeNow(
    res: Response,
    req: { head: boolean; minor: number; keepAlive: boolean },
  ): WriteResult | Promise<WriteResult> | null {
    if (req.head || isNullBodyStatus(res.status)) return null;
    const fixed = staticBody(res);
    if (fixed === undefined) return null;
    this.headSent = false;
    const h = this.#headFields(res, req.keepAlive);
    return this.#writeStatic(fixed, h, this.#userLength, this.#close, req.minor);
  }

  /**
   * The status line, the response's own fields and a `date`; sets {@link #close} and
   * {@link #userLength} from what the fields say.
   */
  #headFields(res: Response, keepAlive: boolean): string {
    const status = res.status;
    this.#close = !keepAlive;
    this.#userLength = -1;
    this.#hasDate = false;
    this.#h = `HTTP/1.1 ${status} ${res.statusText || reasonPhrase(status)}\r\n`;
    const list = fieldList(res);
    if (list !== null) {
      for (let i = 0; i < list.length; i++) this.#field(list[i][1], list[i][0].toLowerCase());
    } else res.headers.forEach(this.#onField); // (not the iterator: a fraction of the cost)
    let h = this.#h;
    this.#h = "";
    if (!this.#hasDate) h += `date: ${httpDate()}\r\n`;
    return h;
  }

  /**
   * A string or bytes body: head and body in one write (large bodies in two). The result at
   * once when the send buffer took it, else a promise.
   */
  #writeStatic(
    body: string | Uint8Array,
    h: string,
    userLength: number,
    close: boolean,
    minor: number,
  ): WriteResult | Promise<WriteResult> {
    const bytes = typeof body === "string" ? encoder.encode(body) : body;
    if (userLength >= 0 && userLength !== bytes.length) {
      throw new Error(`response body of ${bytes.length} bytes, content-length said ${userLength}`);
    }
    h += `content-length: ${bytes.length}\r\n${connectionField(close, minor)}\r\n`;
    this.headSent = true;
    const result: WriteResult = { bodyBytes: bytes.length, close };
    if (bytes.length > COALESCE_BYTES) {
      const headLen = this.#encodeHead(h, 0);
      return this.#sendAfter(this.#send(this.#scratch, 0, headLen), bytes, bytes.length)
        .then(() => result);
    }
    const headLen = this.#encodeHead(h, bytes.length);
    this.#scratch.set(bytes, headLen);
    const p = this.#send(this.#scratch, 0, headLen + bytes.length);
    return p === null ? result : p.then(() => result);
  }

  /** A small body of declared length: read it whole, send head and body in one write. */
  async #writeWhole(
    res: Response,
    h: string,
    length: number,
    close: boolean,
    minor: number,
  ): Promise<WriteResult> {
    const data = await res.bytes();
    if (data.length !== length) {
      throw new Error(`response body of ${data.length} bytes, content-length said ${length}`);
    }
    h += `content-length: ${length}\r\n${connectionField(close, minor)}\r\n`;
    const headLen = this.#encodeHead(h, length);
    this.#scratch.set(data, headLen);
    this.headSent = true;
    const p = this.#send(this.#scratch, 0, headLen + length);
    if (p !== null) await p;
    return { bodyBytes: length, close };
  }

  async #writeBody(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    h: string,
    userLength: number,
    minor: number,
    close: boolean,
  ): Promise<WriteResult> {
    const first = await reader.read();
    let chunk: Uint8Array | null = first.done ? null : toBytes(first.value);
    let next: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
    let ended = chunk === null;
    let length = userLength;
    if (length < 0) {
      if (chunk === null) length = 0;
      else {
        // One chunk and an already-closed stream (a string or bytes body): the length is
        // known, so no chunked coding. Give the second read a few microtask turns to settle.
        let settled: ReadableStreamReadResult<Uint8Array> | null = null;
        next = reader.read();
        next.then((r) => (settled = r), () => {});
        for (let i = 0; i < SETTLE_TURNS && settled === null; i++) await null;
        if (settled !== null && (settled as ReadableStreamReadResult<Uint8Array>).done) {
          length = chunk.length;
          ended = true;
        }
      }
    }
    const chunked = length < 0 && minor === 1;
    if (length < 0 && !chunked) close = true; // HTTP/1.0: the end of the connection frames it
    if (length >= 0) h += `content-length: ${length}\r\n`;
    else if (chunked) h += "transfer-encoding: chunked\r\n";
    h += connectionField(close, minor) + "\r\n";
    let sent = 0;
    const limit = length;
    const emit = async (data: Uint8Array, headLen: number): Promise<void> => {
      // `headLen` bytes of head are already in the scratch buffer.
      if (limit >= 0 && sent + data.length > limit) {
        throw new Error(`response body longer than its content-length ${limit}`);
      }
      let prefix = headLen;
      if (chunked) prefix += writeChunkHeader(this.#scratch, prefix, data.length);
      const total = prefix + data.length + (chunked ? 2 : 0);
      if (total <= COALESCE_BYTES || total <= this.#scratch.length) {
        if (this.#scratch.length < total) this.#grow(total, prefix);
        this.#scratch.set(data, prefix);
        if (chunked) this.#scratch.set(CRLF, prefix + data.length);
        await this.#send(this.#scratch, 0, total);
      } else {
        if (prefix > 0) await this.#send(this.#scratch, 0, prefix);
        await this.#send(data, 0, data.length);
        if (chunked) await this.#send(CRLF, 0, 2);
      }
      sent += data.length;
    };
    let headLen = this.#encodeHead(h, 0);
    this.headSent = true;
    if (chunk === null) await this.#send(this.#scratch, 0, headLen);
    else {
      await emit(chunk, headLen);
      headLen = 0;
      while (!ended) {
        const r = await (next ?? reader.read());
        if (r.done) break;
        next = reader.read();
        chunk = toBytes(r.value);
        // (the next read runs while this chunk is written)
        if (chunk.length > 0) await emit(chunk, 0);
      }
    }
    if (chunked) {
      await this.#send(LAST_CHUNK, 0, LAST_CHUNK.length);
    }
    if (limit >= 0 && sent !== limit) {
      throw new Error(`response body of ${sent} bytes, content-length said ${limit}`);
    }
    return { bodyBytes: sent, close };
  }

  #grow(total: number, keep: number): void {
    const bigger = new Uint8Array(Math.max(total, this.#scratch.length * 2));
    bigger.set(this.#scratch.subarray(0, keep));
    this.#scratch = bigger;
  }
}

/** A body chunk as bytes (streams of strings are not bodies; anything else is an error). */
function toBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new TypeError("a response body chunk must be a Uint8Array");
}
