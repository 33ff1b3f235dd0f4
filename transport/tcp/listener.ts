/**
 * A listening socket (RFC 9293 §3.10.7.2): hands SYNs to the syncache (a compact half-open
 * record and its SYN-ACK, or a SYN cookie when full; `syncache.ts`), takes the connections
 * that complete the handshake into the accept queue, and bounds both by the backlog (Linux
 * counters `ListenOverflows` / `ListenDrops`).
 *
 * @module
 */

import type { IpAddr, IpAddress } from "../../net/ip_address.ts";
import type { NetRoute } from "../../net/network_layer.ts";
import { DenseSet } from "../../core/dense_set.ts";
import { EV_HANGUP, EV_READABLE, WaitQueue } from "../../core/event_mux.ts";
import type { ConnectionLayer, TcpEndpoint } from "./endpoint.ts";
import { TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import { admitSegment, type RxSegment } from "./segment.ts";
import type { SynCache, SynEntry } from "./syncache.ts";

/** What a listener needs from its TCP layer; `TcpLayer` provides it. */
export interface ListenerLayer extends ConnectionLayer {
  /** Take `l` out of the demux. */
  removeListener(l: TcpListener): void;
  /** The (shared) route to `dst` (a link-local one on NIC `zoneNic`), or null when none. */
  routeTo(dst: IpAddr, zoneNic: number): NetRoute | null;
  /** Half-open records and SYN cookies. */
  readonly syncache: SynCache;
}

/**
 * A TCP listener. `wq` is `EV_READABLE` while a connection waits in the accept queue.
 *
 * @example
 * ```ts ignore
 * const l = tcp.listen(0, 8080, 128);
 * await l.wq.wait(EV_READABLE);
 * const conn = l.accept();
 * ```
 */
export class TcpListener {
  /** Readiness and waiters. */
  readonly wq: WaitQueue = new WaitQueue();
  /**
   * Bound address: a local address, or a wildcard — `0.0.0.0` (IPv4), `::` (IPv6, and IPv4
   * too unless `v6only`).
   */
  readonly localAddr: IpAddress;
  /** Bound port. */
  readonly localPort: number;
  /** IPV6_V6ONLY: a `::` listener takes no IPv4. */
  readonly v6only: boolean;
  /** Most connections waiting to be accepted. */
  readonly backlog: number;
  /** @internal Its half-open syncache records. */
  readonly synEntries: DenseSet<SynEntry> = new DenseSet<SynEntry>();
  /** @internal When it last sent a SYN cookie (ms). */
  lastCookieMs = -Infinity;
  readonly #layer: ListenerLayer;
  /** Accept queue: a ring of `backlog` slots (O(1) at both ends). */
  readonly #queue: (TcpEndpoint | null)[];
  #head = 0;
  #count = 0;
  #closed = false;

  /** @internal Use `TcpLayer.listen`. */
  constructor(
    layer: ListenerLayer,
    localAddr: IpAddress,
    localPort: number,
    backlog: number,
    v6only = false,
  ) {
    this.#layer = layer;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.backlog = backlog;
    this.v6only = v6only;
    this.#queue = new Array<TcpEndpoint | null>(backlog).fill(null);
  }

  /** Connections waiting in the accept queue. */
  get pending(): number {
    return this.#count;
  }

  /** Half-open connections (syncache records). */
  get halfOpen(): number {
    return this.synEntries.size;
  }

  /** The next established connection, or null (EAGAIN). */
  accept(): TcpEndpoint | null {
    if (this.#count === 0) return null;
    const ep = this.#queue[this.#head]!;
    this.#queue[this.#head] = null;
    this.#head = this.#head + 1 === this.backlog ? 0 : this.#head + 1;
    this.#count--;
    ep.listener = null;
    this.#updateReadiness();
    return ep;
  }

  /** Stop listening: unaccepted and half-open connections are reset. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#layer.removeListener(this);
    this.#layer.syncache.dropListener(this);
    for (let ep = this.accept(); ep !== null; ep = this.accept()) ep.abort();
    this.wq.readiness = 0;
    this.wq.wakeAll(EV_HANGUP);
  }

  /** @internal True when the accept queue can take one more connection. */
  hasRoom(): boolean {
    return this.#count < this.backlog;
  }

  /** @internal A connection completed the handshake: queue it for accept. */
  established(ep: TcpEndpoint): void {
    if (this.#count >= this.backlog) {
      // Callers check hasRoom() first; a connection with no room is not kept.
      ep.listener = null;
      ep.abort();
      return;
    }
    let tail = this.#head + this.#count;
    if (tail >= this.backlog) tail -= this.backlog;
    this.#queue[tail] = ep;
    this.#count++;
    this.#updateReadiness();
  }

  /** @internal A queued connection died before it was accepted: take it out. */
  forget(ep: TcpEndpoint): void {
    const q = this.#queue;
    const n = this.#count;
    let w = 0;
    let found = false;
    for (let k = 0; k < n; k++) {
      const i = (this.#head + k) % this.backlog;
      const e = q[i];
      q[i] = null;
      if (e === ep) {
        found = true;
        continue;
      }
      q[(this.#head + w++) % this.backlog] = e;
    }
    this.#count = w;
    if (found) this.#updateReadiness();
  }

  /**
   * @internal A segment for no connection arrived at this listener (RFC 9293 §3.10.7.2). A SYN
   * goes to the syncache unchecked (it verifies the checksum once it decides to answer); the
   * rest is admitted here first (`admitSegment`).
   */
  input(seg: RxSegment): void {
    const layer = this.#layer;
    const flags = seg.flags;
    if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) !== TCP_FLAG_SYN) {
      if (!admitSegment(seg, layer.stats)) return;
    }
    if ((flags & TCP_FLAG_RST) !== 0) return; // first: ignore a RST
    if ((flags & TCP_FLAG_ACK) !== 0) {
      // Second: an ACK for nothing here — unless it completes a SYN cookie.
      if ((flags & TCP_FLAG_SYN) !== 0 || !layer.syncache.onCookieAck(this, seg)) {
        layer.tx.replyRst(seg);
      }
      return;
    }
    if ((flags & TCP_FLAG_SYN) === 0) return;
    // Third: a SYN.
    layer.syncache.onSyn(this, seg);
  }

  #updateReadiness(): void {
    const had = this.wq.readiness;
    const r = this.#count > 0 ? EV_READABLE : 0;
    this.wq.readiness = r;
    if ((r & ~had) !== 0) this.#layer.ctx.mux.notify(this.wq, r);
  }
}
