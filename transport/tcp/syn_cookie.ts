/**
 * SYN cookies (RFC 4987 §3.6), in Linux's form (`secure_tcp_syn_cookie`): when a listener's
 * syncache or accept queue is full, the SYN-ACK's ISS *is* the state — a keyed hash of the
 * four-tuple, a minute counter and the index of the peer's MSS — so nothing is kept, and the
 * completing ACK (`SEG.ACK − 1`) is checked and turned into a connection.
 *
 * ```
 * cookie = H1(tuple) + IRS + (count << 24) + ((H2(tuple, count) + mssIndex) mod 2^24)
 * ```
 *
 * `count` ticks every 64 s (here: the stack clock's minutes); a cookie is good for the minute
 * it was made and the next ({@link COOKIE_MAX_AGE}), so at most two minutes. H1 and H2 are
 * SipHash-2-4 under secret keys drawn at start-up: H1 is a keyed hash of the four-tuple the
 * caller supplies (the TCP layer takes the spare half of the timestamp-offset hash it computes
 * anyway), H2 is computed here under this object's own key.
 *
 * The other options ride in the low bits of our timestamp when the peer sent timestamps
 * (Linux `cookie_init_timestamp`): the peer's window shift (4 bits, 0xf for none), SACK
 * permitted (bit 4) and ECN (bit 5); the ACK echoes them in TSecr. Without timestamps a cookie
 * connection has no window scaling and no SACK, as on Linux.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import type { IpAddr } from "../../net/ip_address.ts";
import { TupleHash } from "./isn.ts";
import { seqGt } from "./seq.ts";

/** Linux's IPv4 MSS table (`msstab`): the cookie carries the index of the largest ≤ the peer's. */
export const COOKIE_MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460];
/** Linux's IPv6 MSS table (`msstab` of `syncookies.c` for IPv6: MTUs 1280, 1480, 1500, 9000 − 60). */
export const COOKIE_MSS_TABLE_V6: readonly number[] = [1220, 1420, 1440, 8940];
/** Minutes a cookie stays good after the one it was made in (Linux MAX_SYNCOOKIE_AGE − 1). */
export const COOKIE_MAX_AGE = 1;
/** How long after the last cookie sent a listener still checks ACKs for one (2 minutes). */
export const COOKIE_VALID_MS = 120_000;
/** Bits of the counter in the top of the cookie. */
const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
/** Bits of our TSval that carry the options. */
const TS_OPTION_BITS = 6;
const TS_OPTION_MASK = (1 << TS_OPTION_BITS) - 1;
/** The 4-bit window shift value meaning "no window scaling". */
const TS_NO_WSCALE = 0xf;
const TS_SACK = 1 << 4;
const TS_ECN = 1 << 5;
/** Largest shift a peer may ask for (RFC 7323 §2.3). */
const MAX_SHIFT = 14;
/** Counter ticks in ms: one minute. */
const COUNT_MS = 60_000;

/** The options a cookie ACK restores ({@link SynCookies.check} fills one record). */
export class CookieOptions {
  /** The peer's MSS (from the table). */
  mss = 0;
  /** The peer's window shift, -1 for no window scaling. */
  windowScale = -1;
  /** SACK permitted. */
  sack = false;
  /** ECN negotiated. */
  ecn = false;
  /** Timestamps on (the ACK carried them and they decoded). */
  timestamps = false;
}

/** The numbers of one cookie, as fields of a record its caller owns ({@link SynCookies.makeInto}). */
export interface CookieFields {
  /** H1: a secret keyed hash of the four-tuple. */
  tupleTag: number;
  /** The peer's ISN (its SYN's SEG.SEQ). */
  irs: number;
  /** Its MSS option (0 when absent). */
  peerMss: number;
  /** The time (ms). */
  nowMs: number;
  /** The cookie: our ISS. */
  iss: number;
}

/** A {@link CookieFields} of {@link SynCookies.make}'s own (doubles from the start). */
class CookieRecord implements CookieFields {
  tupleTag: number = DOUBLE_ZERO;
  irs: number = DOUBLE_ZERO;
  peerMss = 0;
  nowMs: number = DOUBLE_ZERO;
  iss: number = DOUBLE_ZERO;
}

/**
 * Makes and checks SYN cookies for one TCP layer. Allocation-free after construction.
 *
 * @example
 * ```ts
 * const cookies = new SynCookies();
 * import { IpAddress } from "../../net/ip_address.ts";
 * const a = IpAddress.parse("fd00::2"), b = IpAddress.parse("fd00::1");
 * const h1 = 0x12345678; // a keyed hash of the four-tuple
 * const iss = cookies.make(a, 80, b, 40000, h1, 1000, 1440, 0);
 * const opts = new CookieOptions();
 * cookies.check(a, 80, b, 40000, h1, 1000, iss, 0, opts); // true, mss 1440
 * ```
 */
export class SynCookies {
  readonly #h2: TupleHash;
  readonly #scratch = new CookieRecord();

  /** Cookies under a fresh random key (or the 4-word key given, for tests). */
  constructor(key?: Uint32Array) {
    this.#h2 = new TupleHash(key);
  }

