/**
 * Typed wrappers over the libc symbols, in two styles:
 *
 * - **Set-up calls** (`socket`, `bind`, `setsockopt`, `ioctl`, `mmap`, `open`, `close`,
 *   `setns`, …) throw a {@link SyscallError} naming the errno.
 * - **Hot-path calls** (`read`, `write`, `sendto`, `recvfrom`, `recvmsg`, `recvmmsg`,
 *   `sendmmsg`, `pollNow`) return the result, or `-errno` on failure. They never throw and never
 *   allocate: sizes go through a cache of BigInts (libc's `size_t` parameters are 64-bit).
 *
 * Plus the idle wait {@link pollAsync}, eventfd helpers and interface look-ups.
 *
 * @module
 */

import { errno, libc } from "./libc.ts";
import { EAGAIN, ENODEV, ENOENT, SyscallError } from "./errno.ts";
import {
  AF_INET,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLLIN,
  MAP_FAILED,
  O_CLOEXEC,
  O_RDONLY,
  SIOCGIFCONF,
  SIOCGIFHWADDR,
  SIOCGIFMTU,
} from "./constants.ts";
import {
  addressOf,
  allocStruct,
  cString,
  IFR_HWADDR_DATA,
  IFR_UNION,
  ifreq,
  IFREQ_SIZE,
} from "./structs.ts";

// --- size_t arguments without allocation --------------------------------------------------------

/**
 * Sizes below this come from a cache of BigInts; larger ones are converted per call. 64 KiB
 * plus room for headers: a whole 64 KB super-frame with its vnet header is read in one call.
 */
const SIZE_CACHE_LIMIT = (1 << 16) + 1024;
let sizeCache: (bigint | undefined)[] | null = null;

/**
 * `n` as the BigInt a `size_t` parameter needs. Sizes up to 65 KiB are cached, so repeat calls
 * allocate nothing (a BigInt is a heap object in V8).
 *
 * @example
 * ```ts
 * libc().read(fd, buf, sizeArg(buf.length));
 * ```
 */
export function sizeArg(n: number): bigint {
  if (n >= 0 && n < SIZE_CACHE_LIMIT) {
    const cache = sizeCache ??= new Array<bigint | undefined>(SIZE_CACHE_LIMIT);
    const hit = cache[n];
    if (hit !== undefined) return hit;
    return (cache[n] = BigInt(n));
  }
  return BigInt(n);
}

// --- set-up calls: throw SyscallError -----------------------------------------------------------

/**
 * `socket(2)`: a new socket fd.
 *
 * @example
 * ```ts
 * const fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, 0);
 * ```
 */
export function socket(domain: number, type: number, protocol: number): number {
  const fd = libc().socket(domain | 0, type | 0, protocol | 0);
  if (fd < 0) throw new SyscallError("socket", errno());
  return fd;
}

/**
 * `bind(2)` to the address in `addr` (its whole length is passed as the address length).
 *
 * @example
 * ```ts
 * bind(fd, sockaddrLl(ifindex));
 * ```
 */
export function bind(fd: number, addr: Uint8Array): void {
  if (libc().bind(fd | 0, addr, addr.byteLength) < 0) throw new SyscallError("bind", errno());
}

/**
 * `setsockopt(2)` with the bytes of `value` as the option.
 *
 * @example
 * ```ts
 * setsockopt(fd, SOL_PACKET, PACKET_RX_RING, tpacketReq);
 * ```
 */
export function setsockopt(fd: number, level: number, name: number, value: Uint8Array): void {
  const r = libc().setsockopt(fd | 0, level | 0, name | 0, value, value.byteLength);
  if (r < 0) throw new SyscallError("setsockopt", errno(), `level ${level} option ${name}`);
}

/**
 * `setsockopt(2)` with a C `int` option value.
 *
 * @example
 * ```ts
 * setsockoptInt(fd, SOL_PACKET, PACKET_AUXDATA, 1);
 * ```
 */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  const buf = allocStruct(4);
  new DataView(buf.buffer).setInt32(0, value, true);
  setsockopt(fd, level, name, buf);
}

/**
 * `getsockopt(2)` into `value`; returns the length the kernel wrote.
 *
 * @example
 * ```ts
 * const offsets = allocStruct(128);
 * getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, offsets);
 * ```
 */
