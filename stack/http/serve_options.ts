/**
 * The options, handler and counter types of `rt.serve()` ({@link HttpServer}), in the shape of
 * `Deno.serve`'s.
 *
 * @module
 */

import type { TcpAddr } from "../tcp_conn.ts";
import type { HttpResponder } from "./raw_response.ts";

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
  /**
   * Answers requests without a body before the fetch handler, from the parsed head and
   * without `Request`/`Response` objects (a server's own fixed routes); what it declines (by
   * returning false) goes to the handler.
   */
  responder?: HttpResponder;
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
