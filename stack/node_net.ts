/**
 * `node:net`-style sockets over the stack's TCP, for npm libraries that speak through a
 * socket or accept a socket factory (database clients, protocol libraries): {@link Socket}
 * (a `Duplex` emitting `connect`, `ready`, `data`, `end`, `close`, `error`, `timeout`, with
 * `setNoDelay`, `setKeepAlive`, `setTimeout`, `remoteAddress`, …), {@link Server},
 * {@link connect} and {@link createConnection}; `node_net_server.ts` has `Server` and
 * `createServer`.
 *
 * Which stack a socket uses is always explicit: every entry point takes `runtime`
 * (`new Socket({ runtime: rt })` is an unconnected socket whose `connect(port, host)` works as
 * node:net's). Hosts resolve as literal IPv4 or IPv6 addresses or through the runtime's `hosts` map;
 * there is no DNS (a name that is not mapped fails with `ENOTFOUND`, like a failed lookup).
 * Chunks are `Buffer`s, errors carry Node's `code`, `errno`, `syscall`, `address`, `port`.
 *
 * Not implemented: IPC paths, `fd`/`handle` options, `ref()`/`unref()` (they return the
 * socket and change nothing: the runtime's event loop keeps the process alive while it runs).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { StackError } from "../core/errors.ts";
import { EV_ERROR, EV_HANGUP, EV_READABLE } from "../core/event_mux.ts";
import { formatHostAddress, hostFamily, resolveHost } from "./host_address.ts";
import type { Runtime } from "./runtime.ts";
import type { TcpConn } from "./tcp_conn.ts";

/** Largest chunk pushed to the readable side at once. */
const MAX_READ_CHUNK = 64 * 1024;
/** The events the pump waits for (a read's: data, EOF, an error). */
const READ_EVENTS = EV_READABLE | EV_ERROR | EV_HANGUP;
/** The read that tells EOF and errors from a wait when no bytes are counted. */
const ONE_BYTE = new Uint8Array(1);
const EMPTY_CHUNK = Buffer.alloc(0);
/** A settled promise: `then` on it runs a function in a microtask. */
const SETTLED: Promise<void> = Promise.resolve();

/** Linux errno numbers, negated as libuv reports them. */
const ERRNO: Record<string, number> = {
  EADDRINUSE: -98,
  EADDRNOTAVAIL: -99,
  ECONNABORTED: -103,
  ECONNREFUSED: -111,
  ECONNRESET: -104,
  EHOSTUNREACH: -113,
  ENETUNREACH: -101,
  EPIPE: -32,
  ETIMEDOUT: -110,
  EINVAL: -22,
  EAFNOSUPPORT: -97,
};

/** An error shaped like libuv's (`connect ECONNREFUSED 198.18.0.1:5432`). */
export interface NodeNetError extends Error {
  /** errno name. */
  code: string;
  /** Negative errno (libuv convention). */
  errno?: number;
  /** The call that failed. */
  syscall: string;
  /** Peer address, when there is one. */
  address?: string;
  /** Peer port, when there is one. */
  port?: number;
}

/** A libuv-shaped error for `e` from `syscall` (on `address:port`). */
export function netError(
  e: unknown,
  syscall: string,
  address?: string,
  port?: number,
): NodeNetError {
  const code = e instanceof StackError ? e.code : (e as { code?: string })?.code ?? "EIO";
  const where = address === undefined
    ? ""
    : port === undefined
    ? ` ${address}`
    : ` ${address}:${port}`;
  const err = new Error(`${syscall} ${code}${where}`) as NodeNetError;
  err.code = code;
  if (ERRNO[code] !== undefined) err.errno = ERRNO[code];
  err.syscall = syscall;
  if (address !== undefined) err.address = address;
  if (port !== undefined) err.port = port;
  return err;
}

/** Options of {@link Socket}. */
export interface SocketOptions {
  /** The stack this socket uses (required). */
  runtime: Runtime;
  /** Keep the writable side open after the peer's FIN [false: end it too, as node:net]. */
  allowHalfOpen?: boolean;
}

/** Where and how to connect. */
export interface SocketConnectOptions {
  /** Peer port. */
  port: number;
  /** Peer host: an IPv4 or IPv6 address or a name in the runtime's `hosts` map ["localhost"]. */
  host?: string;
  /** Local port [ephemeral]. */
  localPort?: number;
  /** TCP_NODELAY once connected. */
  noDelay?: boolean;
  /** SO_KEEPALIVE once connected. */
  keepAlive?: boolean;
  /** Keepalive idle time in ms. */
  keepAliveInitialDelay?: number;
  /** Idle timeout in ms (as `setTimeout`). */
  timeout?: number;
}

