/**
 * HTTP/1.x message heads (RFC 9112): the request line or status line, the header fields, and
 * what they say about framing and the connection. One parser for both directions, strict
 * where leniency enables request smuggling (RFC 9112 §11.2) and bounded everywhere:
 *
 * - lines end in CRLF; a bare CR or LF, a control character in a field value, whitespace
 *   before a field's colon (§5.1) or an obs-fold line (§5.2) make the head invalid (400);
 * - up to {@link MAX_LEADING_EMPTY_LINES} empty lines before a request line are skipped (§2.2);
 * - a head larger than the limit, or more than `maxHeaders` fields, is refused (431);
 * - Content-Length must be digits (a list of identical values is accepted, RFC 9110 §8.6);
 *   different values, or Content-Length with Transfer-Encoding in a request, are a 400
 *   (§6.3 ¶3), as is Transfer-Encoding in an HTTP/1.0 request (§6.1); a request whose
 *   Transfer-Encoding does not end in `chunked` is a 400 (§6.3 ¶4), another coding a 501;
 * - an HTTP/1.1 request needs exactly one Host (RFC 9112 §3.2); another HTTP major version
 *   is a 505; an Expect other than `100-continue` is a 417.
 *
 * Parsing never throws: it returns the head's length, 0 for "need more bytes", or the negated
 * status code to answer with. The record it fills ({@link HttpHead}) is reused per connection.
 *
 * @module
 */

/** Empty lines tolerated before a request line. */
export const MAX_LEADING_EMPTY_LINES = 8;

/** Limits of {@link parseHead}. */
export interface HeadLimits {
  /** Largest head in bytes, request/status line and CRLFCRLF included. */
  maxHeadBytes: number;
  /** Most header fields. */
  maxHeaders: number;
}

/** RFC 9110 §5.6.2 tchar, by byte. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Field-value bytes (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text. */
const VCHAR = new Uint8Array(256);
VCHAR[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) VCHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VCHAR[c] = 1;

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;

const asciiDecoder = new TextDecoder();

/** A decoded head; fields are overwritten by every parse. */
export class HttpHead {
  /** Request method (requests). */
  method: string = "";
  /** Request target as sent (requests). */
  target: string = "";
  /** Status code (responses). */
  status: number = 0;
  /** Reason phrase (responses). */
  reason: string = "";
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number = 1;
  /** Field names as received. */
  readonly names: string[] = [];
  /** Field values, trimmed. */
  readonly values: string[] = [];
  /** Number of fields. */
  count: number = 0;
  /** Content-Length, or -1 when absent. */
  contentLength: number = -1;
  /** Transfer-Encoding ends in chunked. */
  chunked: boolean = false;
  /** Transfer-Encoding present (responses: without chunked last, the body runs to close). */
  hasTransferEncoding: boolean = false;
  /** The connection may stay open after this message (version and Connection decide). */
  keepAlive: boolean = true;
  /** Expect: 100-continue. */
  expectContinue: boolean = false;
  /** The Host field's value ("" when absent). */
  host: string = "";

  #reset(): void {
    this.method = "";
    this.target = "";
    this.status = 0;
    this.reason = "";
    this.minor = 1;
    this.count = 0;
    this.contentLength = -1;
    this.chunked = false;
    this.hasTransferEncoding = false;
    this.keepAlive = true;
    this.expectContinue = false;
    this.host = "";
  }

  /** The fields as `[name, value]` pairs (a `HeadersInit`). */
  pairs(): [string, string][] {
    const out: [string, string][] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = [this.names[i], this.values[i]];
    return out;
  }

  /** The first value of field `lowerName`, or null. */
  get(lowerName: string): string | null {
    for (let i = 0; i < this.count; i++) {
      const n = this.names[i];
      if (n.length === lowerName.length && n.toLowerCase() === lowerName) return this.values[i];
    }
    return null;
  }

  /** @internal Start a parse. */
  begin(): void {
    this.#reset();
  }
}

/**
 * Find the end of a head: the index just past the first CRLFCRLF in `buf[from, end)`, or -1.
 * `from` may be where the previous search stopped (minus 3), so a head arriving in pieces is
 * scanned once.
 *
 * @example
 * ```ts
 * findHeadEnd(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), 0, 18); // 18
 * ```
 */
export function findHeadEnd(buf: Uint8Array, from: number, end: number): number {
  for (let i = Math.max(0, from); i + 3 < end; i++) {
    if (buf[i + 3] === LF && buf[i + 2] === CR && buf[i + 1] === LF && buf[i] === CR) return i + 4;
  }
  return -1;
}

