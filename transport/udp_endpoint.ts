/**
 * One UDP socket: bind/connect through its layer, `sendto`, and the receive side — a bounded
 * queue of whole datagrams read by copy (`recvfrom`, `recvmmsg`) or lent out in place
 * (`borrow` / `giveBack`, zero-copy). The protocol work lives in `transport/udp.ts`.
 *
 * @module
 */

import { type IpAddr, IpAddress, type IpFamily } from "../net/ip_address.ts";
import { DatagramRing } from "../core/datagram_ring.ts";
import type { SubarrayCache } from "../core/subarray_cache.ts";
import { type ErrnoCode, StackError } from "../core/errors.ts";
import { EV_ERROR, EV_HANGUP, EV_READABLE, EV_WRITABLE, WaitQueue } from "../core/event_mux.ts";
import type { Counters } from "../core/counters.ts";
import type { UdpLease, UdpMessages, UdpPeer } from "./udp_records.ts";

/**
 * What a socket needs from its UDP layer (`transport/udp.ts`'s `UdpLayer` is it): the protocol
 * work behind bind, connect and send, readiness delivery and the counters.
 */
export interface UdpSocketHost {
  /** Largest SO_RCVBUF accepted. */
  readonly maxReceiveBufferBytes: number;
  /** The UDP counters. */
  readonly counters: Counters;
  /** Bind `ep` (port 0: an ephemeral one). */
  bind(ep: UdpEndpoint, addr: IpAddr, port: number): void;
  /** Connect `ep`. */
  connect(ep: UdpEndpoint, addr: IpAddr, port: number): void;
  /** Send one datagram from `ep` (`requestTick` false: the caller asks once per batch). */
  sendto(
    ep: UdpEndpoint,
    data: Uint8Array,
    off: number,
    len: number,
    addr: IpAddr | null,
    port: number,
    requestTick?: boolean,
  ): number;
  /** Ask for a tick so queued datagrams go out. */
  flushRequest(): void;
  /** `ep` is closing: unbind it. */
  release(ep: UdpEndpoint): void;
  /** Readiness of `ep` changed. */
  notify(ep: UdpEndpoint, events: number): void;
}

/** Words per queued datagram in the metadata array: source address (4), port. */
const META_WORDS = 5;
/**
 * Receive ring bytes beyond SO_RCVBUF: each datagram is stored in one piece, so the ring keeps
 * room for the largest one besides the accounted buffer.
 */
const RING_SLACK_BYTES = 65_536;
/** The IPv4 wildcard, `0.0.0.0` (IPv4-mapped). */
const ANY4 = IpAddress.v4(0);
/** The IPv6 wildcard, `::`. */
const ANY6 = new IpAddress(0, 0, 0, 0);

/** The wildcard address of `family`. */
export function anyOf(family: IpFamily): IpAddress {
  return family === 4 ? ANY4 : ANY6;
}

/**
 * One UDP socket.
 */
export class UdpEndpoint {
  /** Readiness of this socket. */
  readonly wq: WaitQueue = new WaitQueue();
  /** The socket's family: 4 (AF_INET) or 6 (AF_INET6, dual-stack unless `v6only`). */
  readonly family: IpFamily;
  /** IPV6_V6ONLY: an AF_INET6 socket bound to `::` gets no IPv4 (set before binding). */
  v6only = false;
  /** Local address (the family's wildcard when unbound or bound to any). */
  localAddr: IpAddress;
  /** Local port (0 = unbound). */
  localPort = 0;
  /** Connected peer address (the wildcard when unconnected). */
  remoteAddr: IpAddress;
  /** Connected peer port. */
  remotePort = 0;
  /** SO_BROADCAST. */
  broadcast = false;
  /** SO_REUSEADDR (recorded; UDP binding conflicts are still refused). */
  reuseAddr = false;
  /** SO_SNDBUF: the largest datagram accepted for sending is min(this, 65507). */
  sendBufferBytes = 212_992;
  /** TTL / hop limit of outgoing datagrams (0 = the network layer's default). */
  ttl = 0;
  /**
   * IP_MTU_DISCOVER = IP_PMTUDISC_DO / IPV6_DONTFRAG: datagrams leave with DF set (IPv6: are
   * not fragmented at the source); one larger than the path MTU is refused with EMSGSIZE, and
   * a "too big" error about one is reported on a connected socket (Linux).
   */
  dontFragment = false;
  /** Pending asynchronous error (e.g. ECONNREFUSED after a port unreachable). */
  error: ErrnoCode | null = null;
  /** Datagrams dropped because the receive queue was full. */
  drops = 0;
  #layer: UdpSocketHost | null;
  /** Received datagrams, each in one piece (so they can be lent out in place). */
  #ring: DatagramRing;
  /** Per ring slot: source address (4 words), source port. */
  #meta: Uint32Array;
  #rcvbuf: number;

