/**
 * Layouts of the C structs the bindings pass to the kernel (Linux x86-64, LP64, little-endian),
 * as named byte offsets plus small helpers to build them.
 *
 * Memory whose address goes into another struct (an iovec base, a msghdr's name/control
 * pointer) must come from {@link allocStruct}: it lives in its own `ArrayBuffer`, which V8 never
 * moves. (A small `new Uint8Array(n)` may be stored inside the JS heap and move at GC.)
 *
 * @module
 */

import { AF_PACKET, ETH_P_ALL, IFNAMSIZ } from "./constants.ts";

// --- struct sockaddr_ll (linux/if_packet.h), 20 bytes ------------------------------------------

/** `sizeof(struct sockaddr_ll)`. */
export const SOCKADDR_LL_SIZE = 20;
/** `sll_family` (u16, host order). */
export const SLL_FAMILY = 0;
/** `sll_protocol` (u16, network order). */
export const SLL_PROTOCOL = 2;
/** `sll_ifindex` (i32). */
export const SLL_IFINDEX = 4;
/** `sll_hatype` (u16). */
export const SLL_HATYPE = 8;
/** `sll_pkttype` (u8, `PACKET_*`). */
export const SLL_PKTTYPE = 10;
/** `sll_halen` (u8). */
export const SLL_HALEN = 11;
/** `sll_addr` (8 bytes). */
export const SLL_ADDR = 12;

// --- struct ifreq (net/if.h), 40 bytes ----------------------------------------------------------

/** `sizeof(struct ifreq)`. */
export const IFREQ_SIZE = 40;
/** `ifr_name` (16 bytes, NUL-terminated). */
export const IFR_NAME = 0;
/** The union: `ifr_mtu`, `ifr_ifindex` (i32), `ifr_flags` (i16), `ifr_hwaddr` (sockaddr). */
export const IFR_UNION = 16;
/** `ifr_hwaddr.sa_data`: the MAC address of SIOCGIFHWADDR. */
export const IFR_HWADDR_DATA = 18;

// --- struct pollfd, 8 bytes ---------------------------------------------------------------------

/** `sizeof(struct pollfd)`. */
export const POLLFD_SIZE = 8;
/** `fd` (i32). */
export const POLLFD_FD = 0;
/** `events` (i16). */
export const POLLFD_EVENTS = 4;
/** `revents` (i16). */
export const POLLFD_REVENTS = 6;

// --- struct iovec, 16 bytes ---------------------------------------------------------------------

/** `sizeof(struct iovec)`. */
export const IOVEC_SIZE = 16;
/** `iov_base` (pointer). */
export const IOV_BASE = 0;
/** `iov_len` (size_t). */
export const IOV_LEN = 8;

// --- struct msghdr, 56 bytes --------------------------------------------------------------------

/** `sizeof(struct msghdr)`. */
export const MSGHDR_SIZE = 56;
/** `msg_name` (pointer). */
export const MSG_NAME = 0;
/** `msg_namelen` (u32; in-out). */
export const MSG_NAMELEN = 8;
/** `msg_iov` (pointer to iovec[]). */
export const MSG_IOV = 16;
/** `msg_iovlen` (size_t). */
export const MSG_IOVLEN = 24;
/** `msg_control` (pointer). */
export const MSG_CONTROL = 32;
/** `msg_controllen` (size_t; in-out). */
export const MSG_CONTROLLEN = 40;
/** `msg_flags` (i32; out). */
export const MSG_FLAGS = 48;

// --- struct mmsghdr, 64 bytes -------------------------------------------------------------------

/** `sizeof(struct mmsghdr)`: a msghdr, then `msg_len`, padded to 8. */
export const MMSGHDR_SIZE = 64;
/** `msg_len` (u32): bytes received/sent for this message. */
export const MMSG_LEN = 56;

// --- struct cmsghdr, 16 bytes + data ------------------------------------------------------------

/** `sizeof(struct cmsghdr)`: where the data starts (`CMSG_DATA`). */
export const CMSGHDR_SIZE = 16;
/** `cmsg_len` (size_t): header + data, unaligned. */
export const CMSG_LEN_OFF = 0;
/** `cmsg_level` (i32). */
export const CMSG_LEVEL = 8;
/** `cmsg_type` (i32). */
export const CMSG_TYPE = 12;

// --- struct tpacket_auxdata (linux/if_packet.h), 20 bytes ---------------------------------------

/** `sizeof(struct tpacket_auxdata)`. */
export const TPACKET_AUXDATA_SIZE = 20;
/** `tp_status` (u32, `TP_STATUS_*`). */
export const TP_AUX_STATUS = 0;
/** `tp_len` (u32): original frame length. */
export const TP_AUX_LEN = 4;
/** `tp_snaplen` (u32). */
export const TP_AUX_SNAPLEN = 8;
/** `tp_mac` (u16). */
export const TP_AUX_MAC = 12;
/** `tp_net` (u16). */
export const TP_AUX_NET = 14;
/** `tp_vlan_tci` (u16). */
export const TP_AUX_VLAN_TCI = 16;
/** `tp_vlan_tpid` (u16). */
export const TP_AUX_VLAN_TPID = 18;

// --- helpers ------------------------------------------------------------------------------------

