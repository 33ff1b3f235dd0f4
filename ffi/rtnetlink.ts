/**
 * The kernel's interface-address notifications over `NETLINK_ROUTE` (rtnetlink(7)): a
 * non-blocking socket subscribed to the IPv4 and IPv6 interface-address groups, and the
 * parser of what it reads — `RTM_NEWADDR` / `RTM_DELADDR` messages (a `struct nlmsghdr`, a
 * `struct ifaddrmsg`, then `struct rtattr` attributes), every length checked against the bytes
 * read: a message that does not fit is counted and dropped, never thrown.
 *
 * Layouts (include/uapi/linux/netlink.h, rtnetlink.h, if_addr.h): `nlmsghdr` is
 * len u32 @0, type u16 @4, flags u16 @6, seq u32 @8, pid u32 @12 (16 bytes); `ifaddrmsg` is
 * family u8 @0, prefixlen u8 @1, flags u8 @2, scope u8 @3, index u32 @4 (8 bytes); an
 * `rtattr` is len u16 @0, type u16 @2, then its payload; messages and attributes start on
 * 4-byte boundaries. All in host byte order (little-endian here); the addresses in network
 * order.
 *
 * @module
 */

import { AF_INET, AF_INET6, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_RAW } from "./constants.ts";
import { allocStruct } from "./structs.ts";
import { bind, close, type Ipv6Words, socket } from "./syscalls.ts";

/** `AF_NETLINK`. */
export const AF_NETLINK = 16;
/** `NETLINK_ROUTE`: routing and link/address messages. */
export const NETLINK_ROUTE = 0;
/** `RTMGRP_IPV4_IFADDR`: the IPv4 address notifications' group bit. */
export const RTMGRP_IPV4_IFADDR = 0x10;
/** `RTMGRP_IPV6_IFADDR`: the IPv6 address notifications' group bit. */
export const RTMGRP_IPV6_IFADDR = 0x100;
/** `NLMSG_NOOP`. */
export const NLMSG_NOOP = 1;
/** `NLMSG_ERROR`. */
export const NLMSG_ERROR = 2;
/** `NLMSG_DONE`. */
export const NLMSG_DONE = 3;
/** `NLMSG_OVERRUN`: data was lost. */
export const NLMSG_OVERRUN = 4;
/** `RTM_NEWADDR`: an address was added (or its flags changed). */
export const RTM_NEWADDR = 20;
/** `RTM_DELADDR`: an address was removed. */
export const RTM_DELADDR = 21;
/** `IFA_ADDRESS`: the interface address (the peer's on a point-to-point link with a local). */
export const IFA_ADDRESS = 1;
/** `IFA_LOCAL`: the local address, when it differs from `IFA_ADDRESS`. */
export const IFA_LOCAL = 2;
/** Size of `struct nlmsghdr`. */
export const NLMSG_HDRLEN = 16;
/** Size of `struct ifaddrmsg`. */
export const IFADDRMSG_SIZE = 8;
/** Size of `struct rtattr`'s header. */
export const RTA_HDRLEN = 4;
/** Size of `struct sockaddr_nl`: family u16 @0, pad u16, pid u32 @4, groups u32 @8. */
export const SOCKADDR_NL_SIZE = 12;

/** Round up to the 4-byte boundary messages and attributes start on (`NLMSG_ALIGN`). */
function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * A `struct sockaddr_nl` for `bind`: the kernel picks the port id, `groups` are the multicast
 * groups to join (bits `RTMGRP_*`).
 *
 * @example
 * ```ts
 * const sa = sockaddrNl(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR);
 * sa.byteLength; // 12
 * ```
 */
export function sockaddrNl(groups: number): Uint8Array {
  const sa = allocStruct(SOCKADDR_NL_SIZE);
  const v = new DataView(sa.buffer, sa.byteOffset, sa.byteLength);
  v.setUint16(0, AF_NETLINK, true);
  v.setUint32(8, groups >>> 0, true);
  return sa;
}

/**
 * A non-blocking, close-on-exec `NETLINK_ROUTE` socket of the calling thread's network
 * namespace, subscribed to the kernel's IPv4 and IPv6 interface-address notifications (from
 * now on; nothing earlier is replayed). Throws SyscallError.
 *
 * @example
 * ```ts ignore
 * const fd = openAddressNotifications();
 * const n = recvfrom(fd, buf, buf.length, MSG_DONTWAIT | MSG_TRUNC, null, null); // -EAGAIN: none
 * ```
 */
export function openAddressNotifications(): number {
  const fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  try {
    bind(fd, sockaddrNl(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR));
  } catch (e) {
    close(fd);
    throw e;
  }
  return fd;
}