export function getsockopt(fd: number, level: number, name: number, value: Uint8Array): number {
  const lenCell = allocStruct(4);
  const lenView = new DataView(lenCell.buffer);
  lenView.setUint32(0, value.byteLength, true);
  const r = libc().getsockopt(fd | 0, level | 0, name | 0, value, lenCell);
  if (r < 0) throw new SyscallError("getsockopt", errno(), `level ${level} option ${name}`);
  return lenView.getUint32(0, true);
}

/**
 * `getsockopt(2)` of a C `int` option.
 *
 * @example
 * ```ts
 * const rcvbuf = getsockoptInt(fd, SOL_SOCKET, SO_RCVBUF);
 * ```
 */
export function getsockoptInt(fd: number, level: number, name: number): number {
  const buf = allocStruct(4);
  getsockopt(fd, level, name, buf);
  return new DataView(buf.buffer).getInt32(0, true);
}

/**
 * `ioctl(2)` with a pointer argument; returns the (non-negative) result.
 *
 * @example
 * ```ts
 * const req = ifreq("veth0");
 * ioctl(fd, SIOCGIFMTU, req);
 * ```
 */
export function ioctl(fd: number, request: number, arg: Uint8Array): number {
  const r = libc().ioctl(fd | 0, BigInt(request), arg);
  if (r < 0) throw new SyscallError("ioctl", errno(), `request 0x${request.toString(16)}`);
  return r;
}

/**
 * `mmap(2)`: map `length` bytes; throws on `MAP_FAILED`.
 *
 * @example
 * ```ts
 * const ring = mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
 * ```
 */
export function mmap(
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: bigint = 0n,
): Deno.PointerObject {
  const p = libc().mmap(null, BigInt(length), prot | 0, flags | 0, fd | 0, offset);
  if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) {
    throw new SyscallError("mmap", errno(), `${length} bytes at offset 0x${offset.toString(16)}`);
  }
  return p;
}

/**
 * `munmap(2)`.
 *
 * @example
 * ```ts
 * munmap(ring, size);
 * ```
 */
export function munmap(address: Deno.PointerObject, length: number): void {
  if (libc().munmap(address, BigInt(length)) < 0) throw new SyscallError("munmap", errno());
}

/**
 * `open(2)` of `path` with `flags` (and `mode` for O_CREAT).
 *
 * @example
 * ```ts
 * const tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
 * ```
 */
export function open(path: string, flags: number, mode = 0): number {
  const fd = libc().open(cString(path), flags | 0, mode >>> 0);
  if (fd < 0) throw new SyscallError("open", errno(), path);
  return fd;
}

/**
 * `close(2)`.
 *
 * @example
 * ```ts
 * close(fd);
 * ```
 */
export function close(fd: number): void {
  if (libc().close(fd | 0) < 0) throw new SyscallError("close", errno());
}

/**
 * `setns(2)`: move the calling thread into the namespace `fd` refers to.
 *
 * @example
 * ```ts
 * setns(nsFd, CLONE_NEWNET);
 * ```
 */
export function setns(fd: number, nstype: number): void {
  if (libc().setns(fd | 0, nstype | 0) < 0) throw new SyscallError("setns", errno());
}

/**
 * `fcntl(2)` with an integer argument; returns the result.
 *
 * @example
 * ```ts
 * fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
 * ```
 */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  const r = libc().fcntl(fd | 0, cmd | 0, BigInt(arg));
  if (r < 0) throw new SyscallError("fcntl", errno());
  return r;
}

/**
 * `eventfd(2)` with `initval` and `flags`.
 *
 * @example
 * ```ts
 * const fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
 * ```
 */
export function eventfd(initval: number, flags: number): number {
  const fd = libc().eventfd(initval >>> 0, flags | 0);
  if (fd < 0) throw new SyscallError("eventfd", errno());
  return fd;
}

/**
 * An epoll instance (`epoll_create1(EPOLL_CLOEXEC)`) watching every fd of `fds` for input
 * (level-triggered): it polls readable while any of them is. Set-up only (allocates). Throws
 * SyscallError; on a failed add the new fd is closed first.
 *
 * @example
 * ```ts ignore
 * const fd = epollReadable([a, b]); // poll(fd) says when a or b has input
 * ```
 */
