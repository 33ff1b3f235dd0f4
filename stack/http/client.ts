/**
 * `rt.fetch()`: the client side of HTTP/1.1 over the stack's TCP, with the `fetch` signature.
 * Connections are kept per origin and reused (keep-alive, no pipelining); a request that
 * finds a reused connection closed before any answer is retried once on a fresh one.
 *
 * Supported: `http:` URLs whose host is a literal IPv4 or IPv6 address (`http://[fd00::1]/`)
 * or a name in the runtime's `hosts` map; request bodies of every `BodyInit` kind (a `ReadableStream` goes out chunked,
 * anything else with Content-Length); responses framed by Content-Length, chunked or the end
 * of the connection, streamed to `response.body`; `gzip`/`deflate` content codings decoded;
 * redirects (`follow`, `manual`, `error`, at most 20); `signal` aborts.
 * Not supported: `https:` (no TLS), DNS names, proxies, cookies, caching,
 * HTTP/2, `Expect: 100-continue` on the client side.
 *
 * @module
 */

import { formatHostAddress, formatHostPort, type HostsMap, resolveHost } from "../host_address.ts";
import type { TcpConn } from "../tcp_conn.ts";
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, BodyReader } from "./body.ts";
import { LAST_CHUNK, writeChunkHeader } from "./chunked.ts";
import { Activity, ConnReader, ConnWriter } from "./conn_io.ts";
import { HttpHead, parseResponseHead } from "./head_parser.ts";

/** Options of the client (`RuntimeConfig.http`). */
export interface HttpClientOptions {
  /** Host names to addresses, for URLs that do not use a literal address. */
  hosts?: HostsMap;
  /** Idle connections kept per origin [8]. */
  maxIdlePerOrigin?: number;
  /** An idle connection older than this is not reused [30000 ms]. */
  idleTimeoutMs?: number;
  /** Largest response head [65536]. */
  maxHeaderBytes?: number;
}

/** How the client opens a TCP connection. */
export type ConnectFn = (hostname: string, port: number) => Promise<TcpConn>;

const MAX_REDIRECTS = 20;
const encoder = new TextEncoder();
const CRLF = new Uint8Array([13, 10]);

/** One connection of the pool. */
class ClientConnection {
  readonly conn: TcpConn;
  readonly activity = new Activity();
  readonly reader: ConnReader;
  readonly writer: ConnWriter;
  readonly head = new HttpHead();
  idleSinceMs = 0;
  reused = false;

  constructor(conn: TcpConn, maxHeadBytes: number) {
    this.conn = conn;
    this.reader = new ConnReader(conn, 4096, maxHeadBytes + 1024, this.activity);
    this.writer = new ConnWriter(conn, this.activity);
  }

  /** Still fit to carry a request: established, nothing unexpected waiting. */
  get usable(): boolean {
    const ep = this.conn.endpoint;
    return ep.stateName() === "ESTABLISHED" && ep.readableBytes === 0 && this.reader.length === 0;
  }

  async send(buf: Uint8Array, off: number, len: number): Promise<void> {
    const p = this.writer.write(buf, off, len);
    if (p !== null) await p;
  }
}

/** A request ready to go on the wire. */
interface Outgoing {
  method: string;
  url: URL;
  headers: Headers;
  /** Buffered body (replayable), or a stream (sent chunked, not replayable), or none. */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
}

/** The answer is not there: the connection closed before any byte of it. */
class StaleConnectionError extends Error {}

/**
 * An HTTP/1.1 client with a connection pool.
 *
 * @example
 * ```ts ignore
 * const client = new HttpClient((host, port) => rt.connect({ hostname: host, port }));
 * const res = await client.fetch("http://198.18.0.1/");
 * console.log(res.status, await res.text());
 * ```
 */
export class HttpClient {
  readonly #connect: ConnectFn;
  readonly #hosts: HostsMap | undefined;
  readonly #maxIdle: number;
  readonly #idleMs: number;
  readonly #maxHeadBytes: number;
  readonly #idle = new Map<string, ClientConnection[]>();
  #closed = false;

  /** A client that opens connections with `connect`. */
  constructor(connect: ConnectFn, options: HttpClientOptions = {}) {
    this.#connect = connect;
    this.#hosts = options.hosts;
    this.#maxIdle = options.maxIdlePerOrigin ?? 8;
    this.#idleMs = options.idleTimeoutMs ?? 30_000;
    this.#maxHeadBytes = options.maxHeaderBytes ?? 64 * 1024;
  }

