/**
 * One rtnetlink question: an interface's GSO and GRO size limits (`RTM_GETLINK`), which say how
 * long the super-frames a device hands up or takes may be. Linux ≥ 6.3 has separate IPv4 limits
 * for BIG TCP (`IFLA_GSO_IPV4_MAX_SIZE`, `IFLA_GRO_IPV4_MAX_SIZE`); older kernels leave them out.
 *
 * @module
 */

import { SOCK_CLOEXEC, SOCK_RAW } from "./constants.ts";
import { AF_NETLINK, NETLINK_ROUTE } from "./rtnetlink.ts";
import { close, recvfrom, sendto, socket } from "./syscalls.ts";
/** `RTM_GETLINK` / `RTM_NEWLINK` (its answer). */
const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;
/** `NLM_F_REQUEST`. */
const NLM_F_REQUEST = 1;
/** `MSG_DONTWAIT`: the answer is queued before `sendto` returns. */
const MSG_DONTWAIT = 0x40;
/** `struct nlmsghdr` + `struct ifinfomsg`. */
const HEADER_BYTES = 16 + 16;
/** Attribute numbers (`IFLA_*`). */
const IFLA_GSO_MAX_SIZE = 41;
const IFLA_GRO_MAX_SIZE = 58;
const IFLA_GSO_IPV4_MAX_SIZE = 63;
const IFLA_GRO_IPV4_MAX_SIZE = 64;

/** An interface's super-frame size limits in bytes; 0 where the kernel did not say. */
export interface LinkSizeLimits {
  /** Longest GSO packet the stack hands the device (`gso_max_size`, IPv6 and others). */
  gsoMaxSize: number;
  /** Longest packet GRO builds on receive (`gro_max_size`). */
  groMaxSize: number;
  /** `gso_ipv4_max_size` (Linux ≥ 6.3). */
  gsoIpv4MaxSize: number;
  /** `gro_ipv4_max_size` (Linux ≥ 6.3). */
  groIpv4MaxSize: number;
}

/**
 * The GSO/GRO size limits of interface `ifindex` in the calling thread's network namespace,
 * or null when rtnetlink does not answer (no socket, no such interface, a malformed reply).
 *
 * @example
 * ```ts ignore
 * const l = linkSizeLimits(2); // { gsoMaxSize: 65536, groMaxSize: 65536, … }
 * ```
 */
export function linkSizeLimits(ifindex: number): LinkSizeLimits | null {
  let fd: number;
  try {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  } catch {
    return null;
  }
  try {
    const req = new Uint8Array(HEADER_BYTES);
    const rv = new DataView(req.buffer);
    rv.setUint32(0, HEADER_BYTES, true);
    rv.setUint16(4, RTM_GETLINK, true);
    rv.setUint16(6, NLM_F_REQUEST, true);
    rv.setUint32(8, 1, true); // sequence number
    rv.setInt32(16 + 4, ifindex, true);
    if (sendto(fd, req, req.length, 0, null) !== req.length) return null;
    const buf = new Uint8Array(32 * 1024);
    const n = recvfrom(fd, buf, buf.length, MSG_DONTWAIT, null, null);
    if (n < HEADER_BYTES) return null;
    return parseLinkSizeLimits(buf.subarray(0, n));
  } finally {
    close(fd);
  }
}

/**
 * The size limits in one `RTM_NEWLINK` message (`nlmsghdr`, `ifinfomsg`, attributes), or null
 * when it is not one.
 *
 * @example
 * ```ts
 * const m = new Uint8Array(40);
 * const v = new DataView(m.buffer);
 * v.setUint32(0, 40, true);
 * v.setUint16(4, 16, true); // RTM_NEWLINK
 * v.setUint16(32, 8, true); // attribute: 8 bytes, IFLA_GRO_IPV4_MAX_SIZE = 185000
 * v.setUint16(34, 64, true);
 * v.setUint32(36, 185_000, true);
 * parseLinkSizeLimits(m)?.groIpv4MaxSize; // 185000
 * ```
 */
export function parseLinkSizeLimits(msg: Uint8Array): LinkSizeLimits | null {
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  if (msg.length < HEADER_BYTES || v.getUint16(4, true) !== RTM_NEWLINK) return null;
  const end = Math.min(v.getUint32(0, true), msg.length);
  const out: LinkSizeLimits = {
    gsoMaxSize: 0,
    groMaxSize: 0,
    gsoIpv4MaxSize: 0,
    groIpv4MaxSize: 0,
  };
  let at = HEADER_BYTES;
  while (at + 4 <= end) {
    const len = v.getUint16(at, true);
    if (len < 4 || at + len > end) break;
    const type = v.getUint16(at + 2, true) & 0x3fff;
    if (len >= 8) {
      const value = v.getUint32(at + 4, true);
      if (type === IFLA_GSO_MAX_SIZE) out.gsoMaxSize = value;
      else if (type === IFLA_GRO_MAX_SIZE) out.groMaxSize = value;
      else if (type === IFLA_GSO_IPV4_MAX_SIZE) out.gsoIpv4MaxSize = value;
      else if (type === IFLA_GRO_IPV4_MAX_SIZE) out.groIpv4MaxSize = value;
    }
    at += (len + 3) & ~3;
  }
  return out;
}
