/**
 * A stream consumer: the receiving half of a TCP connection read with no promise per read.
 * Where `await conn.read(buf)` makes an async call, a wait's promise and the resumptions of
 * its callers each time it finds the buffer empty — about 1 KB per read on the real receive
 * path (bench/README.md, "heap13g") — a consumer is the wait queue's synchronous listener: at
 * the end of every tick that made the connection readable it reads until the receive buffer
 * is empty and hands each read to the application's callback. One promise per stream (it
 * settles at EOF), nothing per read.
 *
 * @module
 */

import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";

/**
 * The application's part of a consumer: called with the byte count `n` of each read, the bytes
 * in `buf[0, n)` of the consumer's buffer (with no buffer, only the count). It runs inside the
 * stack's tick and must be done with those bytes when it returns; return `false` to stop
 * consuming (the consumer's promise then resolves).
 */
export type ConsumeCallback = (n: number) => boolean | void;

/** Bytes a consumer without a buffer drops per read: all there is (far above any window). */
const SKIP_STEP_BYTES = 1 << 30;

/** A no-op settle function, until the promise's own are in place. */
const NO_SETTLE = (): void => {};

/**
 * Reads an endpoint's stream into one buffer at every readiness delivery until EOF, an error
 * or the callback's `false`. Made by `TcpConn.consume`, which checks its arguments.
 */
export class TcpConsumer {
  /** Settles at EOF or stop with the bytes consumed, or rejects with the read's error. */
  readonly done: Promise<number>;
  readonly #ep: TcpEndpoint;
  readonly #buf: Uint8Array | null;
  readonly #len: number;
  readonly #onData: ConsumeCallback;
  /** Bytes handed to the callback so far (a double from the start: it passes 2**30). */
  #total = -0;
  #active = false;
  #resolve: (total: number) => void = NO_SETTLE;
  #reject: (error: unknown) => void = NO_SETTLE;
  /** The wait queue's listener: one function for the consumer's life, not one per wake. */
  readonly #onEvents = (): void => this.#drain();

  /** A consumer of `ep`'s stream into `buf` (null: the bytes are dropped), not yet started. */
  constructor(ep: TcpEndpoint, buf: Uint8Array | null, onData: ConsumeCallback) {
    this.#ep = ep;
    this.#buf = buf;
    this.#len = buf === null ? SKIP_STEP_BYTES : buf.length;
    this.#onData = onData;
    this.done = new Promise<number>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** True from {@link start} until EOF, an error or a stop. */
  get active(): boolean {
    return this.#active;
  }

  /** Bytes consumed so far. */
  get total(): number {
    return this.#total + 0;
  }

  /**
   * Take the endpoint's readiness listener (a synchronous one: the event loop does not wait
   * for a reaction after it) and read what is buffered already, before returning.
   */
  start(): void {
    const wq = this.#ep.wq;
    this.#active = true;
    wq.listener = this.#onEvents;
    wq.listenerSync = true;
    this.#drain();
  }

  /** Stop consuming: the listener is given back and {@link done} resolves. Idempotent. */
  stop(): void {
    if (!this.#active) return;
    this.#end();
    this.#resolve(this.#total + 0); // (+ 0: the field's -0 start resolves as 0)
  }

  /**
   * Read until nothing is buffered, the read left posted meanwhile (in-order data then goes
   * straight from the frame into the buffer, or is dropped where it is received).
   */
  #drain(): void {
    if (!this.#active) return;
    const ep = this.#ep;
    const buf = this.#buf;
    const len = this.#len;
    const onData = this.#onData;
    try {
      for (;;) {
        const n = ep.readPosted(buf, 0, len);
        if (n < 0) return;
        if (n === 0) break;
        this.#total += n;
        if (onData(n) === false) break;
        // The callback may have stopped the consumer or closed the connection.
        if (!this.#active) return;
      }
    } catch (e) {
      this.#end();
      this.#reject(e);
      return;
    }
    this.stop();
  }

  #end(): void {
    this.#active = false;
    const wq = this.#ep.wq;
    if (wq.listener === this.#onEvents) {
      wq.listener = null;
      wq.listenerSync = false;
    }
  }
}