/**
 * Round up to the cmsg alignment (`CMSG_ALIGN`: 8 bytes on x86-64).
 *
 * @example
 * ```ts
 * cmsgAlign(20); // 24
 * ```
 */
export function cmsgAlign(len: number): number {
  return (len + 7) & ~7;
}

/**
 * Bytes a control message with `dataLen` bytes of data occupies (`CMSG_SPACE`).
 *
 * @example
 * ```ts
 * cmsgSpace(TPACKET_AUXDATA_SIZE); // 40
 * ```
 */
export function cmsgSpace(dataLen: number): number {
  return CMSGHDR_SIZE + cmsgAlign(dataLen);
}

/**
 * Swap the bytes of a 16-bit value (host ↔ network order on little-endian x86-64).
 *
 * @example
 * ```ts
 * htons(0x0003); // 0x0300
 * ```
 */
export function htons(value: number): number {
  return ((value & 0xff) << 8) | ((value >>> 8) & 0xff);
}

/**
 * Zeroed memory in its own `ArrayBuffer` (never moved by the GC), safe to point the kernel at.
 * Set-up only: it allocates.
 *
 * @example
 * ```ts
 * const msgs = allocStruct(16 * MMSGHDR_SIZE);
 * ```
 */
export function allocStruct(bytes: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(bytes));
}

/**
 * The address of the first byte of `buf` as a BigInt, for storing in a struct. Keep `buf`
 * referenced for as long as the kernel may use the address. Set-up only.
 *
 * @example
 * ```ts
 * const buf = allocStruct(2048);
 * new DataView(iov.buffer).setBigUint64(IOV_BASE, addressOf(buf), true);
 * ```
 */
export function addressOf(buf: Uint8Array): bigint {
  return Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf));
}

/**
 * A NUL-terminated copy of `text` (UTF-8), for path and name parameters. Set-up only.
 *
 * @example
 * ```ts
 * cString("/proc/thread-self/ns/net");
 * ```
 */
export function cString(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/**
 * A zeroed `struct ifreq` with `ifr_name` set. Throws RangeError for an empty name or one that
 * does not fit `IFNAMSIZ - 1` bytes.
 *
 * @example
 * ```ts
 * const req = ifreq("eth0");
 * ```
 */
export function ifreq(ifname: string): Uint8Array {
  const name = new TextEncoder().encode(ifname);
  if (name.length === 0 || name.length >= IFNAMSIZ) {
    throw new RangeError(`interface name "${ifname}" must be 1..${IFNAMSIZ - 1} bytes`);
  }
  const req = allocStruct(IFREQ_SIZE);
  req.set(name, IFR_NAME);
  return req;
}

/**
 * A `struct sockaddr_ll` binding to interface `ifindex` for EtherType `protocol` (host order;
 * default `ETH_P_ALL`).
 *
 * @example
 * ```ts
 * const addr = sockaddrLl(interfaceIndex("veth0"));
 * ```
 */
export function sockaddrLl(ifindex: number, protocol: number = ETH_P_ALL): Uint8Array {
  const addr = allocStruct(SOCKADDR_LL_SIZE);
  const view = new DataView(addr.buffer);
  view.setUint16(SLL_FAMILY, AF_PACKET, true);
  view.setUint16(SLL_PROTOCOL, protocol, false); // network byte order
  view.setInt32(SLL_IFINDEX, ifindex, true);
  return addr;
}

/**
 * An array of `count` zeroed `struct pollfd` for `poll`/`pollAsync` (in its own ArrayBuffer, so
 * it stays put while a non-blocking poll runs on another thread).
 *
 * @example
 * ```ts
 * const fds = pollfds(2);
 * setPollfd(fds, 0, driver.fd, POLLIN);
 * ```
 */
export function pollfds(count: number): Uint8Array {
  return allocStruct(count * POLLFD_SIZE);
}

/**
 * Fill entry `index` of a pollfd array: watch `fd` for `events`, clear `revents`
 * (allocation-free).
 *
 * @example
 * ```ts
 * setPollfd(fds, 1, muxFd, POLLIN);
 * ```
 */
export function setPollfd(fds: Uint8Array, index: number, fd: number, events: number): void {
  const base = index * POLLFD_SIZE;
  // Little-endian by hand: no DataView, so re-arming an entry allocates nothing.
  fds[base + POLLFD_FD] = fd & 0xff;
  fds[base + POLLFD_FD + 1] = (fd >>> 8) & 0xff;
  fds[base + POLLFD_FD + 2] = (fd >>> 16) & 0xff;
  fds[base + POLLFD_FD + 3] = (fd >>> 24) & 0xff;
  fds[base + POLLFD_EVENTS] = events & 0xff;
  fds[base + POLLFD_EVENTS + 1] = (events >>> 8) & 0xff;
  fds[base + POLLFD_REVENTS] = 0;
  fds[base + POLLFD_REVENTS + 1] = 0;
}

/**
 * The `revents` of entry `index` after a poll (allocation-free).
 *
 * @example
 * ```ts
 * if (pollfdRevents(fds, 0) & POLLIN) driver.receive(batch, 64);
 * ```
 */
export function pollfdRevents(fds: Uint8Array, index: number): number {
  const at = index * POLLFD_SIZE + POLLFD_REVENTS;
  return fds[at] | (fds[at + 1] << 8);
}
