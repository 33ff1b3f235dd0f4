/**
 * The TCP services of `ustack serve`: echo (until the client half-closes), discard, and HTTP/1.1
 * (`GET /`, `GET /bytes/N` where byte i is `i % 251`) as a fetch handler on `rt.serve`.
 *
 * @module
 */

import {
  EV_ERROR,
  EV_HANGUP,
  EV_READABLE,
  EV_WRITABLE,
  type HttpServer,
  type Runtime,
  StackError,
  type TcpConn,
  type TcpServer,
} from "../mod.ts";
import { DenseSet } from "../core/dense_set.ts";
import { makeCounters } from "../core/counters.ts";
import { httpResponder, httpRoutes } from "./http_routes.ts";
import type { ServeService } from "./service.ts";

/** A service's counters. */
const SERVICE_COUNTERS = ["Connections", "Errors", "InBytes", "OutBytes"] as const;

/** A running TCP service: its listener and counters. */
export class TcpService implements ServeService {
  /** `kind/PORT`, e.g. `http/80`. */
  readonly name: string;
  /** The listening socket. */
  readonly server: TcpServer;
  /**
   * Connections accepted, failed (reset/aborted), bytes received and sent (the byte totals
   * start as doubles: see `makeCounters`).
   */
  readonly stats: Record<string, number> = makeCounters(SERVICE_COUNTERS);
  /** Open connections (a dense array, not a `Set`: see core/dense_set.ts). */
  readonly #conns = new DenseSet<TcpConn>();

  /** Listen on `port` and run `handle` for every connection. */
  constructor(
    rt: Runtime,
    kind: string,
    port: number,
    handle: (svc: TcpService, conn: TcpConn) => Promise<void>,
  ) {
    this.name = `${kind}/${port}`;
    const server = rt.listen({ port });
    this.server = server;
    (async () => {
      for await (const conn of server) {
        this.stats.Connections++;
        this.#conns.add(conn);
        handle(this, conn)
          .catch(() => {
            this.stats.Errors++;
            conn.abort();
          })
          .finally(() => {
            conn.close();
            this.#conns.delete(conn);
          });
      }
    })().catch(() => {});
  }

  /** Stop listening and close open connections. */
  close(): void {
    this.server.close();
    for (const c of this.#conns.toArray()) c.close();
    this.#conns.clear();
  }
}

/**
 * Bytes moved per step by the echo and discard services: one buffer for every connection,
 * filled and emptied in one synchronous step (never across an await), so a crowd of idle
 * connections holds no buffer of its own.
 */
const SHARED_SCRATCH = new Uint8Array(64 * 1024);

/**
 * Echo every byte back until the client half-closes, send what remains, then close. Bytes go
 * from the receive buffer to the send buffer in synchronous steps as far as room allows, and
 * the connection waits for readiness in between.
 */
export function startTcpEcho(rt: Runtime, port: number): TcpService {
  return new TcpService(rt, "tcp-echo", port, async (svc, conn) => {
    const ep = conn.endpoint;
    const buf = SHARED_SCRATCH;
    for (;;) {
      const readable = ep.readableBytes;
      const room = ep.writableBytes;
      if (readable > 0 && room > 0) {
        const n = ep.read(buf, 0, Math.min(readable, room, buf.length));
        ep.write(buf, 0, n);
        svc.stats.InBytes += n;
        svc.stats.OutBytes += n;
        rt.stack.requestTick();
        continue;
      }
      if (readable === 0) {
        // EOF, or the pending error (thrown), or nothing yet.
        if (ep.read(buf, 0, 1) === 0) break;
        await ep.wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
      } else {
        await ep.wq.wait(EV_WRITABLE | EV_ERROR | EV_HANGUP);
        if (ep.error !== null) throw new StackError(ep.takeError()!, "echo");
        if (ep.stateName() === "CLOSED") break;
      }
    }
    await conn.closeWrite();
  });
}

/**
 * Read and drop everything; close our side after the peer's FIN. The connection is consumed
 * (`TcpConn.consume` without a buffer): the bytes are dropped where they are received (Linux's
 * `MSG_TRUNC`), in-order data that arrives while nothing is buffered is not even copied into
 * the receive buffer, and a wake-up costs no promise, await or closure — the reads run in the
 * stack's tick, at the readiness delivery.
 */
export function startDiscard(rt: Runtime, port: number): TcpService {
  return new TcpService(rt, "discard", port, async (svc, conn) => {
    const stats = svc.stats;
    await conn.consume(null, (n) => {
      stats.InBytes += n;
    });
  });
}

/** `serve --http PORT`: the routes of `http_routes.ts` on `rt.serve`. */
export class HttpService implements ServeService {
  /** `http/PORT`. */
  readonly name: string;
  /** The HTTP server. */
  readonly server: HttpServer;

  /** Serve the `--http` routes on `port` (`idleTimeoutMs` as `rt.serve`'s, default 5 s). */
  constructor(rt: Runtime, port: number, idleTimeoutMs?: number) {
    this.name = `http/${port}`;
    this.server = rt.serve(
      { port, onListen: () => {}, responder: httpResponder, idleTimeoutMs },
      httpRoutes,
    );
  }

  /**
   * Connections, requests, requests refused before the handler (malformed, too large, …),
   * handler errors, timeouts and response body bytes.
   */
  get stats(): Record<string, number> {
    const s = this.server.stats;
    return {
      Connections: s.connections,
      Requests: s.requests,
      Rejected: s.rejected,
      Errors: s.handlerErrors + s.writeErrors,
      Timeouts: s.timeouts,
      OutBytes: s.bodyBytesOut,
    };
  }

  /** Stop accepting; requests in flight finish while the runtime runs. */
  close(): void {
    void this.server.shutdown();
  }
}

/** HTTP/1.1 (`GET /`, `GET /bytes/N`) served by `rt.serve`. */
export function startHttp(rt: Runtime, port: number): HttpService {
  return new HttpService(rt, port);
}

/**
 * The idle timeout of the warm-up's HTTP server (ms): `rt.serve` sweeps its connections every
 * quarter of it, so the warm-up's ~1 s sees ~20 sweeps over live connections. With the default
 * 5 s (a sweep a second) a warm-up that ended within its server's first second never swept a
 * live connection, and the real server's first sweep then wrote the connection records' sweep
 * fields for the first time (V8: a field no longer constant, code depending on it thrown away)
 * — during the first real connections if they were there (bench/README.md, "http9o"). Well
 * above the warm-up's own waits (its late requests come 1 ms after the handshake).
 */
export const WARM_UP_HTTP_IDLE_MS = 200;

/** {@link startHttp} for the warm-up: the same server, swept every 50 ms. */
export function startWarmUpHttp(rt: Runtime, port: number): HttpService {
  return new HttpService(rt, port, WARM_UP_HTTP_IDLE_MS);
}
