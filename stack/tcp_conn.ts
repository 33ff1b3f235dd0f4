/**
 * The Deno-style TCP layer: {@link TcpConn} (a connection with `readable`/`writable` web
 * streams that respect backpressure, plus `read`/`write` like `Deno.Conn`) and
 * {@link TcpServer} (accepts connections, async-iterable). Built on the non-blocking endpoint
 * API of `transport/tcp/` and the wait queues of the event mux.
 *
 * @module
 */

import { formatIp } from "../net/ip_address.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import type { TcpListener } from "../transport/tcp/listener.ts";
import type { TcpInfo } from "../transport/tcp/tcp_info.ts";
import { StackError } from "../core/errors.ts";
import { EV_ERROR, EV_HANGUP, EV_READABLE, EV_WRITABLE } from "../core/event_mux.ts";
import type { Stack } from "./stack.ts";
import { type ConsumeCallback, TcpConsumer } from "./tcp_consumer.ts";

/** An address in `Deno.NetAddr` form. */
export interface TcpAddr {
  /** Always "tcp". */
  transport: "tcp";
  /** Dotted-quad address. */
  hostname: string;
  /** Port. */
  port: number;
}

/** Largest chunk the readable stream hands out at once. */
const READ_CHUNK_BYTES = 64 * 1024;

/** The events a read waits for. */
const READ_EVENTS = EV_READABLE | EV_ERROR | EV_HANGUP;
/** A read's result at EOF, and of an empty buffer: settled promises, shared. */
const RESOLVED_EOF: Promise<number | null> = Promise.resolve(null);
const RESOLVED_ZERO: Promise<number | null> = Promise.resolve(0);
/** A connection's whole-write promise before its first write (of 0 bytes, as an empty write). */
const WRITTEN_NOTHING: Promise<number> = Promise.resolve(0);

/** The read that tells EOF and errors from a wait when no bytes are counted. */
const ONE_BYTE = new Uint8Array(1);

/** A no-op settle function, while no read waits. */
const NO_SETTLE = (): void => {};

/**
 * One TCP connection.
 *
 * @example
 * ```ts ignore
 * const conn = await rt.connect({ hostname: "198.18.0.1", port: 80 });
 * await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * for await (const chunk of conn.readable) console.log(chunk.length);
 * ```
 */
export class TcpConn {
  /** @internal Position in a server's connection set (core/dense_set.ts); -1 in none. */
  denseIndex = -1;
  /** The protocol endpoint underneath. */
  readonly endpoint: TcpEndpoint;
  readonly #stack: Stack;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #closed = false;
  /** The stream's consumer ({@link TcpConn.consume}), or null. */
  #consumer: TcpConsumer | null = null;

  /** Wrap an endpoint (connected or connecting). */
  constructor(stack: Stack, endpoint: TcpEndpoint) {
    this.#stack = stack;
    this.endpoint = endpoint;
    stack.registry.addTcp(endpoint);
  }

  /** Local address. */
  get localAddr(): TcpAddr {
    return {
      transport: "tcp",
      hostname: formatIp(this.endpoint.localAddr),
      port: this.endpoint.localPort,
    };
  }

  /** Peer address. */
  get remoteAddr(): TcpAddr {
    return {
      transport: "tcp",
      hostname: formatIp(this.endpoint.remoteAddr),
      port: this.endpoint.remotePort,
    };
  }

  /** Resolve once the handshake completed; throws the connect error (ECONNREFUSED, …). */
  async established(): Promise<void> {
    const ep = this.endpoint;
    for (;;) {
      const name = ep.stateName();
      if (ep.error !== null) throw new StackError(ep.takeError()!, "connect");
      if (name !== "SYN_SENT" && name !== "SYN_RECEIVED") {
        if (name === "CLOSED") throw new StackError("ECONNRESET", "connect");
        return;
      }
      await ep.wq.wait(EV_WRITABLE | EV_ERROR | EV_HANGUP);
    }
  }