/** The head bytes as a string with one char per byte (latin1), ASCII on the fast path. */
function headString(buf: Uint8Array, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return asciiDecoder.decode(buf.subarray(start, end));
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

/** A comma-separated list contains `token` (case-insensitive). */
function listHas(value: string, token: string): boolean {
  const v = value.toLowerCase();
  let i = 0;
  while (i <= v.length) {
    let j = v.indexOf(",", i);
    if (j < 0) j = v.length;
    if (v.slice(i, j).trim() === token) return true;
    i = j + 1;
  }
  return false;
}

/** Content-Length value (digits, or a list of identical digit runs) → number, or -1. */
function parseContentLength(v: string): number {
  let n = -1;
  for (const part of v.split(",")) {
    const p = part.trim();
    if (p.length === 0 || p.length > 15) return -1;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 48 || c > 57) return -1;
    }
    const x = Number(p);
    if (n >= 0 && x !== n) return -1;
    n = x;
  }
  return n;
}

/** Parse the header fields of `s` from `pos` (after the start line's CRLF); 0 or -status. */
function parseFields(
  s: string,
  pos: number,
  head: HttpHead,
  limits: HeadLimits,
  isRequest: boolean,
): number {
  const end = s.length - 2; // the final CRLF
  let hosts = 0;
  let te = "";
  let clSeen = false;
  while (pos < end) {
    const lineEnd = s.indexOf("\r\n", pos);
    if (lineEnd < 0 || lineEnd > end) return -400;
    const first = s.charCodeAt(pos);
    if (first === SP || first === HTAB) return -400; // obs-fold (RFC 9112 §5.2)
    let i = pos;
    while (i < lineEnd && TCHAR[s.charCodeAt(i)] === 1) i++;
    if (i === pos || i === lineEnd || s.charCodeAt(i) !== COLON) return -400;
    const name = s.slice(pos, i);
    i++;
    while (i < lineEnd && (s.charCodeAt(i) === SP || s.charCodeAt(i) === HTAB)) i++;
    let vEnd = lineEnd;
    while (vEnd > i && (s.charCodeAt(vEnd - 1) === SP || s.charCodeAt(vEnd - 1) === HTAB)) vEnd--;
    for (let k = i; k < vEnd; k++) if (VCHAR[s.charCodeAt(k)] !== 1) return -400;
    const value = s.slice(i, vEnd);
    if (head.count >= limits.maxHeaders) return -431;
    head.names[head.count] = name;
    head.values[head.count] = value;
    head.count++;
    pos = lineEnd + 2;
    // Fields that decide framing and the connection, matched by length first (cheap).
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          hosts++;
          head.host = value;
        }
        break;
      case 6:
        if (isRequest && name.toLowerCase() === "expect") {
          if (value.toLowerCase() !== "100-continue") return -417;
          head.expectContinue = true;
        }
        break;
      case 10:
        if (name.toLowerCase() === "connection") {
          if (listHas(value, "close")) head.keepAlive = false;
          else if (head.minor === 0 && listHas(value, "keep-alive")) head.keepAlive = true;
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          const n = parseContentLength(value);
          if (n < 0 || (clSeen && n !== head.contentLength)) return -400;
          clSeen = true;
          head.contentLength = n;
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          te = te === "" ? value : `${te},${value}`;
          head.hasTransferEncoding = true;
        }
        break;
    }
  }
  if (head.hasTransferEncoding) {
    const codings = te.toLowerCase().split(",").map((c) => c.trim()).filter((c) => c !== "");
    head.chunked = codings.length > 0 && codings[codings.length - 1] === "chunked";
    if (isRequest) {
      if (head.minor === 0) return -400; // RFC 9112 §6.1: faulty framing
      if (clSeen) return -400; // RFC 9112 §6.3 ¶3: reject rather than guess
      if (!head.chunked) return -400; // RFC 9112 §6.3 ¶4
      if (codings.length !== 1) return -501; // only chunked is implemented
    }
    head.contentLength = -1; // Transfer-Encoding overrides Content-Length (§6.3 ¶3)
  }
  if (isRequest && (hosts > 1 || (hosts === 0 && head.minor === 1))) return -400;
  return 0;
}

