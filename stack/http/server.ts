/**
 * `rt.serve()`: an HTTP/1.1 server over the stack's TCP with the shape of `Deno.serve` — a
 * fetch handler `(Request, info) => Response | Promise<Response>` and a server object with
 * `addr`, `finished` and `shutdown()` — so an app written for `Deno.serve` (a Hono app's
 * `app.fetch`, say) runs on ustack unchanged.
 *
 * Per connection, requests are read and answered one at a time, in order: pipelined requests
 * wait in the connection's read buffer (bounded by `maxHeaderBytes`) and in TCP's receive
 * window, never in an unbounded queue. Request bodies stream to the handler (Content-Length or
 * chunked, `Expect: 100-continue` answered when the handler first reads); response bodies
 * stream out with Content-Length when the length is known and chunked otherwise (RFC 9112 §6).
 * Malformed heads get 400 (and 417/431/501/505 as RFC 9112 says) and a close — never an
 * exception out of the loop; bodies over `maxBodyBytes` get 413. Idle keep-alive connections,
 * slow heads, stalled bodies and writes time out. `shutdown()` stops accepting, closes idle
 * connections, lets requests in flight finish (answered with `connection: close`) and
 * resolves once every connection is gone.
 *
 * Not implemented: protocol upgrades (WebSocket), HTTP/2, TLS, `request.signal` aborts.
 *
 * @module
 */

import { formatHostPort } from "../host_address.ts";
import type { TcpAddr, TcpConn, TcpServer } from "../tcp_conn.ts";
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BodyReader, HttpBodyError } from "./body.ts";
import {
  Activity,
  ConnReader,
  ConnWriter,
  giveScratch,
  SCRATCH_BYTES,
  takeScratch,
} from "./conn_io.ts";
import { type HeadLimits, HttpHead, parseRequestHead } from "./head_parser.ts";
import { ResponseWriter } from "./response_writer.ts";
import { reasonPhrase } from "./status.ts";

/** Options of {@link HttpServer} (`rt.serve(options, handler)`). */
export interface ServeOptions {
  /** TCP port (0 picks a free one). */
  port: number;
  /** Local address to listen on [any]. */
  hostname?: string;
  /** Called once listening [logs `Listening on http://HOST:PORT/`, as Deno.serve does]. */
  onListen?: (localAddr: TcpAddr) => void;
  /** Turns a handler exception into a response [logs it, answers 500]. */
  onError?: (error: unknown) => Response | Promise<Response>;
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
  /** Accept backlog [511]. */
  backlog?: number;
  /** Largest request head, request line and fields [16384]; larger gets 431. */
  maxHeaderBytes?: number;
  /** Most header fields [100]; more gets 431. */
  maxHeaders?: number;
  /** Largest request body [64 MiB]; larger gets 413. */
  maxBodyBytes?: number;
  /** Close a keep-alive connection after this long without a request [5000 ms]. */
  idleTimeoutMs?: number;
  /** A request head must be complete this long after its first byte [30000 ms]; else 408. */
  headersTimeoutMs?: number;
  /** Abort when a body read or a response write makes no progress for this long [60000 ms]. */
  ioTimeoutMs?: number;
  /** Most open connections [10000]; more are reset at once (counted in `stats.refused`). */
  maxConnections?: number;
}

/** What a handler learns besides the request (`Deno.ServeHandlerInfo`). */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: TcpAddr;
  /** Resolves when the response has been written, rejects if writing it failed. */
  readonly completed: Promise<void>;
}

/** A fetch handler. */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | Promise<Response>;

/** Counters of a server. */
export interface HttpServerStats {
  /** Connections accepted. */
  connections: number;
  /** Connections reset because `maxConnections` were open. */
  refused: number;
  /** Requests handed to the handler. */
  requests: number;
  /** Requests refused before the handler (400, 408, 413, 417, 431, 501, 505). */
  rejected: number;
  /** Handler exceptions (answered through `onError`). */
  handlerErrors: number;
  /** Connections closed by a timeout. */
  timeouts: number;
  /** Connections aborted because a response could not be written. */
  writeErrors: number;
  /** Response body bytes written. */
  bodyBytesOut: number;
}

const PHASE_IDLE = 0;
const PHASE_HEAD = 1;
const PHASE_HANDLER = 2;
const PHASE_WRITE = 3;
const PHASE_LINGER = 4;

/** After our FIN, wait this long for the client's before resetting. */
const LINGER_MS = 2000;
/** Unread request body bytes drained to keep a connection; more and it is closed. */
const MAX_DRAIN_BYTES = 256 * 1024;