  /**
   * Read into `buf`: the byte count, or null at EOF. Waits for data; rejects with a StackError
   * on a connection error. When data is buffered the promise is made resolved, with no async
   * call; a read that waits is posted ({@link readPosted}: in-order data is copied straight
   * from the frame into `buf`; leave it alone until the read settles) and completed by the wait
   * queue's delivery at the end of the tick that brought the data, with no promise but its own.
   * Reads made while one waits wait behind it (each byte goes to one read, the waiting read
   * first); which of those later reads is served next follows their wake-ups, as before.
   */
  read(buf: Uint8Array): Promise<number | null> {
    // One read waits through the delivery at a time; while one does (or a loop read waits), a
    // further read takes the loop, behind the ones before it — and leaves the waiting read's
    // post alone.
    if (this.#pendingRead !== null || this.#loopReads > 0) return this.#readLoop(buf);
    let n: number;
    try {
      if (this.#consumer !== null) this.#notConsumed("read");
      // A window update the read makes due schedules its own output (see #readLoop). With
      // nothing buffered the read is posted: in-order data goes straight from the frame into
      // `buf` (which the caller leaves alone until the read settles), one copy instead of two.
      n = buf.length === 0
        ? this.endpoint.read(buf, 0, 0)
        : this.endpoint.readPosted(buf, 0, buf.length);
    } catch (e) {
      return Promise.reject(e);
    }
    if (n > 0) return Promise.resolve(n);
    if (n === 0) return buf.length === 0 ? RESOLVED_ZERO : RESOLVED_EOF;
    this.#pendingRead = buf;
    if (this.#onReadable === null) this.#makeReadWaiter();
    const p = new Promise<number | null>(this.#readExecutor!);
    this.endpoint.wq.waitCall(READ_EVENTS, this.#onReadable!);
    return p;
  }

  /** The buffer of the read that waits for the delivery ({@link read}), or null. */
  #pendingRead: Uint8Array | null = null;
  #readResolve: (n: number | null) => void = NO_SETTLE;
  #readReject: (e: unknown) => void = NO_SETTLE;
  /** The executor of the waiting read's promise (made at the first wait, one per connection). */
  #readExecutor:
    | ((resolve: (n: number | null) => void, reject: (e: unknown) => void) => void)
    | null = null;
  /**
   * The waiting read's wake-up, inside the tick (the mux's delivery): read, and settle the
   * read's promise (its reaction runs in the loop's microtask turns, as an awaiting task's).
   */
  #onReadable: (() => void) | null = null;

  /** The two functions of a waiting read, once per connection (many never wait). */
  #makeReadWaiter(): void {
    this.#readExecutor = (resolve, reject) => {
      this.#readResolve = resolve;
      this.#readReject = reject;
    };
    const onReadable = (): void => {
      const buf = this.#pendingRead!;
      let n: number;
      try {
        // What the post took first; with nothing at all (a spurious wake-up), posted again.
        n = buf.length === 0
          ? this.endpoint.read(buf, 0, 0)
          : this.endpoint.readPosted(buf, 0, buf.length);
      } catch (e) {
        const reject = this.#readReject;
        this.#settleRead();
        reject(e);
        return;
      }
      if (n < 0) {
        this.endpoint.wq.waitCall(READ_EVENTS, onReadable);
        return;
      }
      const resolve = this.#readResolve;
      this.#settleRead();
      resolve(n > 0 ? n : buf.length === 0 ? 0 : null);
    };
    this.#onReadable = onReadable;
  }

  #settleRead(): void {
    this.#pendingRead = null;
    this.#readResolve = NO_SETTLE;
    this.#readReject = NO_SETTLE;
  }

  /** Reads in {@link #readLoop} now (they wait in order, through the wait queue's promises). */
  #loopReads = 0;

  /** {@link read} as a loop of reads and waits: a further read while one waits. */
  async #readLoop(buf: Uint8Array): Promise<number | null> {
    this.#loopReads++;
    try {
      if (this.#consumer !== null) this.#notConsumed("read");
      const ep = this.endpoint;
      for (;;) {
        // A window update the read makes due schedules its own output (the receiver's
        // ackAtEndOfTick). No tick is asked for otherwise: the event loop takes a request for
        // a tick as the application's answer to the data it delivered, and stops waiting for
        // the write that follows the read (it would wait for a turn of Deno's event loop).
        const n = ep.read(buf, 0, buf.length);
        if (n > 0) return n;
        if (n === 0) return buf.length === 0 ? 0 : null;
        await ep.wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
      }
    } finally {
      this.#loopReads--;
    }
  }

  /**
   * Non-blocking read into `buf[off, off + len)`: the byte count (> 0), 0 at EOF, -1 when
   * nothing is buffered yet (wait with {@link waitReadable}). Throws a StackError on a
   * connection error. The building block of buffered readers that must not allocate a
   * promise per call when data is already there.
   */
  readInto(buf: Uint8Array, off: number, len: number): number {
    if (this.#consumer !== null) this.#notConsumed("readInto");
    // A window update the read makes due schedules its own output (see read()).
    return this.endpoint.read(buf, off, len);
  }

  /**
   * Non-blocking drop of up to `len` received bytes, copied nowhere (Linux's `recv` with
   * `MSG_TRUNC` on a TCP socket): the byte count (> 0), 0 at EOF, -1 when nothing is buffered
   * yet (wait with {@link waitReadable}). The window opens as after {@link readInto}. Throws a
   * StackError on a connection error. For readers that count bytes and do not look at them.
   *
   * @example
   * ```ts ignore
   * let total = 0;
   * for (;;) {
   *   const n = conn.skip(1 << 20);
   *   if (n === 0) break; // EOF
   *   if (n < 0) await conn.waitReadable();
   *   else total += n;
   * }
   * ```
   */
  skip(len: number): number {
    if (this.#consumer !== null) this.#notConsumed("skip");
    return this.endpoint.skip(len);
  }

  /**
   * {@link readInto} (or, with `buf` null, {@link skip}) that, when nothing is buffered (-1),
   * leaves the read posted: data arriving in order meanwhile is copied straight from the
   * received frame into `buf[off, off + len)` — one copy instead of two — and returned by the
   * next call with the same arguments, after {@link waitReadable}. Leave that part of `buf`
   * alone until then; any other read ends the post.
   *
   * @example
   * ```ts ignore
   * const buf = new Uint8Array(256 * 1024);
   * for (;;) {
   *   const n = conn.readPosted(buf, 0, buf.length);
   *   if (n === 0) break; // EOF
   *   if (n < 0) await conn.waitReadable();
   *   else consume(buf.subarray(0, n));
   * }
   * ```
   */
  readPosted(buf: Uint8Array | null, off: number, len: number): number {
    if (this.#consumer !== null) this.#notConsumed("readPosted");
    return this.endpoint.readPosted(buf, off, len);
  }

  /**
   * Consume the stream with no promise, await or closure per read: `onData(n)` is called with
   * `buf[0, n)` filled (with `buf` null the bytes are dropped where they are received, as by
   * {@link skip}, and only counted), once per read, as many reads as empty the receive buffer —
   * first for what is buffered already, before `consume` returns, then synchronously at the end
   * of every tick of the stack that made the connection readable. The returned promise (the
   * only one) resolves with the bytes consumed at the peer's FIN, when the connection is
   * closed, or when `onData` returns `false`; it rejects with the connection's error
   * (a StackError, e.g. ECONNRESET) or what `onData` threw. While `onData` has not been called,
   * the read is posted ({@link readPosted}): in-order data goes straight from the frame into
   * `buf`. `onData` runs inside the tick: it must be done with `buf[0, n)` when it returns; what
   * it writes leaves in that tick, what it hands on to promises runs after it. The other reads
   * of the connection (`readInto`, `skip`, `readPosted`, `readable`) throw EBUSY meanwhile
   * (`read` rejects with it); waiting with {@link waitReadable} and writing stay as they are.
   *
   * @throws {StackError} EBUSY when the stream is consumed already, read by `readable`, a
   * `read` waits, or the connection's wait queue has another listener; EINVAL for an empty `buf`; EBADF once
   * closed.
   *
   * @example
   * ```ts ignore
   * const buf = new Uint8Array(256 * 1024);
   * let sum = 0;
   * const total = await conn.consume(buf, (n) => {
   *   for (let i = 0; i < n; i++) sum += buf[i];
   * });
   * console.log(`${total} bytes, sum ${sum}`);
   * ```
   */
  consume(buf: Uint8Array | null, onData: ConsumeCallback): Promise<number> {
    if (this.#closed) throw new StackError("EBADF", "consume: the connection is closed");
    if (buf !== null && buf.length === 0) {
      throw new StackError("EINVAL", "consume: an empty buffer");
    }
    if (this.#consumer !== null && this.#consumer.active) {
      throw new StackError("EBUSY", "consume: the stream is consumed already");
    }
    if (this.#readable !== null) {
      throw new StackError("EBUSY", "consume: the readable stream reads the connection");
    }
    if (this.endpoint.wq.listener !== null) {
      throw new StackError("EBUSY", "consume: the wait queue has a listener");
    }
    if (this.#pendingRead !== null || this.#loopReads > 0) {
      throw new StackError("EBUSY", "consume: a read waits");
    }
    const c = new TcpConsumer(this.endpoint, buf, onData);
    this.#consumer = c;
    c.start();
    return c.done;
  }

  /** The reads' guard while a consumer is or was set: EBUSY while it consumes. */
  #notConsumed(op: string): void {
    if (this.#consumer!.active) {
      throw new StackError("EBUSY", `${op}: the stream is being consumed (consume)`);
    }
    this.#consumer = null;
  }

  /**
   * Non-blocking write of `buf[off, off + len)`: the bytes accepted into the send buffer (0
   * when it is full: wait with {@link waitWritable}). Throws a StackError (EPIPE after a
   * half-close, the connection's error otherwise).
   */
  writeFrom(buf: Uint8Array, off: number, len: number): number {
    const n = this.endpoint.write(buf, off, len);
    this.#stack.written(n);
    if (n > 0) this.#stack.requestTick();
    return n;
  }

  /**
   * Resolve once data, EOF, an error or a hang-up can be read (with the events that are
   * ready). The wait queue's one promise, not wrapped in another.
   */
  waitReadable(): Promise<number> {
    return this.endpoint.wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
  }

  /** Resolve once the send buffer has room, or the connection failed or closed. */
  waitWritable(): Promise<number> {
    return this.endpoint.wq.wait(EV_WRITABLE | EV_ERROR | EV_HANGUP);
  }

  /**
   * Write all of `data`, waiting for send-buffer room as needed; returns `data.length`. A write
   * the send buffer takes whole settles with no async call: the promise is this connection's
   * resolved one for that length, made again only when the length changes (a bulk writer's
   * same-sized writes allocate nothing — an async call was ~250 B a write, ~17 B per wire
   * packet at MTU 9000). A write that must wait makes one promise and continues after each
   * delivery of writability ({@link TcpConn.#writeWaiting}: one reaction per wait, no async step
   * and no wait promise — 96 B per wait against 208); an error of any part rejects it. Writes
   * go in in call order: one made while another waits, or while earlier ones are queued
   * behind a wait, goes after them.
   */
  write(data: Uint8Array): Promise<number> {
    if (this.#waitData !== null || this.#queuedWrites > 0) return this.#writeAfter(data);
    return this.#writeNow(data);
  }

  /** {@link TcpConn.write} with nothing waiting or queued before it. */
  #writeNow(data: Uint8Array): Promise<number> {
    const len = data.length;
    let n = 0;
    if (len > 0) {
      try {
        n = this.endpoint.write(data, 0, len);
      } catch (e) {
        return Promise.reject(e);
      }
      this.#stack.written(n);
      if (n < len) return this.#writeWaiting(data, n);
    }
    this.#stack.requestTick();
    if (len !== this.#writtenLen) {
      this.#writtenLen = len;
      this.#written = Promise.resolve(len);
    }
    return this.#written;
  }

  /** The length {@link TcpConn.#written} resolves to. */
  #writtenLen = 0;
  /** A resolved promise of {@link TcpConn.#writtenLen}: the last whole write's result. */
  #written: Promise<number> = WRITTEN_NOTHING;

  /** The write waiting for send-buffer room (null: none), and how much of it is in. */
  #waitData: Uint8Array | null = null;
  #waitOff = 0;
  /** The waiting write's promise and its resolving functions. */
  #waitDone: Promise<number> = WRITTEN_NOTHING;
  #waitResolve: (n: number) => void = NO_SETTLE;
  #waitReject: (e: unknown) => void = NO_SETTLE;
  /**
   * The wait queue's call for a waiting write (made at the connection's first such write): it
   * queues {@link TcpConn.#writeStep} as a reaction on a settled promise (a microtask: Deno's
   * `queueMicrotask` allocated more, 128 B a call), so the write goes on after the tick, in
   * the turn the event loop gives a woken reader (a write made inside the delivery kept the
   * loop ticking without turns: ~1.7× the ticks and turns per wire packet, each allocating
   * more than the wait saved).
   */
  #writeWake: ((events: number) => void) | null = null;
  /** {@link TcpConn.#writeMore} as a function made once. */
  #writeStep: (() => void) | null = null;
  /** The connection whose promise {@link TcpConn.#writeExecutor} is making. */
  static #making: TcpConn | null = null;
  /** Every waiting write's promise executor: one function, no closure per write. */
  static readonly #writeExecutor = (
    resolve: (n: number) => void,
    reject: (e: unknown) => void,
  ): void => {
    const c = TcpConn.#making!;
    TcpConn.#making = null;
    c.#waitResolve = resolve;
    c.#waitReject = reject;
  };

  /**
   * The rest of a write, from `off`, once the send buffer had no room for all of it: one
   * promise, settled by {@link TcpConn.#writeMore} at the deliveries of writability.
   */
  #writeWaiting(data: Uint8Array, off: number): Promise<number> {
    this.#waitData = data;
    this.#waitOff = off;
    TcpConn.#making = this;
    const p = new Promise<number>(TcpConn.#writeExecutor);
    this.#waitDone = p;
    this.#writeWake ??= () => void WRITTEN_NOTHING.then(this.#writeStep!);
    this.#writeStep ??= () => this.#writeMore();
    this.endpoint.wq.waitCall(EV_WRITABLE | EV_ERROR | EV_HANGUP, this.#writeWake);
    return p;
  }

  /**
   * After a delivery of writability (a microtask; it never throws): put in what the send buffer
   * takes; settle the write once all of it is in (or the endpoint threw), else wait again.
   */
  #writeMore(): void {
    const data = this.#waitData!;
    const ep = this.endpoint;
    let off = this.#waitOff;
    try {
      const n = ep.write(data, off, data.length - off);
      off += n;
      this.#stack.written(n);
    } catch (e) {
      const reject = this.#waitReject;
      this.#settleWrite();
      reject(e);
      return;
    }
    if (off < data.length) {
      this.#waitOff = off;
      ep.wq.waitCall(EV_WRITABLE | EV_ERROR | EV_HANGUP, this.#writeWake!);
      return;
    }
    const resolve = this.#waitResolve;
    this.#settleWrite();
    this.#stack.requestTick();
    resolve(data.length);
  }

  /** Forget the waiting write (its promise is about to settle). */
  #settleWrite(): void {
    this.#waitData = null;
    this.#waitResolve = NO_SETTLE;
    this.#waitReject = NO_SETTLE;
  }

  /** Writes queued behind a waiting one, not yet begun. */
  #queuedWrites = 0;

  /**
   * A write made while another waits (or others are queued): after the waiting one settles
   * (either way), in call order — the queued writes' reactions run in the order they were made,
   * and one that finds an earlier write waiting again queues behind that one.
   */
  #writeAfter(data: Uint8Array): Promise<number> {
    this.#queuedWrites++;
    const next = () => {
      this.#queuedWrites--;
      return this.#waitData !== null ? this.#writeAfter(data) : this.#writeNow(data);
    };
    return this.#waitDone.then(next, next);
  }

  /** Half-close: send a FIN after the queued data. */
  closeWrite(): Promise<void> {
    this.endpoint.shutdownWrite();
    this.#stack.requestTick();
    return Promise.resolve();
  }

  /** Resolve once every byte written so far has been acknowledged by the peer. */
  async drained(): Promise<void> {
    const ep = this.endpoint;
    while (ep.unacknowledgedBytes > 0 && ep.error === null && ep.stateName() !== "CLOSED") {
      await ep.wq.wait(EV_WRITABLE | EV_ERROR | EV_HANGUP);
      if (ep.unacknowledgedBytes > 0) await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Close (graceful; abortive when unread data remains, like Linux). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#consumer?.stop();
    this.endpoint.close();
    this.#stack.requestTick();
  }

  /** Abortive close: RST now. */
  abort(): void {
    this.#closed = true;
    this.#consumer?.stop();
    this.endpoint.abort();
    this.#stack.requestTick();
  }

  /** TCP_NODELAY. */
  setNoDelay(on = true): void {
    this.endpoint.setNoDelay(on);
  }

  /** SO_KEEPALIVE (with optional idle/interval in ms and probe count). */
  setKeepAlive(on = true, idleMs?: number, intervalMs?: number, count?: number): void {
    this.endpoint.setKeepAlive(on, idleMs, intervalMs, count);
  }

  /**
   * TCP_CONGESTION: use `name` ("cubic", "bbr", "newreno") on this connection from now on.
   *
   * @throws {UnknownCongestionControlError} (code ENOENT) for an unknown name.
   */
  setCongestionControl(name: string): void {
    this.endpoint.setCongestionControl(name);
  }

  /** The congestion control algorithm this connection uses. */
  get congestionControl(): string {
    return this.endpoint.congestionControl;
  }

  /** TCP_INFO-like snapshot. */
  info(): TcpInfo {
    return this.endpoint.info();
  }

  /**
   * The receiving half as a byte stream; ends at the peer's FIN. A pull with data buffered
   * reads it at once; one with nothing buffered waits for a delivery of readiness, which reads
   * and enqueues (no promise or async call per pull).
   */
  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable === null) {
      if (this.#consumer !== null) this.#notConsumed("readable");
      let waiting = false;
      let ctl: ReadableStreamDefaultController<Uint8Array> | null = null;
      // One pull: a chunk of what is buffered (true), or nothing yet (false). Size the chunk by
      // what is buffered: a chunk sized before the data is there was one byte. Handed on, that
      // first byte went out alone (`pipeTo`) and Nagle held the rest until the peer's delayed
      // ACK of it: a 40 ms stall per round trip.
      const pullNow = (controller: ReadableStreamDefaultController<Uint8Array>): boolean => {
        try {
          if (this.#consumer !== null) this.#notConsumed("readable");
          const readable = this.endpoint.readableBytes;
          let n: number;
          let buf: Uint8Array;
          if (readable > 0) {
            buf = new Uint8Array(Math.min(READ_CHUNK_BYTES, readable));
            n = this.endpoint.read(buf, 0, buf.length);
          } else {
            // Nothing counted: EOF, an error, or a wait (no chunk made for it).
            n = this.endpoint.read(ONE_BYTE, 0, 1);
            buf = n > 0 ? ONE_BYTE.slice() : ONE_BYTE;
          }
          if (n < 0) return false;
          if (n === 0) controller.close();
          else controller.enqueue(n === buf.length ? buf : buf.subarray(0, n));
        } catch (e) {
          try {
            controller.error(e);
          } catch { /* the stream is closed or cancelled already */ }
        }
        return true;
      };
      // The wake-up inside the tick: the stream's own code runs (the chunk fulfils the
      // reader's pending read; its reaction runs after, in microtask turns).
      const onReadable = (): void => {
        waiting = false;
        if (ctl !== null && !pullNow(ctl)) {
          waiting = true;
          this.endpoint.wq.waitCall(READ_EVENTS, onReadable);
        }
      };
      this.#readable = new ReadableStream<Uint8Array>({
        pull: (controller) => {
          ctl = controller;
          if (waiting || pullNow(controller)) return;
          waiting = true;
          this.endpoint.wq.waitCall(READ_EVENTS, onReadable);
        },
        cancel: () => {
          ctl = null;
          this.close();
        },
      }, { highWaterMark: 0 });
    }
    return this.#readable;
  }

  /** The sending half; each write resolves once the bytes are in the send buffer. */
  get writable(): WritableStream<Uint8Array> {
    if (this.#writable === null) {
      this.#writable = new WritableStream<Uint8Array>({
        write: async (chunk) => {
          await this.write(chunk);
        },
        close: () => this.closeWrite(),
        abort: () => this.abort(),
      }, { highWaterMark: 1 });
    }
    return this.#writable;
  }
}