export function epollReadable(fds: readonly number[]): number {
  const ep = libc().epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw new SyscallError("epoll_create1", errno());
  // struct epoll_event is packed on x86-64: events u32, data u64 (the fd).
  const ev = allocStruct(12);
  const v = new DataView(ev.buffer);
  for (const fd of fds) {
    v.setUint32(0, EPOLLIN, true);
    v.setBigUint64(4, BigInt(fd), true);
    if (libc().epoll_ctl(ep, EPOLL_CTL_ADD, fd | 0, ev) < 0) {
      const e = new SyscallError("epoll_ctl", errno());
      close(ep);
      throw e;
    }
  }
  return ep;
}

// --- hot-path calls: return result or -errno ----------------------------------------------------

/**
 * `read(2)` of up to `len` bytes into `buf`; bytes read, or `-errno`.
 *
 * @example
 * ```ts
 * const n = read(fd, frame, frame.length);
 * if (n === -EAGAIN) return 0;
 * ```
 */
export function read(fd: number, buf: Uint8Array, len: number): number {
  const r = libc().read(fd | 0, buf, sizeArg(len));
  return r < 0 ? -errno() : r;
}

/**
 * `write(2)` of `len` bytes from the start of `buf`; bytes written, or `-errno`.
 *
 * @example
 * ```ts
 * write(fd, frame, 60);
 * ```
 */
export function write(fd: number, buf: Uint8Array, len: number): number {
  const r = libc().write(fd | 0, buf, sizeArg(len));
  return r < 0 ? -errno() : r;
}

/**
 * `sendto(2)`; bytes sent, or `-errno`. `addr` may be null (connected/bound sockets).
 *
 * @example
 * ```ts
 * sendto(fd, frame, 60, MSG_DONTWAIT, null);
 * ```
 */
export function sendto(
  fd: number,
  buf: Uint8Array,
  len: number,
  flags: number,
  addr: Uint8Array | null,
): number {
  const addrLen = addr === null ? 0 : addr.byteLength;
  const r = libc().sendto(fd | 0, buf, sizeArg(len), flags | 0, addr, addrLen);
  return r < 0 ? -errno() : r;
}

/**
 * `recvfrom(2)`; bytes received, or `-errno`. `addr`/`addrLen` (a 4-byte cell holding the
 * capacity of `addr`, updated by the kernel) may both be null.
 *
 * @example
 * ```ts
 * const n = recvfrom(fd, buf, buf.length, MSG_DONTWAIT, null, null);
 * ```
 */
export function recvfrom(
  fd: number,
  buf: Uint8Array,
  len: number,
  flags: number,
  addr: Uint8Array | null,
  addrLen: Uint8Array | null,
): number {
  const r = libc().recvfrom(fd | 0, buf, sizeArg(len), flags | 0, addr, addrLen);
  return r < 0 ? -errno() : r;
}

/**
 * `recvmsg(2)` into a prepared `struct msghdr`; bytes received, or `-errno`.
 *
 * @example
 * ```ts
 * const n = recvmsg(fd, msghdr, MSG_DONTWAIT);
 * ```
 */
export function recvmsg(fd: number, msghdr: Uint8Array, flags: number): number {
  const r = libc().recvmsg(fd | 0, msghdr, flags | 0);
  return r < 0 ? -errno() : r;
}

/**
 * `recvmmsg(2)` (no timeout) into `vlen` prepared `struct mmsghdr`s; messages received, or
 * `-errno`.
 *
 * @example
 * ```ts
 * const n = recvmmsg(fd, msgvec, 64, MSG_DONTWAIT);
 * ```
 */
export function recvmmsg(fd: number, msgvec: Uint8Array, vlen: number, flags: number): number {
  const r = libc().recvmmsg(fd | 0, msgvec, vlen >>> 0, flags | 0, null);
  return r < 0 ? -errno() : r;
}

/**
 * `sendmmsg(2)` of `vlen` prepared `struct mmsghdr`s; messages sent, or `-errno` (only when
 * the first message failed).
 *
 * @example
 * ```ts
 * const sent = sendmmsg(fd, msgvec, staged, MSG_DONTWAIT);
 * ```
 */
export function sendmmsg(fd: number, msgvec: Uint8Array, vlen: number, flags: number): number {
  const r = libc().sendmmsg(fd | 0, msgvec, vlen >>> 0, flags | 0);
  return r < 0 ? -errno() : r;
}

