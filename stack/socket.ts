/**
 * The BSD-style socket API: numeric descriptors, non-blocking calls that throw errno-named
 * {@link StackError}s, socket options, and poll-style readiness — plus `wait()` for async code.
 *
 * ```ts ignore
 * const s = rt.sockets;
 * const fd = s.socket(AF_INET, SOCK_DGRAM);
 * s.bind(fd, "0.0.0.0", 5353);
 * await s.wait(fd, POLLIN);
 * const { bytes, addr, port } = s.recvfrom(fd, buf);
 * ```
 *
 * @module
 */

import { formatIpv4, parseIpv4 } from "../net/ipv4_address.ts";
import { type UdpEndpoint, UdpPeer } from "../transport/udp.ts";
import { StackError } from "./errors.ts";
import { EV_ERROR, EV_HANGUP, EV_READABLE, EV_WRITABLE, type WaitQueue } from "./event_mux.ts";
import type { Stack } from "./stack.ts";

/** Address family IPv4. */
export const AF_INET = 2;
/** Stream socket (TCP). */
export const SOCK_STREAM = 1;
/** Datagram socket (UDP). */
export const SOCK_DGRAM = 2;
/** Socket-level options. */
export const SOL_SOCKET = 1;
/** SO_REUSEADDR. */
export const SO_REUSEADDR = 2;
/** SO_TYPE (read-only). */
export const SO_TYPE = 3;
/** SO_ERROR (read-only, clears the pending error). */
export const SO_ERROR = 4;
/** SO_BROADCAST. */
export const SO_BROADCAST = 6;
/** SO_SNDBUF. */
export const SO_SNDBUF = 7;
/** SO_RCVBUF. */
export const SO_RCVBUF = 8;
/** IP-level options. */
export const IPPROTO_IP = 0;
/** IP_TTL. */
export const IP_TTL = 2;
/** Readable (same value as poll's POLLIN). */
export const POLLIN = EV_READABLE;
/** Writable. */
export const POLLOUT = EV_WRITABLE;
/** Error pending. */
export const POLLERR = EV_ERROR;
/** Hung up / closed. */
export const POLLHUP = EV_HANGUP;

/** A socket address. */
export interface SockAddr {
  /** Dotted-quad IPv4 address. */
  addr: string;
  /** Port. */
  port: number;
}

/** Result of {@link SocketTable.recvfrom}. */
export interface RecvFromResult extends SockAddr {
  /** Bytes copied into the buffer. */
  bytes: number;
  /** True when the datagram was longer than the buffer (the rest was discarded). */
  truncated: boolean;
}

/** One open descriptor. */
type Entry = { kind: "udp"; ep: UdpEndpoint };

function parseAddr(call: string, addr: string): number {
  try {
    return parseIpv4(addr);
  } catch {
    throw new StackError("EINVAL", `${call}: ${addr} is not an IPv4 address`);
  }
}

function checkPort(call: string, port: number): number {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new StackError("EINVAL", `${call}: port must be an integer 0..65535`);
  }
  return port;
}

/**
 * The descriptor table of one stack. Descriptors are small integers, lowest free first.
 */
export class SocketTable {
  readonly #stack: Stack;
  readonly #fds: (Entry | undefined)[] = [];
  readonly #peer = new UdpPeer();

  /** A table over `stack`. */
  constructor(stack: Stack) {
    this.#stack = stack;
  }

