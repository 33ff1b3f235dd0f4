/**
 * A listening socket (RFC 9293 §3.10.7.2): answers SYNs with SYN-ACKs from a new connection
 * in SYN_RECEIVED, moves connections that complete the handshake to the accept queue, and
 * bounds both by the backlog (Linux counters `ListenOverflows` / `ListenDrops`).
 *
 * @module
 */

import type { RouteResult } from "../../net/route_table.ts";
import { EV_HANGUP, EV_READABLE, WaitQueue } from "../../core/event_mux.ts";
import { type ConnectionLayer, TcpEndpoint } from "./endpoint.ts";
import { acceptSyn } from "./handshake.ts";
import { TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import type { RxSegment } from "./segment.ts";
import { seqGt } from "./seq.ts";

/** Half-open connections allowed per listener beyond the backlog (a SYN queue bound). */
const MIN_SYN_QUEUE = 64;

/** What a listener needs from its TCP layer; `TcpLayer` provides it. */
export interface ListenerLayer extends ConnectionLayer {
  /** Add a connection to the demux; false when the table refused it. */
  register(ep: TcpEndpoint): boolean;
  /** Take `l` out of the demux. */
  removeListener(l: TcpListener): void;
  /** The (shared) route to `dst`, or null when there is none. */
  routeTo(dst: number): RouteResult | null;
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
  /** Bound address (0 = any). */
  readonly localAddr: number;
  /** Bound port. */
  readonly localPort: number;
  /** Most connections waiting to be accepted. */
  readonly backlog: number;
  readonly #layer: ListenerLayer;
  readonly #queue: TcpEndpoint[] = [];
  readonly #halfOpen = new Set<TcpEndpoint>();
  #closed = false;

  /** @internal Use `TcpLayer.listen`. */
  constructor(layer: ListenerLayer, localAddr: number, localPort: number, backlog: number) {
    this.#layer = layer;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.backlog = backlog;
  }

  /** Connections waiting in the accept queue. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Half-open connections (SYN_RECEIVED). */
  get halfOpen(): number {
    return this.#halfOpen.size;
  }

  /** The next established connection, or null (EAGAIN). */
  accept(): TcpEndpoint | null {
    const ep = this.#queue.shift();
    if (ep === undefined) return null;
    ep.listener = null;
    this.#updateReadiness();
    return ep;
  }

  /** Stop listening: unaccepted and half-open connections are reset. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#layer.removeListener(this);
    const all = [...this.#queue, ...this.#halfOpen];
    this.#queue.length = 0;
    this.#halfOpen.clear();
    for (const ep of all) {
      ep.listener = null;
      ep.abort();
    }
    this.wq.readiness = 0;
    this.wq.wakeAll(EV_HANGUP);
  }

  /** @internal True when the accept queue can take one more connection. */
  hasRoom(): boolean {
    return this.#queue.length < this.backlog;
  }

  /** @internal A half-open connection completed the handshake. */
  established(ep: TcpEndpoint): void {
    this.#halfOpen.delete(ep);
    this.#queue.push(ep);
    this.#updateReadiness();
  }

  /** @internal A connection died before it was accepted. */
  forget(ep: TcpEndpoint): void {
    if (this.#halfOpen.delete(ep)) return;
    const i = this.#queue.indexOf(ep);
    if (i >= 0) {
      this.#queue.splice(i, 1);
      this.#updateReadiness();
    }
  }

  /** @internal A segment for no connection arrived at this listener (RFC 9293 §3.10.7.2). */
  input(seg: RxSegment): void {
    const layer = this.#layer;
    const stats = layer.stats;
    const flags = seg.flags;
    if ((flags & TCP_FLAG_RST) !== 0) return; // first: ignore a RST
    if ((flags & TCP_FLAG_ACK) !== 0) {
      layer.tx.replyRst(seg); // second: an ACK for nothing here
      return;
    }
    if ((flags & TCP_FLAG_SYN) === 0) return;
    // Third: a SYN. Linux drops it (no RST) when the accept queue is full.
    if (
      this.#queue.length >= this.backlog ||
      this.#halfOpen.size >= Math.max(MIN_SYN_QUEUE, this.backlog)
    ) {
      stats.ListenOverflows++;
      stats.ListenDrops++;
      return;
    }
    const route = layer.routeTo(seg.src);
    if (route === null) {
      stats.ListenDrops++;
      return;
    }
    const ep = new TcpEndpoint(layer, seg.dst, seg.dstPort, seg.src, seg.srcPort, route, this);
    let iss = layer.isn.next(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    if (seg.reuse && !seqGt(iss, seg.reuseIsnAfter)) iss = seg.reuseIsnAfter;
    acceptSyn(ep, seg, iss);
    if (!layer.register(ep)) {
      stats.ListenDrops++;
      ep.listener = null;
      return;
    }
    this.#halfOpen.add(ep);
    ep.scheduleOutput(); // the SYN-ACK
  }

  #updateReadiness(): void {
    const had = this.wq.readiness;
    const r = this.#queue.length > 0 ? EV_READABLE : 0;
    this.wq.readiness = r;
    if ((r & ~had) !== 0) this.#layer.ctx.mux.notify(this.wq, r);
  }
}