/** One address the kernel gained or gave up, as an `RTM_NEWADDR`/`RTM_DELADDR` said. */
export interface KernelAddressChange {
  /** True for `RTM_DELADDR` (the kernel gave it up), false for `RTM_NEWADDR`. */
  readonly deleted: boolean;
  /** 4 or 6. */
  readonly family: 4 | 6;
  /** The interface's index (`ifa_index`). */
  readonly ifindex: number;
  /** The prefix length (`ifa_prefixlen`). */
  readonly prefixLen: number;
  /** The IPv4 address as a number (`0xc6120002` for 198.18.0.2); 0 for IPv6. */
  readonly v4: number;
  /** The IPv6 address as four words; null for IPv4. */
  readonly v6: Ipv6Words | null;
}

/** What {@link parseAddressMessages} made of one datagram. */
export interface AddressMessagesParsed {
  /** Address messages taken (pushed to the output list). */
  changes: number;
  /** Well-formed messages of no interest (other types, other families, `NLMSG_DONE`…). */
  ignored: number;
  /** Messages dropped because a length did not fit (truncated, garbage). */
  malformed: number;
  /** An `NLMSG_OVERRUN` was among them: the kernel lost notifications. */
  overrun: boolean;
}

/**
 * Parse the netlink messages in `buf[0..len)` (one datagram), pushing each address change of
 * `RTM_NEWADDR`/`RTM_DELADDR` for IPv4 or IPv6 to `out`. The address is `IFA_LOCAL` when the
 * message carries one (a point-to-point address, whose `IFA_ADDRESS` is the peer), else
 * `IFA_ADDRESS`. A header whose length runs past the bytes ends the datagram (what follows
 * cannot be found) and counts one malformed; a message whose attribute runs past its end,
 * whose address has the wrong length for its family, or which has no address, counts one
 * malformed and is skipped. Never throws; allocates only for the changes it returns.
 *
 * @example
 * ```ts
 * const out: KernelAddressChange[] = [];
 * const r = parseAddressMessages(new Uint8Array(8), 8, out);
 * r.malformed; // 1: shorter than a netlink header
 * ```
 */
export function parseAddressMessages(
  buf: Uint8Array,
  len: number,
  out: KernelAddressChange[],
): AddressMessagesParsed {
  const r: AddressMessagesParsed = { changes: 0, ignored: 0, malformed: 0, overrun: false };
  const end = Math.min(len, buf.byteLength);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  while (at < end) {
    if (end - at < NLMSG_HDRLEN) {
      r.malformed++;
      break;
    }
    const msgLen = v.getUint32(at, true);
    if (msgLen < NLMSG_HDRLEN || msgLen > end - at) {
      r.malformed++;
      break;
    }
    const type = v.getUint16(at + 4, true);
    if (type === RTM_NEWADDR || type === RTM_DELADDR) {
      const c = parseAddress(v, at, msgLen, type === RTM_DELADDR);
      if (c === null) r.malformed++;
      else if (c === IGNORED) r.ignored++;
      else {
        out.push(c);
        r.changes++;
      }
    } else if (type === NLMSG_OVERRUN) r.overrun = true;
    else r.ignored++;
    at += align4(msgLen);
  }
  return r;
}

/** {@link parseAddress}: a well-formed message of another family. */
const IGNORED = 0;

/** One address message at `at` (`msgLen` bytes, known to fit); null when malformed. */
function parseAddress(
  v: DataView,
  at: number,
  msgLen: number,
  deleted: boolean,
): KernelAddressChange | null | typeof IGNORED {
  if (msgLen < NLMSG_HDRLEN + IFADDRMSG_SIZE) return null;
  const ifa = at + NLMSG_HDRLEN;
  const af = v.getUint8(ifa);
  if (af !== AF_INET && af !== AF_INET6) return IGNORED;
  const addrLen = af === AF_INET ? 4 : 16;
  const end = at + msgLen;
  let local = -1;
  let address = -1;
  let a = ifa + IFADDRMSG_SIZE;
  while (a < end) {
    if (end - a < RTA_HDRLEN) return null;
    const rtaLen = v.getUint16(a, true);
    if (rtaLen < RTA_HDRLEN || rtaLen > end - a) return null;
    const rtaType = v.getUint16(a + 2, true) & 0x3fff; // without NLA_F_NESTED/NET_BYTEORDER
    if (rtaType === IFA_LOCAL || rtaType === IFA_ADDRESS) {
      if (rtaLen - RTA_HDRLEN !== addrLen) return null;
      if (rtaType === IFA_LOCAL) local = a + RTA_HDRLEN;
      else address = a + RTA_HDRLEN;
    }
    a += align4(rtaLen);
  }
  const p = local >= 0 ? local : address;
  if (p < 0) return null;
  return {
    deleted,
    family: af === AF_INET ? 4 : 6,
    ifindex: v.getUint32(ifa + 4, true),
    prefixLen: v.getUint8(ifa + 1),
    v4: af === AF_INET ? v.getUint32(p) : 0,
    v6: af === AF_INET
      ? null
      : [v.getUint32(p), v.getUint32(p + 4), v.getUint32(p + 8), v.getUint32(p + 12)],
  };
}
