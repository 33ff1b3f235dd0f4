/**
 * The raw AF_PACKET socket both AF_PACKET drivers start from (`drivers/af_packet.ts`, the
 * `recvmmsg`/`sendmmsg` pump, and `drivers/af_packet_ring.ts`, the mmap rings): created
 * unbound, told to skip our own transmissions where the kernel can, bound to one interface.
 *
 * @module
 */

import {
  AF_PACKET,
  ETH_P_ALL,
  PACKET_IGNORE_OUTGOING,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_PACKET,
} from "../ffi/constants.ts";
import { sockaddrLl } from "../ffi/structs.ts";
import { bind, setsockoptInt, socket } from "../ffi/syscalls.ts";
import type { ResourceStack } from "./resource_stack.ts";

/** What an AF_PACKET driver needs, named in the message of an EPERM/EACCES at open. */
export const AF_PACKET_CAPABILITIES =
  "AF_PACKET sockets need CAP_NET_RAW (run as root or grant the capability)";

/**
 * A non-blocking, close-on-exec raw packet socket, held by `res`. Protocol 0: it receives
 * nothing until {@link bindPacketSocket} hooks it to one interface, so no frame from another
 * interface can sneak in before the bind.
 *
 * @example
 * ```ts
 * const fd = openPacketSocket(res);
 * ```
 */
export function openPacketSocket(res: ResourceStack): number {
  return res.fd(socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

/**
 * Ask the kernel not to deliver our own transmissions back to `fd` (PACKET_IGNORE_OUTGOING,
 * Linux ≥ 4.20). False when it cannot: the driver then skips PACKET_OUTGOING frames itself.
 *
 * @example
 * ```ts
 * const ignoresOutgoing = ignoreOutgoing(fd);
 * ```
 */
export function ignoreOutgoing(fd: number): boolean {
  try {
    setsockoptInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
    return true;
  } catch {
    return false;
  }
}

/**
 * Bind `fd` to interface `ifindex` for every EtherType (ETH_P_ALL): frames start to arrive.
 *
 * @example
 * ```ts
 * bindPacketSocket(fd, link.ifindex);
 * ```
 */
export function bindPacketSocket(fd: number, ifindex: number): void {
  bind(fd, sockaddrLl(ifindex, ETH_P_ALL));
}