/**
 * `poll(2)` with timeout 0 (never blocks): the number of ready entries, or `-errno`.
 * `fds` is a pollfd array (see `pollfds`); `nfds` defaults to all of it.
 *
 * @example
 * ```ts
 * if (pollNow(fds) > 0 && pollfdRevents(fds, 0) & POLLIN) drain();
 * ```
 */
export function pollNow(fds: Uint8Array, nfds: number = fds.byteLength >>> 3): number {
  const r = libc().poll(fds, sizeArg(nfds), 0);
  return r < 0 ? -errno() : r;
}

/**
 * The timespec of {@link pollBlocking}, reused by every call: two little-endian 64-bit longs
 * (seconds, nanoseconds) written as 32-bit halves, the high halves staying 0 (no BigInt).
 */
const PPOLL_TIMEOUT = new Int32Array(4);

/**
 * `ppoll(2)` blocking this thread for at most `timeoutMs` (clamped to 0.001..10 ms; fractions
 * are honoured to the microsecond, so a pacing or TSO-deferral wake-up 200 µs away is not
 * stretched to a whole millisecond as `poll`'s whole-ms timeout would): the number of ready
 * entries, 0 on timeout, or `-errno`. While it waits no JavaScript runs and Deno's own timers
 * and I/O wait too, so the event loop only uses it for short slices it bounds itself; in
 * return a frame or an eventfd write wakes this very thread, with no helper thread in between
 * (one scheduler wake-up, as a blocking `recv` has, instead of two).
 *
 * @example
 * ```ts
 * if (pollBlocking(fds, 0.25) > 0) tick();
 * ```
 */
export function pollBlocking(
  fds: Uint8Array,
  timeoutMs: number,
  nfds: number = fds.byteLength >>> 3,
): number {
  return pollBlockingUs(fds, Math.ceil(timeoutMs * 1000), nfds);
}

/**
 * {@link pollBlocking} with the timeout in whole microseconds (clamped to 1..10,000): a small
 * integer crosses the call as it is, where a fraction of a millisecond handed to a call V8
 * does not inline is a new heap number on every call (the event loop's blocking slice).
 *
 * @example
 * ```ts
 * if (pollBlockingUs(fds, 250) > 0) tick();
 * ```
 */
export function pollBlockingUs(
  fds: Uint8Array,
  timeoutUs: number,
  nfds: number = fds.byteLength >>> 3,
): number {
  let us = timeoutUs;
  if (!(us >= 1)) us = 1;
  else if (us > 10_000) us = 10_000;
  const ts = PPOLL_TIMEOUT;
  ts[0] = 0; // below 10 ms: no whole seconds
  ts[2] = us * 1000;
  const r = libc().ppoll(fds, sizeArg(nfds), ts, null);
  return r < 0 ? -errno() : r;
}

/**
 * Wait up to `timeoutMs` (negative or non-finite: forever; fractions round up) for any entry of
 * `fds`, on Deno's helper thread so the event loop keeps running. Resolves to the number of
 * ready entries, 0 on timeout, or -1 on failure (errno is not available: it belongs to the
 * helper thread). About 30 µs per call: for idle waits only, never per packet. `fds` must stay
 * untouched until the promise settles; allocate it with `pollfds` so it cannot move.
 *
 * @example
 * ```ts
 * const fds = pollfds(1);
 * setPollfd(fds, 0, wakeFd, POLLIN);
 * await pollAsync(fds, 100);
 * ```
 */
export function pollAsync(
  fds: Uint8Array,
  timeoutMs: number,
  nfds: number = fds.byteLength >>> 3,
): Promise<number> {
  const timeout = timeoutMs >= 0 && Number.isFinite(timeoutMs)
    ? Math.min(Math.ceil(timeoutMs), 0x7fffffff)
    : -1;
  return libc().poll_nonblocking(fds, sizeArg(nfds), timeout | 0);
}

/**
 * `sched_yield(2)`: let another runnable thread on this CPU run now (returns at once when there
 * is none, ~0.3 µs). The busy-polling event loop calls it while it waits for a peer: a peer
 * process woken on this CPU (the scheduler places a wakee next to its waker) would otherwise
 * wait until the spinning thread's slice ends or it blocks.
 *
 * @example
 * ```ts
 * schedYield();
 * ```
 */