/** One accepted connection and its state. */
class HttpConnection {
  readonly conn: TcpConn;
  readonly activity = new Activity();
  readonly reader: ConnReader;
  readonly rw: ResponseWriter;
  readonly head = new HttpHead();
  readonly remoteAddr: TcpAddr;
  /** The body of every request without one (it holds no state: shared per connection). */
  readonly noBody: BodyReader;
  phase = PHASE_IDLE;
  phaseStartMs = 0;
  /** A body read by the handler is outstanding: the I/O timeout applies. */
  bodyPending = false;
  seenActivity = -1;
  seenAtMs = 0;

  constructor(conn: TcpConn, maxHeadBytes: number) {
    this.conn = conn;
    this.reader = new ConnReader(
      conn,
      SCRATCH_BYTES,
      maxHeadBytes + 1024,
      this.activity,
      takeScratch(),
    );
    this.rw = new ResponseWriter(new ConnWriter(conn, this.activity), takeScratch());
    this.remoteAddr = conn.remoteAddr;
    this.noBody = new BodyReader(this.reader, BODY_NONE, 0, 0);
  }

  setPhase(phase: number): void {
    this.phase = phase;
    this.phaseStartMs = performance.now();
    this.activity.count++;
  }
}

/** The `info` argument; `completed` is made only when someone asks for it. */
class HandlerInfo implements ServeHandlerInfo {
  readonly remoteAddr: TcpAddr;
  #promise: Promise<void> | null = null;
  #resolve: (() => void) | null = null;
  #reject: ((e: unknown) => void) | null = null;
  #outcome: { error: unknown } | null | undefined = undefined;

  constructor(remoteAddr: TcpAddr) {
    this.remoteAddr = remoteAddr;
  }

  get completed(): Promise<void> {
    if (this.#promise === null) {
      if (this.#outcome === null) this.#promise = Promise.resolve();
      else if (this.#outcome !== undefined) this.#promise = Promise.reject(this.#outcome.error);
      else {
        this.#promise = new Promise<void>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
      }
      this.#promise.catch(() => {}); // a rejection nobody awaits is not an unhandled one
    }
    return this.#promise;
  }

  settle(error?: unknown): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = error === undefined ? null : { error };
    if (error === undefined) this.#resolve?.();
    else this.#reject?.(error);
  }
}

function defaultOnError(error: unknown): Response {
  console.error("ustack serve: the handler threw:", error);
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain;charset=UTF-8" },
  });
}

/**
 * An HTTP/1.1 server on a TCP listener (made by `rt.serve`).
 *
 * @example
 * ```ts ignore
 * const server = rt.serve({ port: 80 }, (req) => new Response(`hello ${req.url}\n`));
 * // … later
 * await server.shutdown();
 * ```
 */
export class HttpServer implements AsyncDisposable {
  /** The listening address. */
  readonly addr: TcpAddr;
  /** Resolves once the server stopped and every connection is closed. */
  readonly finished: Promise<void>;
  /** Counters. */
  readonly stats: HttpServerStats = {
    connections: 0,
    refused: 0,
    requests: 0,
    rejected: 0,
    handlerErrors: 0,
    timeouts: 0,
    writeErrors: 0,
    bodyBytesOut: 0,
  };
  readonly #tcp: TcpServer;
  readonly #handler: ServeHandler;
  readonly #onError: (error: unknown) => Response | Promise<Response>;
  readonly #limits: HeadLimits;
  readonly #maxBodyBytes: number;
  readonly #idleMs: number;
  readonly #headersMs: number;
  readonly #ioMs: number;
  readonly #maxConnections: number;
  readonly #conns = new Set<HttpConnection>();
  readonly #sweepTimer: ReturnType<typeof setInterval>;
  #resolveFinished: () => void = () => {};
  #acceptDone = false;
  #closing = false;