/** `connect()` options: where to connect plus the stack. */
export type NetConnectOptions = SocketConnectOptions & SocketOptions;

/** `{ address, family, port }` as `socket.address()` returns it. */
export interface AddressInfo {
  /** Address text (dotted quad, or RFC 5952 IPv6). */
  address: string;
  /** "IPv4" or "IPv6". */
  family: string;
  /** Port. */
  port: number;
}

/** Arguments of `socket.connect`: `(port[, host][, listener])` or `(options[, listener])`. */
export type ConnectArgs = [
  SocketConnectOptions | number,
  (string | (() => void))?,
  (() => void)?,
];

/**
 * A TCP socket over ustack with node:net's `Socket` interface.
 *
 * @example
 * ```ts ignore
 * const socket = new Socket({ runtime: rt });
 * socket.connect(5432, "198.18.0.1", () => socket.write("hello"));
 * socket.on("data", (chunk) => console.log(chunk.length));
 * ```
 */
export class Socket extends Duplex {
  /** @internal Position in its server's socket set (core/dense_set.ts); -1 in none. */
  denseIndex = -1;
  /** True between `connect()` and the `connect` event. */
  connecting = false;
  /** Bytes received. */
  bytesRead = 0;
  #written = 0;
  readonly #rt: Runtime;
  #conn: TcpConn | null = null;
  #pumping = false;
  #wantRead = false;
  #noDelay: boolean | undefined;
  #keepAlive: [boolean, number] | undefined;
  #timeoutMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timedOut = false;
  #lastActivity = 0;
  #remote: AddressInfo | null = null;
  #local: AddressInfo | null = null;

  /** An unconnected socket on `options.runtime` (or, internally, one wrapping `conn`). */
  constructor(options: SocketOptions, conn?: TcpConn) {
    if (options?.runtime === undefined) {
      throw new TypeError("ustack Socket: pass { runtime } (the stack this socket uses)");
    }
    super({ allowHalfOpen: options.allowHalfOpen ?? false });
    this.#rt = options.runtime;
    if (conn !== undefined) this.#attach(conn);
  }

