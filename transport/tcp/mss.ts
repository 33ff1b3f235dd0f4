/**
 * Maximum segment size arithmetic (RFC 9293 §3.7.1, RFC 6691, RFC 8200 §8.3): what we
 * advertise for a link MTU, what we send given the peer's option, and what a "too big" error
 * leaves. The network layer says what its family costs ({@link MssFamily}: IPv4 20 header
 * bytes and 576-byte minimum datagrams, IPv6 40 and 1280), so the MSS is MTU − 40 over IPv4 and
 * MTU − 60 over IPv6 from the same code.
 *
 * @example
 * ```ts
 * import { advertisedMss, sendMss } from "./mss.ts";
 * const v4 = { headerBytes: 20, maxPayloadBytes: 65515, minMtu: 576 };
 * const adv = advertisedMss(1500, v4); // 1460
 * sendMss(1460, adv, true); // 1448: the timestamps option takes 12 bytes of every segment
 * ```
 *
 * @module
 */

import { TCP_HEADER_MIN_BYTES } from "./header.ts";
import { TCP_OPT_TIMESTAMPS_ALIGNED_BYTES } from "./options.ts";

/** What the MSS needs to know of the network layer (a `NetworkLayer` is one). */
export interface MssFamily {
  /** Bytes of the network header in front of a segment (20 or 40). */
  readonly headerBytes: number;
  /** Largest datagram payload (65515 for IPv4, 65535 for IPv6). */
  readonly maxPayloadBytes: number;
  /** The MTU every path carries (576 for IPv4, 1280 for IPv6). */
  readonly minMtu: number;
}

/** RFC 9293 §3.7.1: the send MSS assumed when an IPv4 peer sends no MSS option. */
export const DEFAULT_PEER_MSS = 536;
/** Smallest send MSS a peer's option can impose (Linux clamps at 64 too). */
const MIN_SEND_MSS = 64;
/**
 * Smallest MSS a "too big" error can bring us down to (RFC 1191 allows 68-byte MTUs; Linux's
 * `tcp_min_snd_mss` is 48; here 128 − 40).
 */
const MIN_PMTU_MSS = 88;

/**
 * The MSS to advertise for a link of `linkMtu` bytes (0 = unknown: the family's minimum):
 * the MTU minus the network and TCP headers, and never more than one datagram holds
 * (loopback's MTU is 65536).
 */
export function advertisedMss(linkMtu: number, net: MssFamily): number {
  const mtu = linkMtu > 0 ? linkMtu : net.minMtu;
  return Math.min(mtu - net.headerBytes, net.maxPayloadBytes) - TCP_HEADER_MIN_BYTES;
}

/**
 * The send MSS assumed when the peer sends no MSS option: the family's minimum MTU less the
 * headers (536 over IPv4, RFC 9293 §3.7.1; 1220 over IPv6, RFC 8200 §8.3).
 */
export function defaultPeerMss(net: MssFamily): number {
  return net.minMtu - net.headerBytes - TCP_HEADER_MIN_BYTES;
}

/**
 * The send MSS (payload bytes per segment): the peer's option (`peerMss`, 0 when absent:
 * `defaultMss`) never above what we advertise ourselves, less the timestamps option when it
 * is on.
 */
export function sendMss(
  peerMss: number,
  advMss: number,
  timestamps: boolean,
  defaultMss: number = DEFAULT_PEER_MSS,
): number {
  const peer = peerMss > 0 ? peerMss : defaultMss;
  let mss = peer < advMss ? peer : advMss;
  if (timestamps) mss -= TCP_OPT_TIMESTAMPS_ALIGNED_BYTES;
  return mss > MIN_SEND_MSS ? mss : MIN_SEND_MSS;
}

/**
 * The send MSS for a path MTU a "too big" error reported (RFC 1191, RFC 8201): the MTU less
 * the network header (`netHeaderBytes`), the TCP header and the timestamps option when on.
 */
export function pathMtuMss(pathMtu: number, timestamps: boolean, netHeaderBytes: number): number {
  const mss = pathMtu - netHeaderBytes - TCP_HEADER_MIN_BYTES -
    (timestamps ? TCP_OPT_TIMESTAMPS_ALIGNED_BYTES : 0);
  return mss > MIN_PMTU_MSS ? mss : MIN_PMTU_MSS;
}
