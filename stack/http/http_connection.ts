/**
 * The per-connection records of `rt.serve` ({@link HttpServer}): the connection's phase (what
 * its timeouts measure), its read buffer, response writer and parsed head, and the `info`
 * argument a handler gets. Between requests a connection is driven by its socket's readiness
 * callback (`evented`); a request that needs to wait (a handler's promise, a body, a write
 * that does not fit) is carried by one async task until the connection is idle again (`busy`).
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import type { TcpAddr, TcpConn } from "../tcp_conn.ts";
import { BODY_NONE, BodyReader } from "./body.ts";
import { Activity, ConnReader, ConnWriter, SCRATCH_BYTES, takeScratch } from "./conn_io.ts";
import { HttpHead } from "./head_parser.ts";
import { ResponseWriter } from "./response_writer.ts";
import type { ServeHandlerInfo } from "./serve_options.ts";

/** Waiting for a request (a keep-alive connection between requests). */
export const PHASE_IDLE = 0;
/** Part of a request head is here. */
export const PHASE_HEAD = 1;
/** The handler runs (maybe reading the body). */
export const PHASE_HANDLER = 2;
/** The response is being written. */
export const PHASE_WRITE = 3;
/** Our FIN is sent; waiting for the client's. */
export const PHASE_LINGER = 4;

/** One accepted connection and its state. */
export class HttpConnection {
  /** @internal Position in the server's connection set (core/dense_set.ts). */
  denseIndex = -1;
  readonly conn: TcpConn;
  readonly activity: Activity = new Activity();
  readonly reader: ConnReader;
  readonly rw: ResponseWriter;
  readonly head: HttpHead = new HttpHead();
  /** The body of every request without one (it holds no state: shared per connection). */
  readonly noBody: BodyReader;
  phase = PHASE_IDLE;
  /** Changes with every phase change; the sweep times a phase from when it first sees it. */
  phaseGen = 0;
  seenPhaseGen = -1;
  /** A double from the start: the sweep stores `performance.now()` (no map change then). */
  phaseStartMs = DOUBLE_ZERO;
  /** A body read by the handler is outstanding: the I/O timeout applies. */
  bodyPending = false;
  seenActivity = -1;
  seenAtMs = DOUBLE_ZERO;
  /** Driven by its socket's readiness callback while not {@link busy}. */
  evented = false;
  /** An async task carries the connection (the readiness callback leaves it alone). */
  busy = false;
  /** Closed and forgotten by the server. */
  done = false;
  #remoteAddr: TcpAddr | null = null;

  /** Buffers for `conn` (reused ones when the pool has them). */
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
    this.noBody = new BodyReader(this.reader, BODY_NONE, 0, 0);
  }

  /** The client's address (formatted on first use). */
  get remoteAddr(): TcpAddr {
    return this.#remoteAddr ??= this.conn.remoteAddr;
  }

  /** Enter `phase` (no clock read: the sweep notes the time it first sees the change). */
  setPhase(phase: number): void {
    this.phase = phase;
    this.phaseGen++;
    this.activity.count++;
  }
}

/** The `info` argument; `completed` is made only when someone asks for it. */
export class HandlerInfo implements ServeHandlerInfo {
  readonly #c: HttpConnection;
  #promise: Promise<void> | null = null;
  #resolve: (() => void) | null = null;
  #reject: ((e: unknown) => void) | null = null;
  #outcome: { error: unknown } | null | undefined = undefined;

  /** The info of a request on `c`. */
  constructor(c: HttpConnection) {
    this.#c = c;
  }

  /** The client's address. */
  get remoteAddr(): TcpAddr {
    return this.#c.remoteAddr;
  }

  /** Resolves when the response has been written, rejects if writing it failed. */
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

  /** The response was written (or, with `error`, failed). */
  settle(error?: unknown): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = error === undefined ? null : { error };
    if (error === undefined) this.#resolve?.();
    else this.#reject?.(error);
  }
}