  /** Made by the UDP layer's `open`. */
  constructor(
    layer: UdpSocketHost,
    family: IpFamily,
    receiveBufferBytes: number,
    maxDatagrams: number,
  ) {
    this.#layer = layer;
    this.family = family;
    this.localAddr = anyOf(family);
    this.remoteAddr = anyOf(family);
    this.#rcvbuf = receiveBufferBytes;
    this.#ring = new DatagramRing(receiveBufferBytes + RING_SLACK_BYTES, maxDatagrams);
    this.#meta = new Uint32Array(maxDatagrams * META_WORDS);
    this.wq.readiness = EV_WRITABLE;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#layer === null;
  }

  /** Datagrams waiting to be read. */
  get queuedDatagrams(): number {
    return this.#ring.queued;
  }

  /** Bytes held: datagrams waiting to be read and datagrams lent out. */
  get queuedBytes(): number {
    return this.#ring.bytes;
  }

  /** Datagrams lent out by {@link borrow} and not handed back yet. */
  get lentDatagrams(): number {
    return this.#ring.lent;
  }

  /** SO_RCVBUF. */
  get receiveBufferBytes(): number {
    return this.#rcvbuf;
  }

  /** Set SO_RCVBUF (bounded by the layer's maximum); keeps queued data. */
  set receiveBufferBytes(bytes: number) {
    const layer = this.#live();
    const n = Math.max(2048, Math.min(bytes, layer.maxReceiveBufferBytes));
    this.#rcvbuf = n;
    // While datagrams are lent the storage cannot move: it grows at the next enqueue instead.
    this.#ring.grow(n + RING_SLACK_BYTES);
  }

  #live(): UdpSocketHost {
    if (this.#layer === null) throw new StackError("EBADF", "socket is closed");
    return this.#layer;
  }

  /** Bind to `addr` (null = the family's wildcard) and `port` (0 = pick an ephemeral one). */
  bind(addr: IpAddr | null, port: number): void {
    this.#live().bind(this, addr ?? anyOf(this.family), port);
  }

  /** Connect to `addr:port` (filters incoming datagrams, sets the default destination). */
  connect(addr: IpAddr, port: number): void {
    this.#live().connect(this, addr, port);
  }

  /**
   * Send `data[off..off+len)` to `addr:port` (or the connected peer when `addr` is null).
   * Returns `len`. Throws StackError: EDESTADDRREQ, EMSGSIZE, ENETUNREACH, EACCES (broadcast
   * without SO_BROADCAST), EAFNOSUPPORT (an IPv6 address from an AF_INET socket), ENOBUFS.
   */
  sendto(data: Uint8Array, off: number, len: number, addr: IpAddr | null = null, port = 0): number {
    return this.#live().sendto(this, data, off, len, addr, port);
  }

  /**
   * Take the oldest datagram: copies up to `len` bytes into `dst[off..]` (the rest of a longer
   * datagram is discarded, as with MSG_TRUNC semantics) and fills `from`. Returns the bytes
   * copied, or -1 when the queue is empty. Throws a pending error once (ECONNREFUSED).
   */
  recvfrom(dst: Uint8Array, off: number, len: number, from: UdpPeer | null): number {
    this.#live();
    this.#throwPendingError("recvfrom");
    const ring = this.#ring;
    const slot = ring.peek();
    if (slot < 0) return -1;
    const length = ring.lengthOf(slot);
    if (from !== null) this.#peerOf(slot, from, length);
    const n = Math.min(len, length);
    const at = ring.offsetOf(slot);
    const data = ring.data;
    if (n <= 32) { for (let i = 0; i < n; i++) dst[off + i] = data[at + i]; }
    else dst.set(data.subarray(at, at + n), off);
    ring.take();
    this.#updateReadiness();
    return n;
  }

  /**
   * Zero-copy receive: lend the oldest datagram out in place — `lease.buf[lease.off,
   * lease.off + lease.len)` is the datagram in the socket's receive ring — and fill
   * `lease.peer`. Returns false when none is queued. The datagram stays the application's until
   * {@link giveBack}; it keeps counting against the receive buffer meanwhile. Throws a pending
   * error once (ECONNREFUSED), and EINVAL for a lease that still holds a datagram.
   */
  borrow(lease: UdpLease): boolean {
    const layer = this.#live();
    this.#throwPendingError("borrow");
    if (lease.slot >= 0) throw new StackError("EINVAL", "borrow: the lease holds a datagram");
    const ring = this.#ring;
    const slot = ring.lend();
    if (slot < 0) return false;
    lease.buf = ring.data;
    lease.off = ring.offsetOf(slot);
    lease.len = ring.lengthOf(slot);
    lease.slot = slot;
    lease.generation = ring.generationOf(slot);
    this.#peerOf(slot, lease.peer, lease.len);
    layer.counters.ZeroCopyLent++;
    this.#updateReadiness();
    return true;
  }

