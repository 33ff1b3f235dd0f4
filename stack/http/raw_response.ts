/**
 * Responses without the fetch API, for a server's own fixed routes: a responder
 * ({@link HttpResponder}, `ServeOptions.responder`) looks at the parsed request head and fills
 * a reused {@link RawResponse} — a status, its header fields already encoded, and a body of
 * bytes — which {@link encodeRawResponse} lays out behind a cached status line and `date`
 * field, with the framing this server decides (Content-Length, Connection), in one buffer.
 * No `Request`, `Response` or `Headers` object is made, nothing is allocated per request.
 *
 * @module
 */

import type { HttpHead } from "./head_parser.ts";
import { httpDate } from "./http_date.ts";
import { reasonPhrase } from "./status.ts";

/**
 * The answer a {@link HttpResponder} fills in. One record per server, reused: the responder
 * overwrites every field it answers with; what it refers to must stay unchanged until the
 * next request (constant route tables, shared pattern buffers).
 *
 * @example
 * ```ts
 * const res = new RawResponse();
 * res.set(200, new TextEncoder().encode("content-type: text/plain\r\n"), new Uint8Array(3), 3);
 * ```
 */
export class RawResponse {
  /** Status code (200–599; 1xx, 204 and 304 are not offered: they have no body). */
  status = 200;
  /** Header fields, encoded: `name: value\r\n` lines (never framing or connection fields). */
  fields: Uint8Array = new Uint8Array(0);
  /** The body is `body[0, bodyLength)`. */
  body: Uint8Array = new Uint8Array(0);
  /** Body length. */
  bodyLength = 0;

  /** Fill every field at once. */
  set(status: number, fields: Uint8Array, body: Uint8Array, bodyLength: number): void {
    this.status = status;
    this.fields = fields;
    this.body = body;
    this.bodyLength = bodyLength;
  }
}

/**
 * Answers a request from its head (method, target, fields; no body: a responder is asked only
 * about requests without one) by filling `res` and returning true, or returns false to leave
 * the request to the fetch handler. Called synchronously; it must not keep `head`.
 */
export type HttpResponder = (head: HttpHead, res: RawResponse) => boolean;

const encoder = new TextEncoder();
const CRLF_BYTES = encoder.encode("\r\n");
const CLOSE_BYTES = encoder.encode("connection: close\r\n");
const KEEP_ALIVE_BYTES = encoder.encode("connection: keep-alive\r\n");
const CONTENT_LENGTH_BYTES = encoder.encode("content-length: ");

/** Encoded status lines by code, made on first use (at most 500 of them). */
const STATUS_LINES: (Uint8Array | undefined)[] = new Array(600);

function statusLine(status: number): Uint8Array {
  let line = STATUS_LINES[status];
  if (line === undefined) {
    line = encoder.encode(`HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`);
    STATUS_LINES[status] = line;
  }
  return line;
}

let dateLineText = "";
let dateLine: Uint8Array = new Uint8Array(0);

/** `date: <IMF-fixdate>\r\n`, encoded again only when the second changes. */
function dateField(): Uint8Array {
  const text = httpDate();
  if (text !== dateLineText) {
    dateLineText = text;
    dateLine = encoder.encode(`date: ${text}\r\n`);
  }
  return dateLine;
}

/** Decimal digits of `n` (a safe non-negative integer) written at `buf[at]`; the count. */
function writeDecimal(buf: Uint8Array, at: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  for (let i = digits - 1, x = n; i >= 0; i--, x = Math.floor(x / 10)) buf[at + i] = 48 + (x % 10);
  return digits;
}

/** Bytes {@link encodeRawResponse} needs for `res` at most. */
export function rawResponseBytes(res: RawResponse, headOnly: boolean): number {
  return 96 + res.fields.length + dateField().length + (headOnly ? 0 : res.bodyLength);
}

/**
 * Write `res` as an HTTP/1.1 response into `buf` (at least {@link rawResponseBytes} long):
 * status line, fields, `date`, `content-length`, a Connection field when `close` (or, for an
 * HTTP/1.0 client kept open, `keep-alive`), and the body unless `headOnly` (a HEAD request).
 * Returns the bytes written.
 *
 * @example
 * ```ts
 * const res = new RawResponse();
 * res.set(200, new Uint8Array(0), new TextEncoder().encode("hi"), 2);
 * const buf = new Uint8Array(rawResponseBytes(res, false));
 * encodeRawResponse(res, buf, false, 1, false); // "HTTP/1.1 200 OK\r\ndate: …\r\ncontent-length: 2\r\n\r\nhi"
 * ```
 */
export function encodeRawResponse(
  res: RawResponse,
  buf: Uint8Array,
  headOnly: boolean,
  minor: number,
  close: boolean,
): number {
  let at = 0;
  const line = statusLine(res.status);
  buf.set(line, at);
  at += line.length;
  buf.set(res.fields, at);
  at += res.fields.length;
  const date = dateField();
  buf.set(date, at);
  at += date.length;
  buf.set(CONTENT_LENGTH_BYTES, at);
  at += CONTENT_LENGTH_BYTES.length;
  at += writeDecimal(buf, at, res.bodyLength);
  buf[at++] = 13;
  buf[at++] = 10;
  if (close) {
    buf.set(CLOSE_BYTES, at);
    at += CLOSE_BYTES.length;
  } else if (minor === 0) {
    buf.set(KEEP_ALIVE_BYTES, at);
    at += KEEP_ALIVE_BYTES.length;
  }
  buf.set(CRLF_BYTES, at);
  at += 2;
  if (!headOnly && res.bodyLength > 0) {
    const body = res.bodyLength === res.body.length
      ? res.body
      : res.body.subarray(0, res.bodyLength);
    buf.set(body, at);
    at += res.bodyLength;
  }
  return at;
}
