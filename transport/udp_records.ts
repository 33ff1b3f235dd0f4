/**
 * The records UDP's receive, batch and zero-copy calls fill, made once by the application and
 * reused for every call, so no path allocates per datagram:
 *
 * - {@link UdpPeer}: the sender of a received datagram (or the destination of one to send).
 * - {@link UdpLease}: one datagram lent out in place by `UdpEndpoint.borrow` — the bytes are
 *   read where they lie in the socket's receive ring (`buf[off, off + len)`), no copy — until
 *   `UdpEndpoint.giveBack` returns the space. A lent datagram keeps counting against the
 *   receive buffer, as unread data does, so an application that keeps leases fills its socket
 *   and further datagrams are dropped (`RcvbufErrors`), never the stack's memory.
 * - {@link UdpMessages}: a vector of datagrams for `UdpEndpoint.recvmmsg` / `sendmmsg`, like
 *   Linux's `struct mmsghdr[]`: one buffer, one length and one peer per message.
 *
 * @module
 */

import { IpAddressScratch } from "../net/ip_address.ts";

/** Sender of a received datagram (or destination of one to send); one record reused. */
export class UdpPeer {
  /** Source address (IPv4 ones IPv4-mapped). */
  readonly addr: IpAddressScratch = new IpAddressScratch();
  /** Source port. */
  port = 0;
  /** Full datagram length (larger than what was copied when truncated). */
  length = 0;
}

/** An empty buffer for records that hold nothing. */
const NOTHING = new Uint8Array(0);

/**
 * A datagram borrowed from a socket's receive ring. Filled by `UdpEndpoint.borrow`; valid
 * until handed back with `UdpEndpoint.giveBack` (or the socket closes).
 *
 * @example
 * ```ts ignore
 * const lease = new UdpLease();
 * while (sock.borrow(lease)) {
 *   handle(lease.buf, lease.off, lease.len, lease.peer);
 *   sock.giveBack(lease);
 * }
 * ```
 */
export class UdpLease {
  /** The socket's receive ring: the datagram is `buf[off, off + len)`. */
  buf: Uint8Array = NOTHING;
  /** Start of the datagram in `buf`. */
  off = 0;
  /** Length of the datagram. */
  len = 0;
  /** Sender. */
  readonly peer: UdpPeer = new UdpPeer();
  /** Which record is lent (the socket's slot), -1 when none. */
  slot: number = -1;
  /** The record's generation (names it; a stale lease is refused). */
  generation = 0;

  /** True while this lease holds a datagram. */
  get held(): boolean {
    return this.slot >= 0;
  }

  /** Forget the datagram (done by `giveBack`). */
  clear(): void {
    this.buf = NOTHING;
    this.off = this.len = this.generation = 0;
    this.slot = -1;
  }
}

/**
 * A vector of datagrams for the batch calls, `capacity` messages of up to `bufferBytes` each.
 *
 * @example
 * ```ts ignore
 * const msgs = new UdpMessages(32, 9000);
 * const n = sock.recvmmsg(msgs); // up to 32 datagrams in one call
 * for (let i = 0; i < n; i++) use(msgs.bufs[i].subarray(0, msgs.lengths[i]), msgs.peers[i]);
 * ```
 */
export class UdpMessages {
  /** Messages it holds. */
  readonly capacity: number;
  /** One buffer per message. */
  readonly bufs: Uint8Array[];
  /** Bytes in each message (received, or to send). */
  readonly lengths: Int32Array;
  /**
   * Peer of each message: the sender (receive), or the destination (send; a port of 0 means
   * the connected peer).
   */
  readonly peers: UdpPeer[];
  /** Messages filled by the last receive. */
  count = 0;

  /** `capacity` messages, each with a buffer of `bufferBytes`. */
  constructor(capacity: number, bufferBytes: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 1024)) {
      throw new RangeError(`UdpMessages: capacity ${capacity} must be 1..1024`);
    }
    if (!(Number.isInteger(bufferBytes) && bufferBytes >= 0 && bufferBytes <= 65_536)) {
      throw new RangeError(`UdpMessages: bufferBytes ${bufferBytes} must be 0..65536`);
    }
    this.capacity = capacity;
    const memory = new ArrayBuffer(capacity * bufferBytes);
    this.bufs = [];
    this.peers = [];
    for (let i = 0; i < capacity; i++) {
      this.bufs.push(new Uint8Array(memory, i * bufferBytes, bufferBytes));
      this.peers.push(new UdpPeer());
    }
    this.lengths = new Int32Array(capacity);
  }

  /** True if message `i` was longer than its buffer (the rest was discarded, MSG_TRUNC). */
  truncated(i: number): boolean {
    return this.peers[i].length > this.lengths[i];
  }
}