/**
 * A listening TCP socket in `Deno.Listener` style.
 *
 * @example
 * ```ts ignore
 * const server = rt.listen({ port: 7 });
 * for await (const conn of server) conn.readable.pipeTo(conn.writable);
 * ```
 */
export class TcpServer implements AsyncIterable<TcpConn> {
  /** The protocol listener underneath. */
  readonly listener: TcpListener;
  readonly #stack: Stack;
  #closed = false;

  /** Wrap a listener. */
  constructor(stack: Stack, listener: TcpListener) {
    this.#stack = stack;
    this.listener = listener;
    stack.registry.addListener(listener);
  }

  /** The bound address. */
  get addr(): TcpAddr {
    return {
      transport: "tcp",
      hostname: formatIp(this.listener.localAddr),
      port: this.listener.localPort,
    };
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next established connection if one is waiting, else null (also once closed): the
   * non-blocking accept of a server driven by `listener.wq`'s readiness callback.
   */
  tryAccept(): TcpConn | null {
    if (this.#closed) return null;
    const ep = this.listener.accept();
    return ep === null ? null : new TcpConn(this.#stack, ep);
  }

  /** Wait for and return the next established connection; throws EBADF once closed. */
  async accept(): Promise<TcpConn> {
    for (;;) {
      if (this.#closed) throw new StackError("EBADF", "accept: listener closed");
      const ep = this.listener.accept();
      if (ep !== null) return new TcpConn(this.#stack, ep);
      await this.listener.wq.wait(EV_READABLE | EV_ERROR | EV_HANGUP);
    }
  }

  /** Stop listening; pending accepts reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.listener.close();
    this.#stack.registry.removeListener(this.listener);
    this.#stack.requestTick();
  }

  /** Iterate over accepted connections until closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<TcpConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (this.#closed) return;
        throw e;
      }
    }
  }
}
