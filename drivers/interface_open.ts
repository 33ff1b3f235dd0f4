/**
 * The set-up every driver that opens a kernel interface shares: validate the MTU asked for,
 * run the set-up inside the interface's network namespace, look the interface up (index, MAC,
 * MTU), collect what it acquires on one {@link ResourceStack} that is unwound if a step fails,
 * and name the missing capabilities when the kernel says EPERM/EACCES.
 *
 * Set-up only: everything here allocates.
 *
 * @module
 */

import { AF_INET, SOCK_CLOEXEC, SOCK_DGRAM } from "../ffi/constants.ts";
import { EACCES, EINVAL, EPERM, SyscallError } from "../ffi/errno.ts";
import { withNetns } from "../ffi/netns.ts";
import { close, interfaceIndex, interfaceMac, interfaceMtu, socket } from "../ffi/syscalls.ts";
import { ResourceStack } from "./resource_stack.ts";

/** The smallest MTU a driver accepts: IPv4's minimum (RFC 791: every host takes 68 bytes). */
export const MIN_MTU = 68;

/** What {@link openOnInterface} needs to know about the driver being opened. */
export interface InterfaceOpenOptions {
  /** The driver's class name, for messages (e.g. `"AfPacketDriver"`). */
  driver: string;
  /** Named network namespace (`ip netns`) to open in; default: the current one. */
  netns?: string;
  /** The MTU asked for (checked to be an integer ≥ {@link MIN_MTU}); default: the link's. */
  mtu?: number;
  /** What the driver needs, added to an EPERM/EACCES from the set-up (e.g. "needs CAP_NET_RAW"). */
  capabilities: string;
}

/**
 * Open a driver: check `o.mtu`, then run `setUp` synchronously inside `o.netns` (when given)
 * with a fresh {@link ResourceStack}. `setUp` pushes every resource it acquires onto the stack
 * and hands the stack to the driver it builds, which closes it in `close()`. If `setUp` throws,
 * the stack is unwound (last-first) and the error rethrown — an EPERM/EACCES
 * {@link SyscallError} with `o.capabilities` added to its message.
 *
 * @example
 * ```ts
 * const driver = openOnInterface(
 *   { driver: "AfPacketDriver", netns: "ustk-1-s", capabilities: "AF_PACKET needs CAP_NET_RAW" },
 *   (res) => {
 *     const link = queryLink("AfPacketDriver", "us0", undefined);
 *     const fd = res.fd(socket(AF_PACKET, SOCK_RAW, 0));
 *     return new MyDriver(fd, link, res);
 *   },
 * );
 * ```
 */
export function openOnInterface<T>(
  o: InterfaceOpenOptions,
  setUp: (res: ResourceStack) => T,
): T {
  if (o.mtu !== undefined && !(Number.isInteger(o.mtu) && o.mtu >= MIN_MTU)) {
    throw new RangeError(`${o.driver}: mtu must be an integer >= ${MIN_MTU}, got ${o.mtu}`);
  }
  const run = (): T => {
    const res = new ResourceStack();
    try {
      return setUp(res);
    } catch (e) {
      res.unwind();
      throw withCapabilityHint(e, o.capabilities);
    }
  };
  return o.netns === undefined ? run() : withNetns(o.netns, run);
}

/**
 * `e` with `capabilities` added to its message when it is an EPERM/EACCES
 * {@link SyscallError}; any other `e` unchanged.
 *
 * @example
 * ```ts
 * throw withCapabilityHint(e, "TAP devices need CAP_NET_ADMIN");
 * ```
 */
export function withCapabilityHint(e: unknown, capabilities: string): unknown {
  if (!(e instanceof SyscallError && (e.errno === EPERM || e.errno === EACCES))) return e;
  const detail = e.detail === undefined ? capabilities : `${e.detail}; ${capabilities}`;
  return new SyscallError(e.syscall, e.errno, detail);
}

/** An interface as a driver opening it sees it. */
export interface LinkInfo {
  /** Interface name. */
  ifname: string;
  /** Interface index. */
  ifindex: number;
  /** The interface's MAC address. */
  mac: Uint8Array;
  /** The interface's own MTU. */
  linkMtu: number;
  /** The MTU the driver uses: the one asked for, or the link's. */
  mtu: number;
}

/**
 * Look up `ifname` in the calling thread's namespace: index, MAC and MTU. Throws SyscallError
 * ENODEV when there is no such interface, and EINVAL (from `${driver}.open`) when `mtu` is
 * above the link's MTU.
 *
 * @example
 * ```ts
 * const link = queryLink("AfXdpDriver", "us0", 1400); // link.mtu === 1400
 * ```
 */
export function queryLink(driver: string, ifname: string, mtu: number | undefined): LinkInfo {
  const ifindex = interfaceIndex(ifname);
  return withControlSocket((ctl) => {
    const mac = interfaceMac(ctl, ifname);
    const linkMtu = interfaceMtu(ctl, ifname);
    if (mtu !== undefined && mtu > linkMtu) {
      throw new SyscallError(
        `${driver}.open`,
        EINVAL,
        `mtu ${mtu} is above the MTU ${linkMtu} of "${ifname}"`,
      );
    }
    return { ifname, ifindex, mac, linkMtu, mtu: mtu ?? linkMtu };
  });
}

/**
 * Run `fn` with a throw-away UDP socket for interface ioctls (`SIOCGIF*`, `SIOCSIF*`, ethtool),
 * closed afterwards whatever happens.
 *
 * @example
 * ```ts
 * const mtu = withControlSocket((ctl) => interfaceMtu(ctl, "us0"));
 * ```
 */
export function withControlSocket<T>(fn: (ctl: number) => T): T {
  const ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  try {
    return fn(ctl);
  } finally {
    close(ctl);
  }
}
