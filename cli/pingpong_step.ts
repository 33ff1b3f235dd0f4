/**
 * One request/response transaction over the stack's non-blocking calls, step by step: what
 * `pingpong client` and its round-trip warm-up (`pingpong_rr_warm_up.ts`) run per round trip.
 *
 * @module
 */

import { StackError } from "../mod.ts";

/** The byte-stream operations pingpong needs; both `TcpConn` and `Deno.TcpConn` have them. */
export interface StreamConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  setNoDelay(on?: boolean): void;
  close(): void;
}

/**
 * The stack's non-blocking calls (`TcpConn` has them): a round trip waits on one promise,
 * where `read`/`write` make one per call and per async function on the way.
 */
export interface NonBlockingConn extends StreamConn {
  readInto(buf: Uint8Array, off: number, len: number): number;
  writeFrom(buf: Uint8Array, off: number, len: number): number;
  waitReadable(): Promise<unknown>;
  waitWritable(): Promise<unknown>;
}

/** True when `c` has the stack's non-blocking calls ({@link NonBlockingConn}). */
export function isNonBlocking(c: StreamConn): c is NonBlockingConn {
  return typeof (c as Partial<NonBlockingConn>).readInto === "function";
}

/** How far one transaction over the non-blocking calls has come (bytes sent, bytes back). */
export interface RoundTripStep {
  /** Request bytes in the send buffer. */
  sent: number;
  /** Reply bytes read. */
  got: number;
}

/** {@link stepRoundTrip}: wait until the connection is writable. */
export const WAIT_WRITABLE = 1;
/** {@link stepRoundTrip}: wait until the connection is readable. */
export const WAIT_READABLE = 2;

/**
 * Move one transaction over the stack's non-blocking calls as far as it goes without waiting:
 * the request into the send buffer, then the reply out of the receive buffer. Returns 0 when
 * the whole reply is in, else what to wait for ({@link WAIT_WRITABLE}, {@link WAIT_READABLE})
 * before calling again; throws when the server closes the connection. No promise here: the
 * caller's one wait per step is the round trip's only one (a round trip should cost the heap
 * nothing that a scavenge later pauses the process for).
 *
 * @example
 * ```ts ignore
 * const step = { sent: 0, got: 0 };
 * for (let w = stepRoundTrip(conn, msg, reply, step); w !== 0; w = stepRoundTrip(conn, msg, reply, step)) {
 *   await (w === WAIT_WRITABLE ? conn.waitWritable() : conn.waitReadable());
 * }
 * ```
 */
export function stepRoundTrip(
  conn: NonBlockingConn,
  msg: Uint8Array,
  reply: Uint8Array,
  step: RoundTripStep,
): number {
  while (step.sent < msg.length) {
    const n = conn.writeFrom(msg, step.sent, msg.length - step.sent);
    if (n === 0) return WAIT_WRITABLE;
    step.sent += n;
  }
  while (step.got < reply.length) {
    const n = conn.readInto(reply, step.got, reply.length - step.got);
    if (n > 0) step.got += n;
    else if (n === 0) {
      throw new StackError(
        "ECONNRESET",
        step.got === 0
          ? "the server closed the connection"
          : `connection ended inside a message (${step.got} bytes)`,
      );
    } else return WAIT_READABLE;
  }
  return 0;
}