export function schedYield(): void {
  libc().sched_yield();
}

// --- eventfd ------------------------------------------------------------------------------------

/** The 8-byte little-endian 1 that `eventfdSignal` writes. */
const EVENTFD_ONE = allocStruct(8);
EVENTFD_ONE[0] = 1;
/** Where `eventfdDrain` reads the counter. */
const EVENTFD_COUNTER = allocStruct(8);
const EVENTFD_COUNTER_WORDS = new Uint32Array(EVENTFD_COUNTER.buffer);

/**
 * A non-blocking, close-on-exec eventfd with counter 0 (throws SyscallError).
 *
 * @example
 * ```ts
 * const wake = eventfdCreate();
 * ```
 */
export function eventfdCreate(): number {
  return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/**
 * Add 1 to the eventfd's counter, waking its pollers. Returns 0, or `-errno`; EAGAIN (counter
 * saturated, so it is readable anyway) counts as success. Allocation-free.
 *
 * @example
 * ```ts
 * eventfdSignal(wake);
 * ```
 */
export function eventfdSignal(fd: number): number {
  const r = write(fd, EVENTFD_ONE, 8);
  return r >= 0 || r === -EAGAIN ? 0 : r;
}

/**
 * Read and reset the eventfd's counter: the signals since the last drain (0 if none), or
 * `-errno` on a failure other than EAGAIN. Allocation-free.
 *
 * @example
 * ```ts
 * if (eventfdDrain(wake) > 0) tick();
 * ```
 */
export function eventfdDrain(fd: number): number {
  const r = read(fd, EVENTFD_COUNTER, 8);
  if (r === -EAGAIN) return 0;
  if (r < 0) return r;
  return EVENTFD_COUNTER_WORDS[0] + EVENTFD_COUNTER_WORDS[1] * 0x1_0000_0000;
}

// --- interfaces ---------------------------------------------------------------------------------

/**
 * The index of interface `ifname` in the calling thread's network namespace (throws
 * SyscallError `ENODEV` if there is none).
 *
 * @example
 * ```ts
 * const ifindex = interfaceIndex("veth0");
 * ```
 */
export function interfaceIndex(ifname: string): number {
  const index = libc().if_nametoindex(cString(ifname));
  if (index === 0) {
    throw new SyscallError("if_nametoindex", errno() || ENODEV, `interface "${ifname}"`);
  }
  return index;
}

/**
 * The 6-byte MAC address of `ifname` (`SIOCGIFHWADDR`), asked through any socket `fd`.
 *
 * @example
 * ```ts
 * const mac = interfaceMac(fd, "veth0");
 * ```
 */
export function interfaceMac(fd: number, ifname: string): Uint8Array {
  const req = ifreq(ifname);
  if (libc().ioctl(fd | 0, BigInt(SIOCGIFHWADDR), req) < 0) {
    throw new SyscallError("ioctl", errno(), `SIOCGIFHWADDR "${ifname}"`);
  }
  return req.slice(IFR_HWADDR_DATA, IFR_HWADDR_DATA + 6);
}

/** Most addresses {@link kernelIpv4Addresses} reads (more are left out). */
export const KERNEL_IPV4_ADDRESSES_MAX = 256;

/**
 * Every IPv4 address the kernel holds on any interface of the calling thread's namespace
 * (`SIOCGIFCONF`, one `ifreq` per address, secondaries too), as numbers (`0xc6120002` for
 * 198.18.0.2); at most {@link KERNEL_IPV4_ADDRESSES_MAX}. Asked through any socket `fd`.
 *
 * @example
 * ```ts ignore
 * kernelIpv4Addresses(fd).includes(0x7f000001); // true: 127.0.0.1 on lo
 * ```
 */
export function kernelIpv4Addresses(fd: number): number[] {
  const buf = allocStruct(KERNEL_IPV4_ADDRESSES_MAX * IFREQ_SIZE);
  const conf = allocStruct(16); // struct ifconf: int ifc_len, (padding), char *ifc_buf
  const c = new DataView(conf.buffer);
  c.setInt32(0, buf.byteLength, true);
  c.setBigUint64(8, addressOf(buf), true);
  if (libc().ioctl(fd | 0, BigInt(SIOCGIFCONF), conf) < 0) {
    throw new SyscallError("ioctl", errno(), "SIOCGIFCONF");
  }
  const len = c.getInt32(0, true);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: number[] = [];
  for (let at = 0; at + IFREQ_SIZE <= len; at += IFREQ_SIZE) {
    // ifr_addr: a sockaddr_in — family (2 bytes), port (2), the address (network order).
    if (v.getUint16(at + IFR_UNION, true) === AF_INET) out.push(v.getUint32(at + IFR_UNION + 4));
  }
  return out;
}

/** An IPv6 address as four unsigned 32-bit words, bytes 0..3 first (network order in each). */
export type Ipv6Words = readonly [number, number, number, number];

/** Most addresses {@link kernelIpv6Addresses} reads (more are left out). */
export const KERNEL_IPV6_ADDRESSES_MAX = 256;

/** The calling thread's namespace's IPv6 addresses, one line each (`ip -6 addr` reads them). */
const IF_INET6 = "/proc/thread-self/net/if_inet6";

/** Bytes of `if_inet6` read (54 per line: {@link KERNEL_IPV6_ADDRESSES_MAX} lines and more). */
const IF_INET6_BYTES = 64 * 1024;

/**
 * Every IPv6 address the kernel holds on any interface of the calling thread's namespace
 * (`/proc/thread-self/net/if_inet6`: tentative and link-local ones too), as words; at most
 * {@link KERNEL_IPV6_ADDRESSES_MAX}. A kernel without IPv6 has no such file: none. Read with
 * `open(2)`/`read(2)`, not `Deno.readFile` (which asks for `--allow-all` under `/proc`).
 * Throws SyscallError.
 *
 * @example
 * ```ts ignore
 * kernelIpv6Addresses().some((w) => w[3] === 1 && w[0] === 0); // ::1 on lo
 * ```
 */
export function kernelIpv6Addresses(): Ipv6Words[] {
  let fd: number;
  try {
    fd = open(IF_INET6, O_RDONLY | O_CLOEXEC);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === ENOENT) return [];
    throw e;
  }
  const buf = new Uint8Array(IF_INET6_BYTES);
  let len = 0;
  try {
    // A seq file hands out whole lines per read; read until the end or the buffer is full.
    while (len < buf.length) {
      const n = read(fd, buf.subarray(len), buf.length - len);
      if (n < 0) throw new SyscallError("read", -n, IF_INET6);
      if (n === 0) break;
      len += n;
    }
  } finally {
    close(fd);
  }
  return parseIfInet6(new TextDecoder().decode(buf.subarray(0, len)));
}