  #attach(conn: TcpConn): void {
    this.#conn = conn;
    const r = conn.remoteAddr;
    const l = conn.localAddr;
    this.#remote = { address: r.hostname, family: hostFamily(r.hostname), port: r.port };
    this.#local = { address: l.hostname, family: hostFamily(l.hostname), port: l.port };
    if (this.#noDelay !== undefined) conn.setNoDelay(this.#noDelay);
    if (this.#keepAlive !== undefined) {
      conn.setKeepAlive(this.#keepAlive[0], this.#keepAlive[1] || undefined);
    }
    this.#touch();
    if (this.#wantRead) this.#pump();
  }

  /**
   * Connect like node:net: `connect(port[, host][, listener])` or
   * `connect({ port, host, … }[, listener])`. Emits `connect` and `ready`, or `error` then
   * `close`.
   */
  connect(...args: ConnectArgs): this {
    const [first, second, third] = args;
    const opts: SocketConnectOptions = typeof first === "object" && first !== null
      ? first
      : { port: Number(first), host: typeof second === "string" ? second : undefined };
    const listener = typeof second === "function" ? second : third;
    if (listener !== undefined) this.once("connect", listener);
    if (this.#conn !== null || this.connecting) {
      throw netError(new StackError("EISCONN", "connect"), "connect");
    }
    const port = opts.port;
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
      throw new RangeError(`ustack Socket: port should be >= 1 and < 65536, got ${port}`);
    }
    const host = opts.host ?? "localhost";
    if (opts.noDelay) this.#noDelay = true;
    if (opts.keepAlive) this.#keepAlive = [true, opts.keepAliveInitialDelay ?? 0];
    if (opts.timeout !== undefined) this.setTimeout(opts.timeout);
    this.connecting = true;
    let hostname: string;
    try {
      hostname = formatHostAddress(resolveHost(host, this.#rt.hosts));
    } catch (e) {
      const err = netError(e, "getaddrinfo");
      if ((e as StackError).code === "EINVAL") {
        err.code = "ENOTFOUND";
        err.message = `getaddrinfo ENOTFOUND ${host}`;
      }
      (err as NodeNetError & { hostname: string }).hostname = host;
      queueMicrotask(() => this.destroy(err));
      return this;
    }
    this.#rt.connect({ hostname, port, localPort: opts.localPort }).then(
      (conn) => {
        this.connecting = false;
        if (this.destroyed) {
          conn.close();
          return;
        }
        this.#attach(conn);
        this.emit("connect");
        this.emit("ready");
      },
      (e) => {
        this.connecting = false;
        this.destroy(netError(e, "connect", hostname, port));
      },
    );
    return this;
  }

  /** `"opening"`, `"open"`, `"readOnly"`, `"writeOnly"` or `"closed"`. */
  get readyState(): string {
    if (this.connecting) return "opening";
    if (this.#conn === null || this.destroyed) return "closed";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** True until connected. */
  get pending(): boolean {
    return this.#conn === null || this.connecting;
  }

  /** Bytes accepted for sending. */
  get bytesWritten(): number {
    return this.#written;
  }

  /** Peer address (undefined until connected). */
  get remoteAddress(): string | undefined {
    return this.#remote?.address;
  }

  /** Peer port. */
  get remotePort(): number | undefined {
    return this.#remote?.port;
  }

  /** "IPv4" or "IPv6". */
  get remoteFamily(): string | undefined {
    return this.#remote?.family;
  }

  /** Local address. */
  get localAddress(): string | undefined {
    return this.#local?.address;
  }

  /** Local port. */
  get localPort(): number | undefined {
    return this.#local?.port;
  }

  /** "IPv4" or "IPv6". */
  get localFamily(): string | undefined {
    return this.#local?.family;
  }

  /** The local address (`{}` before connecting). */
  address(): AddressInfo | Record<string, never> {
    return this.#local === null ? {} : { ...this.#local };
  }

  /** TCP_NODELAY. */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    this.#conn?.setNoDelay(noDelay);
    return this;
  }

  /** SO_KEEPALIVE, probing after `initialDelay` ms of idleness. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = [enable, initialDelay];
    this.#conn?.setKeepAlive(enable, initialDelay || undefined);
    return this;
  }

  /**
   * Emit `timeout` after `ms` without reading or writing (0 turns it off). The socket stays
   * open: the listener decides (usually `socket.destroy()`).
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback !== undefined) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this.#timeoutMs = ms;
    this.#clearTimer();
    this.#timedOut = false;
    if (ms > 0) this.#arm(ms);
    return this;
  }

  /** No effect (see the module notes); returns the socket. */
  ref(): this {
    return this;
  }

  /** No effect (see the module notes); returns the socket. */
  unref(): this {
    return this;
  }

  /** Abort: send a RST and destroy. */
  resetAndDestroy(): this {
    this.#conn?.abort();
    return this.destroy();
  }

  /** End the writable side, then destroy once written. */
  destroySoon(): void {
    this.end(() => this.destroy());
  }

  #touch(): void {
    this.#lastActivity = performance.now();
    if (this.#timedOut && this.#timeoutMs > 0) {
      this.#timedOut = false;
      this.#arm(this.#timeoutMs);
    }
  }

  #arm(ms: number): void {
    const timer = setTimeout(() => this.#onTimer(), ms);
    Deno.unrefTimer(timer as unknown as number);
    this.#timer = timer;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimer(): void {
    this.#timer = undefined;
    if (this.#timeoutMs <= 0 || this.destroyed) return;
    const idle = performance.now() - this.#lastActivity;
    if (idle + 1 >= this.#timeoutMs) {
      this.#timedOut = true;
      this.emit("timeout");
    } else this.#arm(this.#timeoutMs - idle);
  }

  /** Duplex: the consumer wants data. */
  override _read(_size: number): void {
    this.#wantRead = true;
    if (this.#conn !== null) this.#pump();
  }

  /**
   * Read what is buffered into chunks pushed to the stream, while the stream wants more. With
   * nothing buffered it waits for a delivery of readiness (the wait queue's `waitCall`: no promise
   * or async call per wait) that runs the pump again in a microtask — where an awaiting
   * pump resumed — so `data` handlers never run inside the stack's tick.
   */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    const conn = this.#conn!;
    try {
      while (this.#wantRead && !this.destroyed) {
        const readable = conn.endpoint.readableBytes;
        let chunk: Buffer;
        let n: number;
        if (readable > 0) {
          chunk = Buffer.allocUnsafe(Math.min(MAX_READ_CHUNK, readable));
          n = conn.readInto(chunk, 0, chunk.length);
        } else {
          // Nothing counted: EOF, an error, or a wait (no chunk made for it).
          n = conn.readInto(ONE_BYTE, 0, 1);
          chunk = n > 0 ? Buffer.from(ONE_BYTE) : EMPTY_CHUNK;
        }
        if (n > 0) {
          this.bytesRead += n;
          this.#touch();
          this.#wantRead = this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
        } else if (n === 0) {
          this.#wantRead = false;
          this.push(null);
        } else {
          this.#waitReadable(conn);
          break;
        }
      }
    } catch (e) {
      this.destroy(netError(e, "read", this.remoteAddress, this.remotePort));
    } finally {
      this.#pumping = false;
    }
  }

  /** True while a wake-up of the pump is registered with the connection's wait queue. */
  #waiting = false;
  /** The pump's wake-up (made at the first wait, once per socket). */
  #onReadable: (() => void) | null = null;

  /** Run the pump again (in a microtask) once the connection is readable. */
  #waitReadable(conn: TcpConn): void {
    if (this.#waiting) return;
    if (this.#onReadable === null) {
      const task = (): void => this.#pump();
      this.#onReadable = () => {
        this.#waiting = false;
        void SETTLED.then(task);
      };
    }
    this.#waiting = true;
    conn.endpoint.wq.waitCall(READ_EVENTS, this.#onReadable);
  }

  /** Duplex: send a chunk (queued until connected). */
  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.#conn === null) {
      const go = () => {
        this.off("error", stop);
        this._write(chunk, _encoding, callback);
      };
      const stop = (e: Error) => {
        this.off("connect", go);
        callback(e);
      };
      this.once("connect", go);
      this.once("error", stop);
      return;
    }
    const conn = this.#conn;
    try {
      const n = conn.writeFrom(chunk, 0, chunk.length);
      this.#written += n;
      this.#touch();
      if (n === chunk.length) {
        callback();
        return;
      }
      this.#writeRest(conn, chunk, n).then(() => callback(), (e) => callback(e));
    } catch (e) {
      callback(netError(e, "write", this.remoteAddress, this.remotePort));
    }
  }

  async #writeRest(conn: TcpConn, chunk: Uint8Array, off: number): Promise<void> {
    while (off < chunk.length) {
      await conn.waitWritable();
      let n: number;
      try {
        n = conn.writeFrom(chunk, off, chunk.length - off);
      } catch (e) {
        throw netError(e, "write", this.remoteAddress, this.remotePort);
      }
      if (n === 0 && conn.endpoint.stateName() === "CLOSED") {
        throw netError(new StackError("EPIPE", "write"), "write");
      }
      off += n;
      this.#written += n;
      this.#touch();
    }
  }

