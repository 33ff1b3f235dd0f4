/**
 * Maximum segment size arithmetic (RFC 9293 §3.7.1, RFC 6691): what we advertise for a link
 * MTU, what we send given the peer's option, and what an ICMP "fragmentation needed" leaves.
 * The address-family overhead lives here and nowhere else (IPv6 adds its own figure).
 *
 * @example
 * ```ts
 * import { advertisedMss, sendMss } from "./mss.ts";
 * const adv = advertisedMss(1500); // 1460
 * sendMss(1460, adv, true); // 1448: the timestamps option takes 12 bytes of every segment
 * ```
 *
 * @module
 */

import { IPV4_HEADER_MIN_BYTES, IPV4_MAX_TOTAL_LENGTH } from "../../net/ipv4_header.ts";
import { TCP_HEADER_MIN_BYTES } from "./header.ts";
import { TCP_OPT_TIMESTAMPS_ALIGNED_BYTES } from "./options.ts";

/** RFC 9293 §3.7.1: the send MSS assumed when the peer sends no MSS option (IPv4). */
export const DEFAULT_PEER_MSS = 536;
/** IPv4 + TCP fixed headers: the MSS is the MTU minus this. */
export const TCP_IPV4_OVERHEAD_BYTES = IPV4_HEADER_MIN_BYTES + TCP_HEADER_MIN_BYTES;
/** RFC 791: every IPv4 host takes datagrams of 576 bytes; assumed when a link reports no MTU. */
const IPV4_MIN_DATAGRAM_BYTES = 576;
/** Smallest send MSS a peer's option can impose (Linux clamps at 64 too). */
const MIN_SEND_MSS = 64;
/**
 * Smallest MSS an ICMP "fragmentation needed" can bring us down to (RFC 1191 allows 68-byte
 * MTUs; Linux's `tcp_min_snd_mss` is 48; here 128 − 40).
 */
const MIN_PMTU_MSS = 88;

/**
 * The MSS to advertise for a link of `linkMtu` bytes (0 = unknown): the MTU minus the IPv4
 * and TCP headers, and never more than a 65535-byte IPv4 datagram holds (loopback's MTU is
 * 65536).
 */
export function advertisedMss(linkMtu: number): number {
  const mtu = linkMtu > 0 ? linkMtu : IPV4_MIN_DATAGRAM_BYTES;
  return Math.min(mtu, IPV4_MAX_TOTAL_LENGTH) - TCP_IPV4_OVERHEAD_BYTES;
}

/**
 * The send MSS (payload bytes per segment): the peer's option (`peerMss`, 0 when absent:
 * {@link DEFAULT_PEER_MSS}) never above what we advertise ourselves, less the timestamps
 * option when it is on.
 */
export function sendMss(peerMss: number, advMss: number, timestamps: boolean): number {
  const peer = peerMss > 0 ? peerMss : DEFAULT_PEER_MSS;
  let mss = peer < advMss ? peer : advMss;
  if (timestamps) mss -= TCP_OPT_TIMESTAMPS_ALIGNED_BYTES;
  return mss > MIN_SEND_MSS ? mss : MIN_SEND_MSS;
}

/** The send MSS for a path MTU reported by ICMP "fragmentation needed" (RFC 1191). */
export function pathMtuMss(pathMtu: number, timestamps: boolean): number {
  const mss = pathMtu - TCP_IPV4_OVERHEAD_BYTES -
    (timestamps ? TCP_OPT_TIMESTAMPS_ALIGNED_BYTES : 0);
  return mss > MIN_PMTU_MSS ? mss : MIN_PMTU_MSS;
}
