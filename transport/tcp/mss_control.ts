/**
 * Where a connection's send MSS comes from, apart from the arithmetic of `mss.ts`: the MSS the
 * handshake settled, the MSS the path MTU towards the peer allows (RFC 1191, RFC 8201: a
 * "too big" error lowers it, the cache entry's expiry raises it again), and a black-hole cap
 * (RFC 4821 §7.7 and Linux `tcp_mtu_probing = 1`: when full-sized segments keep timing out
 * and no ICMP error ever says why, a router may be dropping them silently — fall back to
 * {@link MTU_PROBE_BASE_MSS} bytes, then half of that each time it happens again, and try
 * full size again after {@link MTU_PROBE_INTERVAL_MS}). The sender's MSS is the smallest of
 * the three.
 *
 * The path part is synced the way Linux's `tcp_current_mss` compares `icsk_pmtu_cookie`: at
 * every output pass the connection asks the shared path MTU cache, so one error about one
 * connection lowers the segments of every connection to that destination, and an entry's
 * expiry raises them again.
 *
 * @module
 */

import { DEFAULT_PEER_MSS } from "./mss.ts";

/** The MSS a black-hole fallback starts at (Linux `tcp_base_mss`). */
export const MTU_PROBE_BASE_MSS = 1024;
/** The smallest MSS a black-hole fallback goes down to (as a "too big" error: 128 − 40). */
export const MTU_PROBE_FLOOR_MSS = 88;
/**
 * Consecutive retransmission timeouts without progress before a black hole is suspected
 * (Linux `tcp_retries1`, the point where it also asks for a new route).
 */
export const BLACKHOLE_TIMEOUTS = 3;
/** How long a black-hole fallback holds before full size is tried again (Linux `tcp_probe_interval`). */
export const MTU_PROBE_INTERVAL_MS = 600_000;
/**
 * The path MSS when no path MTU is known towards the peer: no limit, as a small integer. Not
 * Infinity: a field that once holds Infinity is kept as a double in every object of its class,
 * a 16-byte heap number per connection (bench/README.md, branch conn9b).
 */
export const NO_PATH_MSS_LIMIT = 0x7fff_ffff;

/**
 * The three MSS sources of one connection.
 *
 * @example
 * ```ts
 * const m = new MssControl();
 * m.negotiated = 1448;
 * m.syncPath(1448);
 * m.effective(); // 1448
 * m.onTimeout(3, 100_000, 0); // true: black hole suspected
 * m.effective(); // 1024
 * ```
 */
export class MssControl {
  /** The send MSS the SYN exchange settled (peer option, our advertisement, timestamps). */
  negotiated: number = DEFAULT_PEER_MSS;
  /**
   * The send MSS the path MTU allows, as last synced ({@link NO_PATH_MSS_LIMIT} before the
   * first sync and while no path MTU is known).
   */
  path: number = NO_PATH_MSS_LIMIT;
  /** The black-hole cap (0: none). */
  blackhole = 0;
  /** When the black-hole cap was set. */
  blackholeAtMs = 0;
  /** A fallback waits for an acknowledgment to be counted a success. */
  unconfirmed = false;

  /** The send MSS: the smallest of the three. */
  effective(): number {
    let m = this.negotiated;
    if (this.path < m) m = this.path;
    if (this.blackhole > 0 && this.blackhole < m) m = this.blackhole;
    return m;
  }

  /** The path now allows `pathMss`: true when that changed. */
  syncPath(pathMss: number): boolean {
    if (pathMss === this.path) return false;
    this.path = pathMss;
    return true;
  }

  /**
   * Timeout number `timeouts` in a row, with `inFlightBytes` unacknowledged: true when this
   * is a black hole to fall back from (the cap went down). Only when a smaller segment could
   * carry something the full-sized ones did not (more is in flight than the new cap).
   */
  onTimeout(timeouts: number, inFlightBytes: number, nowMs: number): boolean {
    if (timeouts < BLACKHOLE_TIMEOUTS) return false;
    const current = this.effective();
    let cap = this.blackhole === 0 ? MTU_PROBE_BASE_MSS : this.blackhole >> 1;
    if (cap < MTU_PROBE_FLOOR_MSS) cap = MTU_PROBE_FLOOR_MSS;
    if (cap >= current || inFlightBytes <= cap) return false;
    this.blackhole = cap;
    this.blackholeAtMs = nowMs;
    this.unconfirmed = true;
    return true;
  }

  /** True when a black-hole cap has held {@link MTU_PROBE_INTERVAL_MS} and was dropped now. */
  expire(nowMs: number): boolean {
    if (this.blackhole === 0 || nowMs - this.blackholeAtMs < MTU_PROBE_INTERVAL_MS) return false;
    this.blackhole = 0;
    this.unconfirmed = false;
    return true;
  }

  /** Data was acknowledged: true once after a fallback (it carried data at the lower size). */
  confirm(): boolean {
    if (!this.unconfirmed) return false;
    this.unconfirmed = false;
    return true;
  }
}