  #get(call: string, fd: number): Entry {
    const e = Number.isInteger(fd) ? this.#fds[fd] : undefined;
    if (e === undefined) throw new StackError("EBADF", `${call}: bad descriptor ${fd}`);
    return e;
  }

  #udp(call: string, fd: number): UdpEndpoint {
    return this.#get(call, fd).ep;
  }

  /** Open a socket; returns its descriptor. */
  socket(family: number, type: number): number {
    if (family !== AF_INET) throw new StackError("EAFNOSUPPORT", "socket: only AF_INET");
    let entry: Entry;
    if (type === SOCK_DGRAM) entry = { kind: "udp", ep: this.#stack.udp.open() };
    else if (type === SOCK_STREAM) {
      throw new StackError("EPROTONOSUPPORT", "socket: SOCK_STREAM is not available yet");
    } else throw new StackError("EPROTONOSUPPORT", `socket: type ${type}`);
    let fd = 0;
    while (this.#fds[fd] !== undefined) fd++;
    this.#fds[fd] = entry;
    return fd;
  }

  /** Bind to `addr` ("0.0.0.0" for any) and `port` (0 picks an ephemeral port). */
  bind(fd: number, addr: string, port: number): void {
    this.#udp("bind", fd).bind(parseAddr("bind", addr), checkPort("bind", port));
  }

  /** Connect (UDP: set the default peer and filter incoming datagrams by it). */
  connect(fd: number, addr: string, port: number): void {
    this.#udp("connect", fd).connect(parseAddr("connect", addr), checkPort("connect", port));
    this.#stack.requestTick();
  }

  /** Send a datagram to `addr:port` (or the connected peer). Returns bytes sent. */
  sendto(fd: number, data: Uint8Array, addr?: string, port?: number): number {
    const ep = this.#udp("sendto", fd);
    if (addr === undefined) return ep.sendto(data, 0, data.length, 0, 0);
    return ep.sendto(
      data,
      0,
      data.length,
      parseAddr("sendto", addr),
      checkPort("sendto", port ?? 0),
    );
  }

  /** Receive one datagram into `buf`; throws EAGAIN when none is queued. */
  recvfrom(fd: number, buf: Uint8Array): RecvFromResult {
    const ep = this.#udp("recvfrom", fd);
    const p = this.#peer;
    const n = ep.recvfrom(buf, 0, buf.length, p);
    if (n < 0) throw new StackError("EAGAIN", "recvfrom: no datagram queued");
    return { bytes: n, addr: formatIpv4(p.addr), port: p.port, truncated: p.length > n };
  }

  /** Read from a connected socket (UDP: one datagram's payload). Throws EAGAIN. */
  read(fd: number, buf: Uint8Array): number {
    const ep = this.#udp("read", fd);
    if (ep.remotePort === 0) throw new StackError("ENOTCONN", "read: socket is not connected");
    return this.recvfrom(fd, buf).bytes;
  }

  /** Write to a connected socket. */
  write(fd: number, data: Uint8Array): number {
    const ep = this.#udp("write", fd);
    if (ep.remotePort === 0) throw new StackError("ENOTCONN", "write: socket is not connected");
    return ep.sendto(data, 0, data.length, 0, 0);
  }

  /** Close the descriptor. */
  close(fd: number): void {
    const e = this.#get("close", fd);
    e.ep.close();
    this.#fds[fd] = undefined;
  }

  /** Local address. */
  getsockname(fd: number): SockAddr {
    const ep = this.#udp("getsockname", fd);
    return { addr: formatIpv4(ep.localAddr), port: ep.localPort };
  }

  /** Peer address; ENOTCONN when unconnected. */
  getpeername(fd: number): SockAddr {
    const ep = this.#udp("getpeername", fd);
    if (ep.remotePort === 0) throw new StackError("ENOTCONN", "getpeername: not connected");
    return { addr: formatIpv4(ep.remoteAddr), port: ep.remotePort };
  }

  /** Set an integer option (booleans as 0/1). ENOPROTOOPT for unknown options. */
  setsockopt(fd: number, level: number, name: number, value: number | boolean): void {
    const ep = this.#udp("setsockopt", fd);
    const v = typeof value === "boolean" ? (value ? 1 : 0) : value;
    if (!Number.isInteger(v) || v < 0) throw new StackError("EINVAL", "setsockopt: bad value");
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_REUSEADDR:
          ep.reuseAddr = v !== 0;
          return;
        case SO_BROADCAST:
          ep.broadcast = v !== 0;
          return;
        case SO_RCVBUF:
          ep.receiveBufferBytes = v;
          return;
        case SO_SNDBUF:
          ep.sendBufferBytes = Math.max(2048, v);
          return;
      }
    } else if (level === IPPROTO_IP && name === IP_TTL) {
      if (v < 1 || v > 255) throw new StackError("EINVAL", "setsockopt: IP_TTL must be 1..255");
      ep.ttl = v;
      return;
    }
    throw new StackError("ENOPROTOOPT", `setsockopt: option ${level}/${name}`);
  }

  /** Read an integer option. */
  getsockopt(fd: number, level: number, name: number): number {
    const ep = this.#udp("getsockopt", fd);
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_REUSEADDR:
          return ep.reuseAddr ? 1 : 0;
        case SO_BROADCAST:
          return ep.broadcast ? 1 : 0;
        case SO_RCVBUF:
          return ep.receiveBufferBytes;
        case SO_SNDBUF:
          return ep.sendBufferBytes;
        case SO_TYPE:
          return SOCK_DGRAM;
        case SO_ERROR: {
          const e = ep.error;
          ep.error = null;
          return e === null ? 0 : ERRNO_NUMBERS[e] ?? 5;
        }
      }
    } else if (level === IPPROTO_IP && name === IP_TTL) {
      return ep.ttl || this.#stack.ipv4.defaultTtl;
    }
    throw new StackError("ENOPROTOOPT", `getsockopt: option ${level}/${name}`);
  }

  /** Current readiness of `fd` masked by `events` (POLLIN | POLLOUT …), like one poll() entry. */
  poll(fd: number, events: number): number {
    const wq = this.waitQueue(fd);
    return wq.readiness & (events | POLLERR | POLLHUP);
  }

  /** Resolve when `fd` is ready for any of `events`; resolves with the ready bits. */
  wait(fd: number, events: number): Promise<number> {
    const wq = this.waitQueue(fd);
    return wq.wait(events | POLLERR | POLLHUP);
  }

  /** The wait queue of `fd`. */
  waitQueue(fd: number): WaitQueue {
    return this.#get("poll", fd).ep.wq;
  }

  /** Close every descriptor. */
  closeAll(): void {
    for (let fd = 0; fd < this.#fds.length; fd++) if (this.#fds[fd] !== undefined) this.close(fd);
  }
}

/** errno numbers for SO_ERROR (Linux x86-64). */
const ERRNO_NUMBERS: Record<string, number> = {
  ECONNREFUSED: 111,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  EHOSTUNREACH: 113,
  ENETUNREACH: 101,
  EMSGSIZE: 90,
  EPIPE: 32,
};
