/**
 * The routes of `ustack serve --http` as a fetch handler (`(Request) => Response`): `GET /` is
 * a small page, `GET /bytes/N` answers N bytes where byte i is `i % 251`, anything else 404
 * (405 for methods other than GET and HEAD). The same handler runs on `Deno.serve` in the
 * HTTP benchmark, so both servers do the same work.
 *
 * {@link httpResponder} answers the same routes below the fetch API (from the parsed head,
 * into a reused record: no `Request`, `Response` or `Headers`, nothing allocated) for bodies
 * up to one pattern slice; `serve --http` puts it in front of {@link httpRoutes}, which still
 * answers everything else (404, 405, streamed bodies).
 *
 * @module
 */

import type { HttpHead, RawResponse } from "../mod.ts";

/** 251 is prime, so `i % 251` never lines up with powers of two: a good integrity pattern. */
export const PATTERN_PERIOD = 251;
/** 256 periods of the pattern: any `/bytes/N` body is a run of slices of this. */
const PATTERN = Uint8Array.from({ length: PATTERN_PERIOD * 256 }, (_, i) => i % PATTERN_PERIOD);
/** Largest N served from one slice of {@link PATTERN}; longer bodies are streamed. */
const ONE_SLICE_BYTES = PATTERN.length;
/** Bytes per chunk of a streamed body (a whole number of periods). */
const CHUNK_BYTES = PATTERN_PERIOD * 256;
/** Largest N accepted (1 TB). */
const MAX_BYTES = 1e12;

const INDEX_PAGE = new TextEncoder().encode(
  "<!doctype html><html><head><title>ustack</title></head><body>" +
    "<h1>Hello from ustack</h1><p>This page was served by a user-space TCP/IP stack " +
    'written in TypeScript.</p><p>Try <a href="/bytes/1000">/bytes/N</a>.</p></body></html>\n',
);
const HTML_HEADERS = { "content-type": "text/html; charset=utf-8", server: "ustack" };
const TEXT_HEADERS = { "content-type": "text/plain", server: "ustack" };
const BYTES_RE = /^\/bytes\/(\d{1,13})$/;
const encoder = new TextEncoder();
const HTML_FIELDS = encoder.encode("content-type: text/html; charset=utf-8\r\nserver: ustack\r\n");
const BYTES_FIELDS = encoder.encode("content-type: application/octet-stream\r\nserver: ustack\r\n");
const BYTES_PREFIX = "/bytes/";

/** The path of a request URL (no query), without building a `URL`. */
function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (slash < 0) return "/";
  const q = url.indexOf("?", slash);
  return q < 0 ? url.slice(slash) : url.slice(slash, q);
}

/** Where the path of a request target starts (after `http://host` in absolute form); -1: none. */
function pathStart(target: string): number {
  if (target.charCodeAt(0) === 47 /* / */) return 0;
  const scheme = target.indexOf("://");
  return scheme < 0 ? -1 : target.indexOf("/", scheme + 3);
}

/** N of a `/bytes/N` path starting at `target[at]` (a query after it is ignored), or -1. */
function bytesCount(target: string, at: number): number {
  if (!target.startsWith(BYTES_PREFIX, at)) return -1;
  let n = 0;
  let digits = 0;
  let i = at + BYTES_PREFIX.length;
  for (; i < target.length; i++) {
    const d = target.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
    digits++;
  }
  if (digits === 0 || digits > 13) return -1;
  return i === target.length || target.charCodeAt(i) === 63 /* ? */ ? n : -1;
}

/**
 * The `GET /` page and `GET /bytes/N` bodies (N up to one pattern slice) of {@link httpRoutes},
 * answered below the fetch API: fills `res` and returns true, or false to leave the request
 * to {@link httpRoutes} (other methods, paths, longer bodies).
 *
 * @example
 * ```ts
 * import { HttpHead, RawResponse } from "../mod.ts";
 * const head = new HttpHead();
 * head.method = "GET";
 * head.target = "/bytes/3";
 * const res = new RawResponse();
 * httpResponder(head, res); // true; res.body.subarray(0, res.bodyLength) is [0, 1, 2]
 * ```
 */
export function httpResponder(head: HttpHead, res: RawResponse): boolean {
  const method = head.method;
  if (method !== "GET" && method !== "HEAD") return false;
  const target = head.target;
  const at = pathStart(target);
  if (at < 0) return false;
  const end = target.length;
  if (end === at + 1 || target.charCodeAt(at + 1) === 63 /* ? */) {
    res.set(200, HTML_FIELDS, INDEX_PAGE, INDEX_PAGE.length);
    return true;
  }
  const n = bytesCount(target, at);
  if (n < 0 || n > ONE_SLICE_BYTES) return false;
  res.set(200, BYTES_FIELDS, PATTERN, n);
  return true;
}

/** A body of `n` pattern bytes, streamed in {@link CHUNK_BYTES} slices. */
function patternStream(n: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const len = Math.min(CHUNK_BYTES, n - sent);
      // Every chunk starts at a multiple of the period, so it is a prefix of PATTERN; a fresh
      // copy, since a consumer may keep or transfer what it is given.
      controller.enqueue(PATTERN.slice(0, len));
      sent += len;
      if (sent >= n) controller.close();
    },
  }, { highWaterMark: 0 });
}

/**
 * Answer one request of `serve --http`.
 *
 * @example
 * ```ts
 * const res = httpRoutes(new Request("http://198.18.0.2/bytes/3"));
 * console.log(new Uint8Array(await res.arrayBuffer())); // Uint8Array(3) [0, 1, 2]
 * ```
 */
export function httpRoutes(req: Request): Response {
  const method = req.method;
  if (method !== "GET" && method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: TEXT_HEADERS });
  }
  const path = pathOf(req.url);
  if (path === "/") return new Response(INDEX_PAGE, { headers: HTML_HEADERS });
  const m = BYTES_RE.exec(path);
  if (m === null || Number(m[1]) > MAX_BYTES) {
    return new Response("not found\n", { status: 404, headers: TEXT_HEADERS });
  }
  const n = Number(m[1]);
  const headers = {
    "content-type": "application/octet-stream",
    "content-length": String(n),
    server: "ustack",
  };
  if (n <= ONE_SLICE_BYTES) return new Response(PATTERN.slice(0, n), { headers });
  return new Response(patternStream(n), { headers });
}
