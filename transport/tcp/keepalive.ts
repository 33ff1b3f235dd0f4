/**
 * TCP keepalive (RFC 1122 §4.2.3.6, Linux semantics: SO_KEEPALIVE with TCP_KEEPIDLE,
 * TCP_KEEPINTVL, TCP_KEEPCNT): after `idleMs` without a segment from the peer, probe every
 * `intervalMs`; after `count` unanswered probes the connection fails with ETIMEDOUT.
 *
 * A connection makes its keepalive when SO_KEEPALIVE is first turned on; until then it only
 * notes when the peer was last heard ({@link KeepaliveConnection.lastRecvMs}).
 *
 * @module
 */

import { Timer } from "../../core/timer_wheel.ts";
import type { TcpServices } from "./context.ts";
import type { TcpSender } from "./sender.ts";
import { TcpState } from "./state.ts";

/** What keepalive needs from its connection; `TcpEndpoint` implements it. */
export interface KeepaliveConnection {
  /** The connection's state. */
  readonly state: TcpState;
  /** When the last segment arrived from the peer (ms). */
  readonly lastRecvMs: number;
  /** The peer is gone: fail with ETIMEDOUT (or the ICMP error seen). */
  timedOut(): void;
}

/**
 * The keepalive of one connection, created with it.
 *
 * @example
 * ```ts ignore
 * const ka = new TcpKeepalive(conn, snd, layer);
 * ka.configure(true, 60_000, 10_000, 5);
 * ka.segmentArrived(); // on every acceptable segment
 * ```
 */
export class TcpKeepalive {
  /** SO_KEEPALIVE. */
  enabled = false;
  /** TCP_KEEPIDLE in ms. */
  idleMs: number;
  /** TCP_KEEPINTVL in ms. */
  intervalMs: number;
  /** TCP_KEEPCNT. */
  count: number;
  /** Probes sent without an answer. */
  probes = 0;
  /** The keepalive timer. */
  readonly timer: Timer;
  readonly #conn: KeepaliveConnection;
  readonly #snd: TcpSender;
  readonly #svc: TcpServices;

  /** Keepalive for `conn` (probes sent by its sender `snd`) with the layer's defaults, off. */
  constructor(conn: KeepaliveConnection, snd: TcpSender, svc: TcpServices) {
    this.#conn = conn;
    this.#snd = snd;
    this.#svc = svc;
    const o = svc.opts;
    this.idleMs = o.keepaliveIdleMs;
    this.intervalMs = o.keepaliveIntervalMs;
    this.count = o.keepaliveCount;
    this.timer = new Timer(TcpKeepalive.#fire, this);
  }

  static #fire(k: TcpKeepalive): void {
    k.#onTimer();
  }

  /** Turn keepalive on or off; positive values replace idle, interval and count. */
  configure(on: boolean, idleMs?: number, intervalMs?: number, count?: number): void {
    this.enabled = on;
    if (idleMs !== undefined && idleMs > 0) this.idleMs = idleMs;
    if (intervalMs !== undefined && intervalMs > 0) this.intervalMs = intervalMs;
    if (count !== undefined && count > 0) this.count = count;
    if (on) this.arm();
    else this.stop();
  }

  /** (Re)arm for `idleMs` after the last segment received (when enabled and not CLOSED). */
  arm(): void {
    if (!this.enabled || this.#conn.state === TcpState.CLOSED) return;
    this.#svc.ctx.timers.schedule(this.timer, this.#conn.lastRecvMs + this.idleMs);
  }

  /** A segment arrived from the peer (the connection noted when): it is alive. */
  segmentArrived(): void {
    this.probes = 0;
  }

  /** Stop the timer. */
  stop(): void {
    this.#svc.ctx.timers.cancel(this.timer);
  }

  #onTimer(): void {
    const conn = this.#conn;
    const st = conn.state;
    if (!this.enabled || st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
    const svc = this.#svc;
    const timers = svc.ctx.timers;
    const now = svc.ctx.clock.nowMs();
    // Data in flight: the retransmission timer watches the peer instead.
    if (this.#snd.inFlight) {
      timers.schedule(this.timer, now + this.idleMs);
      return;
    }
    const last = conn.lastRecvMs;
    const idle = now - last;
    if (this.probes === 0 && idle < this.idleMs) {
      timers.schedule(this.timer, last + this.idleMs);
      return;
    }
    if (this.probes >= this.count) {
      svc.stats.TCPKeepAlive++;
      conn.timedOut();
      return;
    }
    this.probes++;
    svc.stats.TCPKeepAlive++;
    this.#snd.sendProbe();
    timers.schedule(this.timer, now + this.intervalMs);
  }
}
