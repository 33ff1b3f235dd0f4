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
import type { WaitQueue } from "../../core/event_mux.ts";
import { DenseSet } from "../../core/dense_set.ts";
import { giveScratch } from "./conn_io.ts";
import { defaultOnError, Exchanges, RAW_CLOSE, RAW_DECLINED, RAW_KEEP } from "./exchange.ts";
import { type HeadLimits, parseRequestHead } from "./head_parser.ts";
import {
  HttpConnection,
  PHASE_HANDLER,
  PHASE_HEAD,
  PHASE_IDLE,
  PHASE_LINGER,
  PHASE_WRITE,
} from "./http_connection.ts";
import type {
  HttpServerStats,
  ServeHandler,
  ServeHandlerInfo,
  ServeOptions,
} from "./serve_options.ts";

export type { HttpServerStats, ServeHandler, ServeHandlerInfo, ServeOptions };

/** After our FIN, wait this long for the client's before resetting. */
const LINGER_MS = 2000;

/**
 * The last connection the server finished, kept alive for its objects' maps (its `TcpConn`,
 * `ConnReader`, `ConnWriter`, `ResponseWriter`, `BodyReader`, `HttpHead`, `Activity`). The
 * request path's optimised code holds those maps weakly: a server whose clients all closed
 * holds no object of them, and the memory-reducing full GCs after a quiet spell (V8's memory
 * reducer, ~30 s) free the maps and throw away the code compiled against them — 30 of the 64
 * functions `serve --http` lost after a 30-s quiet (bench/README.md, branch `idle34`). One
 * finished connection is held (its buffers already given back: a few hundred bytes and its
 * closed endpoint), replaced at every finish, and let go when its server has finished: a
 * connection holds its stack, and a warm-up's stopped stack (its pools: +17 MB of external
 * memory, +1.9 MB of heap after `serve --http`'s warm-up) is not worth the maps.
 */
let lastFinished: HttpConnection | null = null;
/** The server {@link lastFinished} was finished by. */
let lastFinishedBy: HttpServer | null = null;