/** The version at `s[i, i+8)`: 0 or 1 for HTTP/1.0 / HTTP/1.1, -505 for others, -400 if bad. */
function parseVersion(s: string, i: number): number {
  if (s.slice(i, i + 5) !== "HTTP/") return -400;
  const major = s.charCodeAt(i + 5) - 48;
  const minor = s.charCodeAt(i + 7) - 48;
  if (!(major >= 0 && major <= 9) || s.charCodeAt(i + 6) !== 46 || !(minor >= 0 && minor <= 9)) {
    return -400;
  }
  if (major !== 1) return -505;
  return minor === 0 ? 0 : 1; // HTTP/1.x, x > 1: answer as 1.1 (RFC 9110 §2.5)
}

/** Check bytes for CR/LF only inside CRLF pairs; true if clean. */
function crlfClean(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === CR) {
      if (buf[i + 1] !== LF) return false;
      i++;
    } else if (c === LF || c === 0) return false;
  }
  return true;
}

/**
 * Parse a request head from `buf[start, end)` into `head`: returns the head's length in bytes
 * (> 0), 0 when more bytes are needed, or a negated status code (-400, -417, -431, -501,
 * -505) when the request must be refused. Never throws.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
 * const head = new HttpHead();
 * parseRequestHead(bytes, 0, bytes.length, head, { maxHeadBytes: 16384, maxHeaders: 100 }); // 28
 * ```
 */
export function parseRequestHead(
  buf: Uint8Array,
  start: number,
  end: number,
  head: HttpHead,
  limits: HeadLimits,
): number {
  // RFC 9112 §2.2: ignore a few empty lines before the request line.
  let s0 = start;
  for (let k = 0; k < MAX_LEADING_EMPTY_LINES && s0 + 1 < end; k++) {
    if (buf[s0] === CR && buf[s0 + 1] === LF) s0 += 2;
    else break;
  }
  const headEnd = findHeadEnd(buf, s0, Math.min(end, s0 + limits.maxHeadBytes));
  if (headEnd < 0) return end - s0 >= limits.maxHeadBytes ? -431 : 0;
  if (!crlfClean(buf, s0, headEnd)) return -400;
  head.begin();
  const s = headString(buf, s0, headEnd);
  // request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3)
  let i = 0;
  while (TCHAR[s.charCodeAt(i)] === 1) i++;
  if (i === 0 || s.charCodeAt(i) !== SP) return -400;
  head.method = s.slice(0, i);
  const t0 = ++i;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === SP) break;
    if (!(c > 0x20 && c !== 0x7f)) return -400;
    i++;
  }
  if (i === t0) return -400;
  head.target = s.slice(t0, i);
  const v = parseVersion(s, i + 1);
  if (v < 0) return v;
  if (s.charCodeAt(i + 9) !== CR) return -400;
  head.minor = v;
  head.keepAlive = v === 1;
  const r = parseFields(s, i + 11, head, limits, true);
  return r < 0 ? r : headEnd - start;
}

/**
 * Parse a response head (status line and fields) from `buf[start, end)`: the head's length,
 * 0 for "more bytes needed", or a negative number when it is malformed or too large.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\n");
 * const head = new HttpHead();
 * parseResponseHead(bytes, 0, bytes.length, head, { maxHeadBytes: 16384, maxHeaders: 100 }); // 27
 * ```
 */
export function parseResponseHead(
  buf: Uint8Array,
  start: number,
  end: number,
  head: HttpHead,
  limits: HeadLimits,
): number {
  const headEnd = findHeadEnd(buf, start, Math.min(end, start + limits.maxHeadBytes));
  if (headEnd < 0) return end - start >= limits.maxHeadBytes ? -431 : 0;
  if (!crlfClean(buf, start, headEnd)) return -400;
  head.begin();
  const s = headString(buf, start, headEnd);
  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF (RFC 9112 §4)
  const v = parseVersion(s, 0);
  if (v < 0) return -400;
  head.minor = v;
  head.keepAlive = v === 1;
  if (s.charCodeAt(8) !== SP) return -400;
  let status = 0;
  for (let k = 9; k < 12; k++) {
    const d = s.charCodeAt(k) - 48;
    if (!(d >= 0 && d <= 9)) return -400;
    status = status * 10 + d;
  }
  if (status < 100) return -400;
  head.status = status;
  const lineEnd = s.indexOf("\r\n");
  const c12 = s.charCodeAt(12);
  if (lineEnd > 12 && c12 !== SP) return -400;
  head.reason = lineEnd > 13 ? s.slice(13, lineEnd) : "";
  const r = parseFields(s, lineEnd + 2, head, limits, false);
  return r < 0 ? r : headEnd - start;
}
