/**
 * The routes of `ustack serve --http` as a fetch handler (`(Request) => Response`): `GET /` is
 * a small page, `GET /bytes/N` answers N bytes where byte i is `i % 251`, anything else 404
 * (405 for methods other than GET and HEAD). The same handler runs on `Deno.serve` in the
 * HTTP benchmark, so both servers do the same work.
 *
 * @module
 */

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

/** The path of a request URL (no query), without building a `URL`. */
function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const slash = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (slash < 0) return "/";
  const q = url.indexOf("?", slash);
  return q < 0 ? url.slice(slash) : url.slice(slash, q);
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