/** @internal The connection {@link lastFinished} holds (for tests). */
export function httpConnectionHeldForMaps(): object | null {
  return lastFinished;
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
  readonly #ex: Exchanges;
  readonly #limits: HeadLimits;
  readonly #idleMs: number;
  readonly #headersMs: number;
  readonly #ioMs: number;
  readonly #maxConnections: number;
  /** Open connections (a dense array, not a `Set`: see core/dense_set.ts). */
  readonly #conns = new DenseSet<HttpConnection>();
  readonly #sweepTimer: ReturnType<typeof setInterval>;
  #resolveFinished: () => void = () => {};
  #acceptDone = false;
  /** The listening address as a Host value, for requests without one. */
  #hostText: string | null = null;
  #closing = false;

  /** Serve `handler` on `tcp` (a listener the caller made); see {@link ServeOptions}. */
  constructor(tcp: TcpServer, options: ServeOptions, handler: ServeHandler) {
    this.#tcp = tcp;
    this.addr = tcp.addr;
    this.#limits = {
      maxHeadBytes: positive(options.maxHeaderBytes, 16 * 1024),
      maxHeaders: positive(options.maxHeaders, 100),
    };
    this.#ex = new Exchanges({
      handler,
      onError: options.onError ?? defaultOnError,
      responder: options.responder ?? null,
      maxBodyBytes: positive(options.maxBodyBytes, 64 * 1024 * 1024),
      stats: this.stats,
      closing: () => this.#closing,
      hostText: () => this.#hostFallback(),
    });
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
    const lwq = tcp.listener.wq;
    if (lwq.listener === null) {
      // Accept from the listener's readiness callback, in the tick that completed the
      // handshake: a request that came with the handshake's ACK is answered in that tick.
      lwq.listener = () => this.#acceptReady();
      this.#acceptReady();
    } else {
      this.#acceptLoop().catch(() => {}).finally(() => this.#acceptEnded());
    }
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  #acceptEnded(): void {
    this.#acceptDone = true;
    this.#maybeFinished();
  }

  /** Accept every waiting connection (the listener's readiness callback). */
  #acceptReady(): void {
    const tcp = this.#tcp;
    for (let conn = tcp.tryAccept(); conn !== null; conn = tcp.tryAccept()) this.#adopt(conn);
    if (tcp.closed && !this.#acceptDone) {
      tcp.listener.wq.listener = null;
      this.#acceptEnded();
    }
  }

  async #acceptLoop(): Promise<void> {
    for await (const conn of this.#tcp) this.#adopt(conn);
  }

  #adopt(conn: TcpConn): void {
    if (this.#closing || this.#conns.size >= this.#maxConnections) {
      this.stats.refused++;
      conn.abort();
      return;
    }
    this.stats.connections++;
    conn.setNoDelay(true);
    const c = new HttpConnection(conn, this.#limits.maxHeadBytes);
    this.#conns.add(c);
    const wq = conn.endpoint.wq;
    if (wq.listener === null) {
      c.evented = true;
      wq.owner = c;
      wq.listener = this.#onConnEvent;
      this.#pump(c);
    } else this.#carry(c, START_PARSE);
  }

  /** The readiness callback of every evented connection (one function: no closure each). */
  readonly #onConnEvent = (_events: number, wq: WaitQueue): void => {
    const c = wq.owner as HttpConnection;
    if (!c.busy && !c.done) this.#pump(c);
  };

  /**
   * Drive an evented connection as far as it goes without waiting: parse the requests that
   * are here and answer those the responder takes, at once; anything that must wait (the
   * fetch handler, a body, a write that does not fit, a refusal) goes to {@link #carry}.
   */
  #pump(c: HttpConnection): void {
    try {
      const r = c.reader;
      if (c.phase === PHASE_LINGER) return this.#drainLinger(c);
      for (;;) {
        if (r.length === 0 && this.#closing) return this.#lingerEvented(c);
        const n = r.length === 0
          ? 0
          : parseRequestHead(r.buf, r.start, r.end, c.head, this.#limits);
        if (n === 0) {
          const got = r.tryFill();
          if (got > 0) {
            if (c.phase === PHASE_IDLE) c.setPhase(PHASE_HEAD);
            continue;
          }
          if (got === -1) return; // the next readiness callback goes on
          if (got === 0 && r.length === 0) return this.#finish(c, true); // EOF between requests
          return this.#carry(c, START_PARSE); // EOF inside a head, or a head too large
        }
        if (n < 0) return this.#carry(c, START_PARSE); // refused: the async path answers
        r.consume(n);
        const raw = this.#ex.answerRaw(c);
        const next = raw === RAW_DECLINED ? this.#ex.handleNow(c) : raw;
        if (next === RAW_KEEP) {
          c.setPhase(r.length > 0 ? PHASE_HEAD : PHASE_IDLE);
          continue;
        }
        if (next === RAW_CLOSE) return this.#lingerEvented(c);
        return this.#carry(c, next as Promise<boolean>);
      }
    } catch {
      this.#finish(c, false);
    }
  }

  /** Half-close an evented connection and read until the client's FIN. */
  #lingerEvented(c: HttpConnection): void {
    c.setPhase(PHASE_LINGER);
    void c.conn.closeWrite();
    this.#drainLinger(c);
  }

  #drainLinger(c: HttpConnection): void {
    const r = c.reader;
    for (;;) {
      r.consume(r.length);
      const got = r.tryFill();
      if (got === -1) return;
      if (got === 0) return this.#finish(c, true);
    }
  }

  /** Close and forget a connection (once). */
  #finish(c: HttpConnection, graceful: boolean): void {
    if (c.done) return;
    c.done = true;
    if (c.evented) {
      const wq = c.conn.endpoint.wq;
      wq.listener = null;
      wq.owner = null;
    }
    if (graceful) c.conn.close();
    else c.conn.abort();
    // Its buffers serve the next connections (a connection per request allocated two each).
    giveScratch(c.reader.release());
    giveScratch(c.rw.release());
    this.#conns.delete(c);
    lastFinished = c;
    lastFinishedBy = this;
    this.#maybeFinished();
  }

  /**
   * Carry `c` through what must wait — from `start`: parse the buffered bytes
   * ({@link START_PARSE}), or wait for the request under way (a promise of whether the
   * connection goes on) — until it is idle again (evented connections go back to their
   * readiness callback) or closed.
   */
  #carry(c: HttpConnection, start: typeof START_PARSE | Promise<boolean>): void {
    c.busy = true;
    this.#run(c, start);
  }

  async #run(c: HttpConnection, start: typeof START_PARSE | Promise<boolean>): Promise<void> {
    let graceful = true;
    try {
      if (await this.#serveRequests(c, start)) {
        c.busy = false; // idle: the readiness callback takes over
        return;
      }
    } catch {
      graceful = false;
    }
    try {
      if (graceful && !c.done && c.conn.endpoint.stateName() !== "CLOSED") await this.#linger(c);
    } catch { /* reset below */ }
    this.#finish(c, graceful);
  }

  /** Half-close, then read until the client's FIN (bounded by the sweep) so no RST hits it. */
  async #linger(c: HttpConnection): Promise<void> {
    c.setPhase(PHASE_LINGER);
    await c.conn.closeWrite();
    const r = c.reader;
    r.consume(r.length);
    while (await r.fill()) r.consume(r.length);
  }

  /** Serve requests from `start` (see {@link #carry}); true when `c` is idle and evented. */
  async #serveRequests(
    c: HttpConnection,
    start: typeof START_PARSE | Promise<boolean>,
  ): Promise<boolean> {
    const r = c.reader;
    if (start !== START_PARSE && !(await start)) return false;
    for (;;) {
      c.setPhase(r.length > 0 ? PHASE_HEAD : PHASE_IDLE);
      let n: number;
      for (;;) {
        n = parseRequestHead(r.buf, r.start, r.end, c.head, this.#limits);
        if (n !== 0) break;
        if (c.phase === PHASE_LINGER || (this.#closing && c.phase === PHASE_IDLE)) return false;
        const got = r.tryFill();
        if (got === -1) {
          if (c.evented) return true; // nothing to do until more bytes come
          await c.conn.waitReadable();
          continue;
        }
        if (got <= 0) {
          if (!r.full) return false; // EOF (or reset) between requests: done
          n = -431;
          break;
        }
        if (c.phase === PHASE_IDLE) c.setPhase(PHASE_HEAD);
      }
      if (n < 0) {
        await this.#ex.refuse(c, -n);
        return false;
      }
      r.consume(n);
      const raw = this.#ex.answerRaw(c);
      const next = raw === RAW_DECLINED ? this.#ex.handleNow(c) : raw;
      if (next === RAW_CLOSE || (next !== RAW_KEEP && !(await next))) return false;
    }
  }

  #hostFallback(): string {
    return this.#hostText ??= formatHostPort(this.addr.hostname, this.addr.port);
  }

  /** Close connections whose phase outlived its timeout. */
  #sweep(): void {
    const now = performance.now();
    for (const c of this.#conns.toArray()) {
      if (c.phaseGen !== c.seenPhaseGen) {
        c.seenPhaseGen = c.phaseGen;
        c.phaseStartMs = now;
      }
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
      if (lastFinishedBy === this) lastFinished = lastFinishedBy = null;
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
      for (const c of this.#conns.toArray()) {
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

/** {@link HttpServer}'s async path starts by parsing the buffer (else from a promise). */
const START_PARSE = 10;

const TIMEOUT_408 = new TextEncoder().encode(
  "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
);

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}