  /**
   * The ISS for a SYN from (`remoteAddr`, `remotePort`) to (`localAddr`, `localPort`) with
   * ISN `irs` and MSS option `peerMss` (0 when absent), at `nowMs`; `h1` is a secret keyed
   * hash of the four-tuple. Addresses of either family (the hash covers the IPv6 ones whole;
   * the MSS table is the family's).
   */
  make(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    h1: number,
    irs: number,
    peerMss: number,
    nowMs: number,
  ): number {
    const c = this.#scratch;
    c.tupleTag = h1;
    c.irs = irs;
    c.peerMss = peerMss;
    c.nowMs = nowMs;
    this.makeInto(localAddr, localPort, remoteAddr, remotePort, c);
    return c.iss;
  }

  /**
   * {@link SynCookies.make} with its numbers in `c`'s fields (`tupleTag` is `h1`) and the
   * cookie into `c.iss`: the same cookie, but no uint32 ≥ 2**30 crosses a call as an argument
   * or a return value, where V8 makes each a new heap number when it does not inline the call.
   */
  makeInto(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    c: CookieFields,
  ): void {
    const count = Math.floor(c.nowMs / COUNT_MS) >>> 0;
    const h = this.#h2;
    h.digestIp(localAddr, localPort, remoteAddr, remotePort, count);
    const index = mssIndex(c.peerMss, mssTableOf(localAddr));
    c.iss = (c.tupleTag + c.irs + (count << COOKIE_BITS) + ((h.low + index) & COOKIE_MASK)) >>> 0;
  }

  /**
   * Check the ACK completing a cookie handshake (`h1` as given to `make`): `irs` is
   * SEG.SEQ − 1, `cookie` SEG.ACK − 1,
   * `tsEcr` the echoed timestamp (or -1 when the ACK carries none). True when the cookie is
   * ours and at most {@link COOKIE_MAX_AGE} minutes old; then `out` holds the options.
   */
  check(
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
    h1: number,
    irs: number,
    cookie: number,
    nowMs: number,
    out: CookieOptions,
    tsEcr = -1,
    tsNow = 0,
  ): boolean {
    const count = Math.floor(nowMs / COUNT_MS) >>> 0;
    const c = (cookie - h1 - irs) >>> 0;
    const age = (count - (c >>> COOKIE_BITS)) & (0xffffffff >>> COOKIE_BITS);
    if (age > COOKIE_MAX_AGE) return false;
    const then = (count - age) >>> 0;
    const h2 = this.#h2.hashIp(localAddr, localPort, remoteAddr, remotePort, then);
    const index = (c - h2) & COOKIE_MASK;
    const table = mssTableOf(localAddr);
    if (index >= table.length) return false;
    out.mss = table[index];
    out.windowScale = -1;
    out.sack = false;
    out.ecn = false;
    out.timestamps = false;
    if (tsEcr >= 0) return decodeTimestampOptions(tsEcr, tsNow, out);
    return true;
  }
}

/** The MSS table of `localAddr`'s family. */
function mssTableOf(localAddr: IpAddr): readonly number[] {
  return localAddr.family === 4 ? COOKIE_MSS_TABLE : COOKIE_MSS_TABLE_V6;
}

/** Index of the largest `table` MSS not above `peerMss` (0 when absent or smaller). */
function mssIndex(peerMss: number, table: readonly number[]): number {
  const mss = peerMss > 0 ? peerMss : table[0];
  let i = table.length - 1;
  while (i > 0 && table[i] > mss) i--;
  return i;
}

/**
 * Our TSval `tsNow` with the options in its low 6 bits (Linux `cookie_init_timestamp`): the
 * peer's shift (`windowScale`, -1 for none), SACK and ECN. Never later than `tsNow`, so the
 * clock does not jump ahead.
 *
 * @example
 * ```ts
 * encodeTimestampOptions(1000, 7, true, false) & 0x3f; // 7 | 16
 * ```
 */
export function encodeTimestampOptions(
  tsNow: number,
  windowScale: number,
  sack: boolean,
  ecn: boolean,
): number {
  let options = windowScale >= 0 ? Math.min(windowScale, MAX_SHIFT) : TS_NO_WSCALE;
  if (sack) options |= TS_SACK;
  if (ecn) options |= TS_ECN;
  let ts = ((tsNow & ~TS_OPTION_MASK) | options) >>> 0;
  if (seqGt(ts, tsNow)) ts = (ts - (TS_OPTION_MASK + 1)) >>> 0;
  return ts;
}

/**
 * The options of a cookie ACK's TSecr into `out` (timestamps on); false when it cannot be
 * ours: a TSecr later than our clock `tsNow`. (Four bits hold every shift 0–14, and 15 says
 * "none".)
 */
export function decodeTimestampOptions(tsEcr: number, tsNow: number, out: CookieOptions): boolean {
  if (seqGt(tsEcr, tsNow)) return false;
  const options = tsEcr & TS_OPTION_MASK;
  const ws = options & 0xf;
  out.windowScale = ws === TS_NO_WSCALE ? -1 : ws;
  out.sack = (options & TS_SACK) !== 0;
  out.ecn = (options & TS_ECN) !== 0;
  out.timestamps = true;
  return true;
}