/**
 * The addresses of `/proc/net/if_inet6` text: each line starts with the address as 32 hex
 * digits (`fd000000000000000000000000000002 03 40 00 80 us0`); other lines are skipped. At most
 * {@link KERNEL_IPV6_ADDRESSES_MAX}.
 *
 * @example
 * ```ts
 * parseIfInet6("fd000000000000000000000000000002 03 40 00 80 us0\n"); // [[0xfd000000, 0, 0, 2]]
 * ```
 */
export function parseIfInet6(text: string): Ipv6Words[] {
  const out: Ipv6Words[] = [];
  for (const line of text.split("\n")) {
    if (out.length === KERNEL_IPV6_ADDRESSES_MAX) break;
    const hex = line.slice(0, 32);
    if (!/^[0-9a-fA-F]{32}$/.test(hex)) continue;
    const w = (i: number) => parseInt(hex.slice(8 * i, 8 * i + 8), 16) >>> 0;
    out.push([w(0), w(1), w(2), w(3)]);
  }
  return out;
}

/**
 * The MTU of `ifname` (`SIOCGIFMTU`), asked through any socket `fd`.
 *
 * @example
 * ```ts
 * const mtu = interfaceMtu(fd, "veth0");
 * ```
 */
export function interfaceMtu(fd: number, ifname: string): number {
  const req = ifreq(ifname);
  if (libc().ioctl(fd | 0, BigInt(SIOCGIFMTU), req) < 0) {
    throw new SyscallError("ioctl", errno(), `SIOCGIFMTU "${ifname}"`);
  }
  return new DataView(req.buffer).getInt32(IFR_UNION, true);
}