  /** Duplex: the writable side ended: send a FIN after the queued data. */
  override _final(callback: (error?: Error | null) => void): void {
    if (this.#conn === null) {
      this.once("connect", () => this._final(callback));
      return;
    }
    this.#conn.closeWrite().then(() => callback(), (e) => callback(e));
  }

  /** Duplex: release the connection (graceful close; a RST if unread data remains). */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#clearTimer();
    this.#wantRead = false;
    this.connecting = false;
    this.#conn?.close();
    callback(error);
  }
}

/**
 * Open a connection (node:net's `connect`): `connect({ port, host, runtime }[, listener])`.
 *
 * @example
 * ```ts ignore
 * const socket = connect({ port: 6379, host: "198.18.0.1", runtime: rt }, () => {
 *   socket.write("PING\r\n");
 * });
 * ```
 */
export function connect(options: NetConnectOptions, listener?: () => void): Socket {
  if (typeof options !== "object" || options === null || options.runtime === undefined) {
    throw new TypeError("ustack connect: pass { port, host, runtime }");
  }
  const socket = new Socket({ runtime: options.runtime, allowHalfOpen: options.allowHalfOpen });
  return socket.connect(options, listener);
}

/**
 * Same as {@link connect}.
 *
 * @example
 * ```ts ignore
 * const socket = createConnection({ port: 5432, host: "198.18.0.1", runtime: rt });
 * ```
 */
export function createConnection(options: NetConnectOptions, listener?: () => void): Socket {
  return connect(options, listener);
}