  /** Idle connections in the pool. */
  get idleConnections(): number {
    let n = 0;
    for (const list of this.#idle.values()) n += list.length;
    return n;
  }

  /** `fetch(input, init)` over the stack; see the module notes for what is supported. */
  async fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    if (this.#closed) throw new TypeError("fetch: the runtime is stopped");
    const req = new Request(input, init);
    const signal = req.signal;
    signal.throwIfAborted();
    let body: Uint8Array | ReadableStream<Uint8Array> | null = null;
    if (req.body !== null) {
      body = init?.body instanceof ReadableStream
        ? req.body
        : new Uint8Array(await req.arrayBuffer());
    }
    let out: Outgoing = {
      method: req.method,
      url: new URL(req.url),
      headers: new Headers(req.headers),
      body,
    };
    for (let redirects = 0;; redirects++) {
      const res = await this.#exchange(out, signal);
      const location = res.headers.get("location");
      if (!isRedirect(res.status) || location === null || req.redirect === "manual") {
        return withUrl(res, out.url.href, redirects > 0);
      }
      if (req.redirect === "error") {
        await res.body?.cancel();
        throw new TypeError(`fetch: redirect to ${location} (redirect: "error")`);
      }
      if (redirects >= MAX_REDIRECTS) throw new TypeError("fetch: too many redirects");
      await res.body?.cancel();
      out = redirected(out, res.status, new URL(location, out.url));
    }
  }

  /** One request/response on a pooled or new connection (one retry on a stale one). */
  async #exchange(out: Outgoing, signal: AbortSignal): Promise<Response> {
    if (out.url.protocol !== "http:") {
      throw new TypeError(`fetch: ${out.url.protocol} URLs are not supported (http: only)`);
    }
    const host = out.url.hostname;
    const addr = resolveHost(host, this.#hosts);
    const port = out.url.port === "" ? 80 : Number(out.url.port);
    const hostname = formatHostAddress(addr);
    const origin = formatHostPort(hostname, port);
    for (let attempt = 0;; attempt++) {
      const c = this.#take(origin) ??
        new ClientConnection(
          await this.#connect(hostname, port),
          this.#maxHeadBytes,
        );
      const onAbort = () => c.conn.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        return await this.#roundTrip(c, out, origin, signal, onAbort);
      } catch (e) {
        signal.removeEventListener("abort", onAbort);
        c.conn.abort();
        if (signal.aborted) throw signal.reason;
        const replayable = !(out.body instanceof ReadableStream);
        if (e instanceof StaleConnectionError && c.reused && attempt === 0 && replayable) continue;
        throw e instanceof StaleConnectionError
          ? new TypeError("fetch: the connection closed before a response arrived")
          : e;
      }
    }
  }