  /**
   * Hand a borrowed datagram back: its space in the receive ring is free again once every
   * older one is done. Throws EINVAL for a lease that holds nothing of this socket (never
   * lent, handed back already, or from before a close); EBADF after close (a lease that was
   * still out then is counted in `ZeroCopyLeakedOnClose`).
   */
  giveBack(lease: UdpLease): void {
    const layer = this.#live();
    if (!this.#ring.giveBack(lease.slot, lease.generation)) {
      throw new StackError("EINVAL", "giveBack: the lease holds no datagram of this socket");
    }
    lease.clear();
    layer.counters.ZeroCopyReturned++;
  }

  /**
   * Receive up to `max` (≤ capacity) datagrams into `msgs` in one call, like `recvmmsg(2)`:
   * message `i` gets `lengths[i]` bytes in `bufs[i]` (longer datagrams truncated, see
   * `msgs.truncated(i)`) and its sender in `peers[i]`. Returns the count (also `msgs.count`),
   * 0 when none is queued. A pending error is thrown only when no datagram was taken.
   */
  recvmmsg(msgs: UdpMessages, max = msgs.capacity): number {
    this.#live();
    const want = Math.min(max, msgs.capacity);
    let n = 0;
    if (this.#ring.queued === 0) this.#throwPendingError("recvmmsg");
    while (n < want) {
      const buf = msgs.bufs[n];
      const got = this.recvfrom(buf, 0, buf.length, msgs.peers[n]);
      if (got < 0) break;
      msgs.lengths[n++] = got;
      if (this.error !== null) break; // reported by the next call
    }
    msgs.count = n;
    return n;
  }

  /**
   * Send messages `0 .. count − 1` of `msgs` in one call, like `sendmmsg(2)`: message `i` is
   * `bufs[i][0, lengths[i])` to `peers[i]` (its port 0: the connected peer). Returns the number
   * sent; an error on the first message is thrown (the errors of {@link sendto}), a later one
   * ends the batch early (the caller sends the rest again and sees it).
   */
  sendmmsg(msgs: UdpMessages, count: number = msgs.capacity): number {
    const layer = this.#live();
    const n = Math.min(count, msgs.capacity);
    for (let i = 0; i < n; i++) {
      const p = msgs.peers[i];
      try {
        const to = p.port === 0 ? null : p.addr;
        layer.sendto(this, msgs.bufs[i], 0, msgs.lengths[i], to, p.port, false);
      } catch (e) {
        if (i === 0) throw e;
        layer.flushRequest();
        return i;
      }
    }
    layer.flushRequest();
    return n;
  }

  /** Fill `p` with the sender of the datagram in `slot`. */
  #peerOf(slot: number, p: UdpPeer, length: number): void {
    const m = this.#meta;
    const i = slot * META_WORDS;
    p.addr.setWords(m[i], m[i + 1], m[i + 2], m[i + 3]);
    p.port = m[i + 4];
    p.length = length;
  }

  /** Throw a pending asynchronous error once (clearing it). */
  #throwPendingError(call: string): void {
    if (this.error === null) return;
    const e = this.error;
    this.error = null;
    this.#updateReadiness();
    throw new StackError(e, call);
  }

  /** Close: unbind and drop queued datagrams. Idempotent. */
  close(): void {
    const layer = this.#layer;
    if (layer === null) return;
    layer.release(this);
    this.#layer = null;
    layer.counters.ZeroCopyLeakedOnClose += this.#ring.lent;
    this.#ring.clear();
    this.wq.readiness = 0;
    this.wq.wakeAll(EV_ERROR | EV_HANGUP);
  }

  /** Queue a received datagram; false when the queue is full. */
  enqueue(
    buf: Uint8Array,
    off: number,
    len: number,
    src: IpAddr,
    srcPort: number,
    views: SubarrayCache | null = null,
  ): boolean {
    const ring = this.#ring;
    // Like Linux, a datagram is taken while the buffer is not full; the first always fits.
    if (ring.held > 0 && ring.bytes + len > this.#rcvbuf) {
      this.drops++;
      return false;
    }
    if (ring.capacity < this.#rcvbuf + RING_SLACK_BYTES) ring.grow(this.#rcvbuf + RING_SLACK_BYTES);
    const slot = ring.push(buf, off, len, views);
    if (slot < 0) {
      this.drops++;
      return false;
    }
    const m = this.#meta;
    const i = slot * META_WORDS;
    m[i] = src.w0;
    m[i + 1] = src.w1;
    m[i + 2] = src.w2;
    m[i + 3] = src.w3;
    m[i + 4] = srcPort;
    this.#updateReadiness();
    return true;
  }

  /** Record an asynchronous error (connected sockets only, as Linux without IP_RECVERR). */
  setError(code: ErrnoCode): void {
    this.error = code;
    this.#updateReadiness();
  }

  #updateReadiness(): void {
    const before = this.wq.readiness;
    let r = EV_WRITABLE;
    if (this.#ring.queued > 0) r |= EV_READABLE;
    if (this.error !== null) r |= EV_ERROR | EV_READABLE;
    this.wq.readiness = r;
    const gained = r & ~before;
    if (gained !== 0 && this.#layer !== null) this.#layer.notify(this, gained);
  }
}
