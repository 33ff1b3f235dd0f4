/**
 * `node:net`'s `Server` over the stack's TCP: {@link Server} and {@link createServer}. Accepted
 * connections are {@link Socket}s; the stack is named by `runtime` (see `node_net.ts`).
 *
 * @module
 */

import { EventEmitter } from "node:events";
import { StackError } from "../core/errors.ts";
import { DenseSet } from "../core/dense_set.ts";
import { type AddressInfo, netError, type NodeNetError, Socket } from "./node_net.ts";
import { hostFamily } from "./host_address.ts";
import type { Runtime } from "./runtime.ts";
import type { TcpServer } from "./tcp_conn.ts";

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The stack the server listens on (required). */
  runtime: Runtime;
  /** Passed to accepted sockets [false]. */
  allowHalfOpen?: boolean;
  /** Accepted sockets start paused [false]. */
  pauseOnConnect?: boolean;
  /** TCP_NODELAY on accepted sockets [false]. */
  noDelay?: boolean;
  /** SO_KEEPALIVE on accepted sockets [false]. */
  keepAlive?: boolean;
  /** Keepalive idle time in ms. */
  keepAliveInitialDelay?: number;
}

/** `listen()` options. */
export interface ListenOptions {
  /** Port (0 or absent: any free port). */
  port?: number;
  /** Local address [any]. */
  host?: string;
  /** Accept backlog [511]. */
  backlog?: number;
}

/**
 * A TCP server over ustack with node:net's `Server` interface: `listening`, `connection`,
 * `close` and `error` events, `address()`, `close()`, `getConnections()`, `maxConnections`.
 *
 * @example
 * ```ts ignore
 * const server = createServer({ runtime: rt }, (socket) => socket.pipe(socket));
 * server.listen(7, () => console.log(server.address()));
 * ```
 */
export class Server extends EventEmitter {
  /** Connections beyond this are refused (reset); unlimited when undefined. */
  maxConnections: number | undefined;
  readonly #options: ServerOptions;
  #tcp: TcpServer | null = null;
  /** Open sockets (a dense array, not a `Set`: see core/dense_set.ts). */
  readonly #sockets = new DenseSet<Socket>();
  #closing = false;

  /** A server on `options.runtime`; `listener` handles `connection` events. */
  constructor(options: ServerOptions, listener?: (socket: Socket) => void) {
    if (options?.runtime === undefined) {
      throw new TypeError("ustack createServer: pass { runtime } (the stack to listen on)");
    }
    super();
    this.#options = options;
    if (listener !== undefined) this.on("connection", listener);
  }

  /** True while listening. */
  get listening(): boolean {
    return this.#tcp !== null;
  }

  /**
   * Listen: `listen(port[, host][, backlog][, callback])` or `listen({ port, host, backlog }[,
   * callback])`. Emits `listening`, or `error` (EADDRINUSE, …).
   */
  listen(...args: unknown[]): this {
    let opts: ListenOptions = {};
    let cb: (() => void) | undefined;
    const rest = [...args];
    if (typeof rest.at(-1) === "function") cb = rest.pop() as () => void;
    if (typeof rest[0] === "object" && rest[0] !== null) opts = rest[0] as ListenOptions;
    else {
      opts.port = rest[0] === undefined ? 0 : Number(rest[0]);
      if (typeof rest[1] === "string") opts.host = rest[1];
      const backlog = typeof rest[1] === "number" ? rest[1] : rest[2];
      if (typeof backlog === "number") opts.backlog = backlog;
    }
    if (cb !== undefined) this.once("listening", cb);
    try {
      this.#tcp = this.#options.runtime.listen({
        port: opts.port ?? 0,
        hostname: opts.host,
        backlog: opts.backlog ?? 511,
      });
    } catch (e) {
      const err = netError(e, "listen", opts.host ?? "0.0.0.0", opts.port);
      queueMicrotask(() => this.emit("error", err));
      return this;
    }
    queueMicrotask(() => this.emit("listening"));
    void this.#accept(this.#tcp);
    return this;
  }

  async #accept(tcp: TcpServer): Promise<void> {
    const o = this.#options;
    try {
      for await (const conn of tcp) {
        if (this.maxConnections !== undefined && this.#sockets.size >= this.maxConnections) {
          conn.abort();
          continue;
        }
        const socket = new Socket({ runtime: o.runtime, allowHalfOpen: o.allowHalfOpen }, conn);
        if (o.noDelay) socket.setNoDelay(true);
        if (o.keepAlive) socket.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
        if (o.pauseOnConnect) socket.pause();
        this.#sockets.add(socket);
        socket.once("close", () => {
          this.#sockets.delete(socket);
          this.#maybeClosed();
        });
        this.emit("connection", socket);
      }
    } catch (e) {
      this.emit("error", netError(e, "accept"));
    }
  }

  /** The bound address, or null when not listening. */
  address(): AddressInfo | null {
    if (this.#tcp === null) return null;
    const a = this.#tcp.addr;
    return { address: a.hostname, family: hostFamily(a.hostname), port: a.port };
  }

  /** Stop accepting; `close` is emitted (and `callback` called) once every socket closed. */
  close(callback?: (error?: Error) => void): this {
    if (this.#tcp === null) {
      if (callback !== undefined) {
        const err = netError(new StackError("ENOTCONN", "close"), "close");
        (err as NodeNetError).code = "ERR_SERVER_NOT_RUNNING";
        queueMicrotask(() => callback(err));
      }
      return this;
    }
    if (callback !== undefined) this.once("close", () => callback());
    this.#closing = true;
    this.#tcp.close();
    this.#tcp = null;
    this.#maybeClosed();
    return this;
  }

  #maybeClosed(): void {
    if (this.#closing && this.#sockets.size === 0) {
      this.#closing = false;
      queueMicrotask(() => this.emit("close"));
    }
  }

  /** Report the number of open connections. */
  getConnections(callback: (error: Error | null, count: number) => void): this {
    queueMicrotask(() => callback(null, this.#sockets.size));
    return this;
  }

  /** No effect; returns the server. */
  ref(): this {
    return this;
  }

  /** No effect; returns the server. */
  unref(): this {
    return this;
  }

  /** `await using` support: close and wait for `close`. */
  [Symbol.asyncDispose](): Promise<void> {
    if (this.#tcp === null) return Promise.resolve();
    return new Promise((resolve) => this.close(() => resolve()));
  }
}

/**
 * Make a {@link Server} (node:net's `createServer`): `createServer({ runtime }[, listener])`.
 *
 * @example
 * ```ts ignore
 * createServer({ runtime: rt }, (s) => s.end("hello\n")).listen(7);
 * ```
 */
export function createServer(options: ServerOptions, listener?: (socket: Socket) => void): Server {
  return new Server(options, listener);
}