  /** Serve `handler` on `tcp` (a listener the caller made); see {@link ServeOptions}. */
  constructor(tcp: TcpServer, options: ServeOptions, handler: ServeHandler) {
    this.#tcp = tcp;
    this.#handler = handler;
    this.addr = tcp.addr;
    this.#onError = options.onError ?? defaultOnError;
    this.#limits = {
      maxHeadBytes: positive(options.maxHeaderBytes, 16 * 1024),
      maxHeaders: positive(options.maxHeaders, 100),
    };
    this.#maxBodyBytes = positive(options.maxBodyBytes, 64 * 1024 * 1024);
    this.#idleMs = positive(options.idleTimeoutMs, 5_000);
    this.#headersMs = positive(options.headersTimeoutMs, 30_000);
    this.#ioMs = positive(options.ioTimeoutMs, 60_000);
    this.#maxConnections = positive(options.maxConnections, 10_000);
    this.finished = new Promise<void>((resolve) => (this.#resolveFinished = resolve));
    const sweepMs = Math.max(10, Math.min(1000, Math.min(this.#idleMs, this.#headersMs) / 4));
    this.#sweepTimer = setInterval(() => this.#sweep(), sweepMs);
    const onListen = options.onListen ??
      ((a: TcpAddr) => console.log(`Listening on http://${formatHostPort(a.hostname, a.port)}/`));
    onListen(this.addr);
    options.signal?.addEventListener("abort", () => void this.shutdown(), { once: true });
    this.#acceptLoop().catch(() => {}).finally(() => {
      this.#acceptDone = true;
      this.#maybeFinished();
    });
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  async #acceptLoop(): Promise<void> {
    for await (const conn of this.#tcp) {
      if (this.#closing || this.#conns.size >= this.#maxConnections) {
        this.stats.refused++;
        conn.abort();
        continue;
      }
      this.stats.connections++;
      conn.setNoDelay(true);
      const c = new HttpConnection(conn, this.#limits.maxHeadBytes);
      this.#conns.add(c);
      this.#run(c);
    }
  }

  async #run(c: HttpConnection): Promise<void> {
    let graceful = true;
    try {
      await this.#serveRequests(c);
    } catch {
      graceful = false;
    }
    try {
      if (graceful && c.conn.endpoint.stateName() !== "CLOSED") await this.#linger(c);
    } catch { /* reset below */ }
    if (graceful) c.conn.close();
    else c.conn.abort();
    // Its buffers serve the next connections (a connection per request allocated two each).
    giveScratch(c.reader.release());
    giveScratch(c.rw.release());
    this.#conns.delete(c);
    this.#maybeFinished();
  }

  /** Half-close, then read until the client's FIN (bounded by the sweep) so no RST hits it. */
  async #linger(c: HttpConnection): Promise<void> {
    c.setPhase(PHASE_LINGER);
    await c.conn.closeWrite();
    const r = c.reader;
    r.consume(r.length);
    while (await r.fill()) r.consume(r.length);
  }

  async #serveRequests(c: HttpConnection): Promise<void> {
    const r = c.reader;
    for (;;) {
      c.setPhase(r.length > 0 ? PHASE_HEAD : PHASE_IDLE);
      let n: number;
      for (;;) {
        n = parseRequestHead(r.buf, r.start, r.end, c.head, this.#limits);
        if (n !== 0) break;
        if (c.phase === PHASE_LINGER || (this.#closing && c.phase === PHASE_IDLE)) return;
        if (!(await r.fill())) {
          if (!r.full) return; // EOF (or reset) between requests: done
          n = -431;
          break;
        }
        if (c.phase === PHASE_IDLE) c.setPhase(PHASE_HEAD);
      }
      if (n < 0) return await this.#refuse(c, -n);
      r.consume(n);
      if (!(await this.#handle(c))) return;
    }
  }

  /** Answer a request refused before the handler, then close. */
  async #refuse(c: HttpConnection, status: number): Promise<void> {
    this.stats.rejected++;
    const text = `${reasonPhrase(status)}\n`;
    await c.rw.writeHead(
      `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain\r\n` +
        `content-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`,
    );
  }

  /** Read one request's body framing, run the handler, write its response; true to go on. */
  async #handle(c: HttpConnection): Promise<boolean> {
    const head = c.head;
    const method = head.method;
    let mode = BODY_NONE;
    if (head.chunked) mode = BODY_CHUNKED;
    else if (head.contentLength > 0) mode = BODY_LENGTH;
    if (mode === BODY_LENGTH && head.contentLength > this.#maxBodyBytes) {
      await this.#refuse(c, 413);
      return false;
    }
    const body = mode === BODY_NONE
      ? c.noBody
      : new BodyReader(c.reader, mode, head.contentLength, this.#maxBodyBytes);
    let continueSent = false;
    if (head.expectContinue && head.minor === 1 && mode !== BODY_NONE) {
      body.beforeFirstRead = () => {
        continueSent = true;
        return c.rw.writeHead("HTTP/1.1 100 Continue\r\n\r\n");
      };
    }
    const t = head.target;
    let url: string;
    if (t.charCodeAt(0) === 47 /* / */) url = `http://${head.host || this.#hostFallback()}${t}`;
    else if (t.startsWith("http://") || t.startsWith("https://")) url = t;
    else {
      await this.#refuse(c, 400);
      return false;
    }
    const hasBody = mode !== BODY_NONE && method !== "GET" && method !== "HEAD";
    let request: Request;
    try {
      request = new Request(url, {
        method,
        headers: head.pairs(),
        body: hasBody ? body.stream() : null,
        // @ts-ignore: `duplex` is in the fetch standard, not yet in every RequestInit type
        duplex: "half",
      });
    } catch {
      await this.#refuse(c, 400);
      return false;
    }
    this.stats.requests++;
    c.setPhase(PHASE_HANDLER);
    c.bodyPending = !body.done;
    const info = new HandlerInfo(c.remoteAddr);
    let res: Response;
    try {
      const out = this.#handler(request, info);
      res = out instanceof Response ? out : await out;
      if (!(res instanceof Response)) throw new TypeError("the handler did not return a Response");
    } catch (e) {
      res = await this.#errorResponse(e);
    }
    c.bodyPending = false;
    c.setPhase(PHASE_WRITE);
    let keepAlive = head.keepAlive && !this.#closing;
    if (body.error !== null || (!body.done && head.expectContinue && !continueSent)) {
      keepAlive = false; // the body's framing is lost, or the client may never send it
    }
    try {
      const result = await c.rw.write(res, {
        head: method === "HEAD",
        minor: head.minor,
        keepAlive,
      });
      this.stats.bodyBytesOut += result.bodyBytes;
      keepAlive = !result.close;
      info.settle();
    } catch (e) {
      this.stats.writeErrors++;
      info.settle(e);
      throw e;
    }
    if (!keepAlive) return false;
    if (!body.done) return await body.discard(MAX_DRAIN_BYTES);
    return !this.#closing;
  }

  async #errorResponse(e: unknown): Promise<Response> {
    if (e instanceof HttpBodyError) {
      this.stats.rejected++;
      const status = e.kind === "too-large" ? 413 : 400;
      return new Response(`${reasonPhrase(status)}\n`, { status });
    }
    this.stats.handlerErrors++;
    try {
      return await this.#onError(e);
    } catch (e2) {
      return defaultOnError(e2);
    }
  }

  #hostFallback(): string {
    return formatHostPort(this.addr.hostname, this.addr.port);
  }

  /** Close connections whose phase outlived its timeout. */
  #sweep(): void {
    const now = performance.now();
    for (const c of this.#conns) {
      if (c.activity.count !== c.seenActivity) {
        c.seenActivity = c.activity.count;
        c.seenAtMs = now;
      }
      switch (c.phase) {
        case PHASE_IDLE:
          if (now - c.phaseStartMs > this.#idleMs) this.#closeGently(c);
          break;
        case PHASE_HEAD:
          if (now - c.phaseStartMs > this.#headersMs) {
            this.stats.timeouts++;
            // RFC 9110 §15.5.9: tell the slow client why, if the send buffer takes it now.
            try {
              c.conn.writeFrom(TIMEOUT_408, 0, TIMEOUT_408.length);
            } catch { /* closing anyway */ }
            this.#closeGently(c);
          }
          break;
        case PHASE_HANDLER:
        case PHASE_WRITE:
          if ((c.phase === PHASE_WRITE || c.bodyPending) && now - c.seenAtMs > this.#ioMs) {
            this.stats.timeouts++;
            c.conn.abort();
          }
          break;
        case PHASE_LINGER:
          if (now - c.phaseStartMs > LINGER_MS) c.conn.abort();
          break;
      }
    }
  }

  /** Send our FIN; the client's FIN (or the linger timeout) ends the connection. */
  #closeGently(c: HttpConnection): void {
    c.setPhase(PHASE_LINGER);
    void c.conn.closeWrite();
  }

  #maybeFinished(): void {
    if (this.#acceptDone && this.#conns.size === 0) {
      clearInterval(this.#sweepTimer);
      this.#resolveFinished();
    }
  }

  /**
   * Stop accepting, close idle connections, let requests in flight finish (their responses
   * say `connection: close`); resolves with {@link finished}.
   */
  shutdown(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#tcp.close();
      for (const c of this.#conns) {
        // A FIN tells an idle client to go; its FIN ends our pending read (or LINGER_MS does).
        if (c.phase === PHASE_IDLE && c.reader.length === 0) this.#closeGently(c);
      }
    }
    return this.finished;
  }

  /** `await using` support: graceful shutdown. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

const TIMEOUT_408 = new TextEncoder().encode(
  "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
);

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}