  #take(origin: string): ClientConnection | null {
    const list = this.#idle.get(origin);
    if (list === undefined) return null;
    const now = performance.now();
    while (list.length > 0) {
      const c = list.pop()!;
      if (c.usable && now - c.idleSinceMs < this.#idleMs) {
        c.reused = true;
        return c;
      }
      c.conn.close();
    }
    return null;
  }

  #release(origin: string, c: ClientConnection): void {
    if (this.#closed || !c.usable) {
      c.conn.close();
      return;
    }
    let list = this.#idle.get(origin);
    if (list === undefined) this.#idle.set(origin, list = []);
    if (list.length >= this.#maxIdle) {
      c.conn.close();
      return;
    }
    c.idleSinceMs = performance.now();
    list.push(c);
    // A server that closes an idle connection sends a FIN: answer it at once rather than
    // leaving the connection half-closed until the next request finds it unusable.
    c.conn.waitReadable().then(() => {
      const i = list.indexOf(c);
      if (i >= 0 && !c.usable) {
        list.splice(i, 1);
        c.conn.close();
      }
    });
  }

  async #roundTrip(
    c: ClientConnection,
    out: Outgoing,
    origin: string,
    signal: AbortSignal,
    onAbort: () => void,
  ): Promise<Response> {
    const streamed = out.body instanceof ReadableStream;
    let h = `${out.method} ${out.url.pathname}${out.url.search} HTTP/1.1\r\n`;
    if (!out.headers.has("host")) h += `host: ${out.url.host}\r\n`;
    if (!out.headers.has("accept")) h += "accept: */*\r\n";
    if (!out.headers.has("accept-encoding")) h += "accept-encoding: gzip, deflate\r\n";
    if (!out.headers.has("user-agent")) h += "user-agent: ustack\r\n";
    for (const [name, value] of out.headers) {
      if (name === "content-length" || name === "transfer-encoding" || name === "connection") {
        continue;
      }
      h += `${name}: ${value}\r\n`;
    }
    if (streamed) h += "transfer-encoding: chunked\r\n";
    else if (out.body !== null) h += `content-length: ${(out.body as Uint8Array).length}\r\n`;
    else if (out.method === "POST" || out.method === "PUT") h += "content-length: 0\r\n";
    h += "\r\n";
    const headBytes = latin1(h);
    try {
      await c.send(headBytes, 0, headBytes.length);
      if (out.body instanceof Uint8Array && out.body.length > 0) {
        await c.send(out.body, 0, out.body.length);
      }
    } catch {
      throw new StaleConnectionError();
    }
    if (streamed) await this.#sendChunked(c, out.body as ReadableStream<Uint8Array>);
    // The response head (skipping 1xx interim responses).
    const r = c.reader;
    const head = c.head;
    let n: number;
    for (;;) {
      n = parseResponseHead(r.buf, r.start, r.end, head, {
        maxHeadBytes: this.#maxHeadBytes,
        maxHeaders: 256,
      });
      if (n < 0) throw new TypeError("fetch: malformed HTTP response");
      if (n > 0) {
        r.consume(n);
        if (head.status >= 100 && head.status < 200 && head.status !== 101) continue;
        break;
      }
      const before = r.length;
      if (!(await r.fill())) {
        if (before === 0 && r.length === 0) throw new StaleConnectionError();
        throw new TypeError("fetch: the connection closed inside the response head");
      }
    }
    if (head.status === 101) throw new TypeError("fetch: protocol upgrades are not supported");
    const status = head.status;
    const noBody = out.method === "HEAD" || status === 204 || status === 304;
    let mode = BODY_UNTIL_CLOSE;
    if (noBody) mode = BODY_NONE;
    else if (head.chunked) mode = BODY_CHUNKED;
    else if (head.contentLength >= 0) mode = head.contentLength === 0 ? BODY_NONE : BODY_LENGTH;
    else if (head.hasTransferEncoding) mode = BODY_UNTIL_CLOSE;
    const reusable = head.keepAlive && mode !== BODY_UNTIL_CLOSE;
    const headers = head.pairs();
    const statusText = head.reason;
    const reader = new BodyReader(r, mode, head.contentLength, Number.POSITIVE_INFINITY);
    const finish = (ok: boolean) => {
      signal.removeEventListener("abort", onAbort);
      if (ok && reusable) this.#release(origin, c);
      else if (ok) c.conn.close();
      else c.conn.abort();
    };
    if (reader.done) {
      finish(true);
      return new Response(noBody || status < 200 ? null : new Uint8Array(0), {
        status,
        statusText,
        headers,
      });
    }
    let stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const chunk = await reader.next();
          if (chunk === null) {
            finish(true);
            controller.close();
          } else controller.enqueue(chunk);
        } catch (e) {
          finish(false);
          controller.error(signal.aborted ? signal.reason : e);
        }
      },
      cancel: () => finish(false),
    }, { highWaterMark: 0 });
    const coding = (headers.find(([k]) => k.toLowerCase() === "content-encoding")?.[1] ?? "")
      .toLowerCase();
    if (coding === "gzip" || coding === "x-gzip" || coding === "deflate") {
      const format = coding === "deflate" ? "deflate" : "gzip";
      stream = stream.pipeThrough(new DecompressionStream(format) as any);
    }
    return new Response(stream, { status, statusText, headers });
  }

  async #sendChunked(c: ClientConnection, body: ReadableStream<Uint8Array>): Promise<void> {
    const size = new Uint8Array(16);
    for await (const chunk of body) {
      if (chunk.length === 0) continue;
      const n = writeChunkHeader(size, 0, chunk.length);
      await c.send(size, 0, n);
      await c.send(chunk, 0, chunk.length);
      await c.send(CRLF, 0, 2);
    }
    await c.send(LAST_CHUNK, 0, LAST_CHUNK.length);
  }

  /** Close every idle connection; later fetches throw. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const c of list) c.conn.close();
    this.#idle.clear();
  }
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 ||
    status === 308;
}

/** The request to send after a redirect (fetch standard, HTTP-redirect fetch). */
function redirected(out: Outgoing, status: number, to: URL): Outgoing {
  if (out.body instanceof ReadableStream && status !== 303) {
    throw new TypeError("fetch: cannot follow a redirect with a streamed request body");
  }
  const headers = new Headers(out.headers);
  let method = out.method;
  let body = out.body;
  if (
    (status === 303 && method !== "HEAD") ||
    ((status === 301 || status === 302) && method === "POST")
  ) {
    method = "GET";
    body = null;
    for (const h of ["content-type", "content-encoding", "content-language", "content-location"]) {
      headers.delete(h);
    }
  }
  if (to.origin !== out.url.origin) headers.delete("authorization");
  headers.delete("host");
  return { method, url: to, headers, body };
}

/** Give a response the URL it came from (`Response` has no init field for it). */
function withUrl(res: Response, url: string, redirectedFlag: boolean): Response {
  Object.defineProperty(res, "url", { value: url });
  if (redirectedFlag) Object.defineProperty(res, "redirected", { value: true });
  return res;
}

/** One byte per char (header text is latin1). */
function latin1(s: string): Uint8Array {
  const out = encoder.encode(s);
  if (out.length === s.length) return out;
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}
