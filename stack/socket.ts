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
 * The numbers (families, option names, errno values) are in `socket_constants.ts`. Why this
 * file is somewhat over 600 lines: it is the whole call set of one descriptor table for two
 * socket types and two families, each call with its documented errors.
 *
 * @module
 */

import {
  formatIp,
  type IpAddress,
  type IpFamily,
  isUnspecified,
  tryParseIp,
} from "../net/ip_address.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";
import type { TcpListener } from "../transport/tcp/listener.ts";
import type { TcpInfo } from "../transport/tcp/tcp_info.ts";
import { TcpLayer } from "../transport/tcp/tcp_layer.ts";
import { isCongestionControlName } from "../transport/tcp/congestion/mod.ts";
import { type UdpEndpoint, UdpPeer } from "../transport/udp.ts";
import { StackError } from "../core/errors.ts";
import { EV_HANGUP, WaitQueue } from "../core/event_mux.ts";
import type { Stack } from "./stack.ts";
import {
  AF_INET,
  AF_INET6,
  ERRNO_NUMBERS,
  IP_MTU,
  IP_MTU_DISCOVER,
  IP_PMTUDISC_DO,
  IP_PMTUDISC_DONT,
  IP_PMTUDISC_PROBE,
  IP_TTL,
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_TCP,
  IPV6_DONTFRAG,
  IPV6_MTU,
  IPV6_UNICAST_HOPS,
  IPV6_V6ONLY,
  POLLERR,
  POLLHUP,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_BROADCAST,
  SO_ERROR,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_RCVBUF,
  SO_REUSEADDR,
  SO_SNDBUF,
  SO_TYPE,
  SOCK_DGRAM,
  SOCK_STREAM,
  SOL_SOCKET,
  TCP_CONGESTION,
  TCP_CORK,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from "./socket_constants.ts";

export * from "./socket_constants.ts";

/** A socket address. */
export interface SockAddr {
  /**
   * The address: a dotted quad on AF_INET sockets; IPv6 text on AF_INET6 sockets, IPv4 peers
   * of a dual-stack socket as `::ffff:a.b.c.d`.
   */
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

/** A stream socket before listen()/connect(): options and a binding to apply later. */
class StreamSetup {
  /** 4 (AF_INET) or 6 (AF_INET6). */
  readonly family: IpFamily;
  /** Bound address (null: the family's wildcard). */
  addr: IpAddress | null = null;
  port = -1;
  v6only = false;
  noDelay = false;
  keepAlive = false;
  keepIdleMs = 0;
  keepIntervalMs = 0;
  keepCount = 0;
  sndbuf = 0;
  rcvbuf = 0;
  lingerSec = -1;
  reuseAddr = false;
  /** TCP_CONGESTION set on the socket ("" = the stack's default). */
  cc = "";
  readonly wq: WaitQueue = new WaitQueue();
  constructor(family: IpFamily) {
    this.family = family;
  }
}

/** One open descriptor. */
type Entry =
  | { kind: "udp"; ep: UdpEndpoint }
  | { kind: "stream"; setup: StreamSetup }
  | { kind: "tcp"; ep: TcpEndpoint; setup: StreamSetup; readShut: boolean }
  | { kind: "listener"; l: TcpListener; setup: StreamSetup };

/**
 * A datagram socket's address argument: IPv4 only on AF_INET; on AF_INET6 IPv6 text or an
 * IPv4 address (taken IPv4-mapped, as `::ffff:a.b.c.d`).
 */
function parseSockAddr(call: string, family: IpFamily, addr: string): IpAddress {
  const a = tryParseIp(addr);
  if (a === null || (family === 4 && a.family !== 4)) {
    throw new StackError("EINVAL", `${call}: ${addr} is not an IPv${family} address`);
  }
  return a;
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
  /** Most open descriptors; `socket()`/`accept()` beyond it throw EMFILE (Linux RLIMIT_NOFILE). */
  readonly maxDescriptors: number;
  /** Descriptors refused because the table was full. */
  refused = 0;
  readonly #stack: Stack;
  readonly #fds: (Entry | undefined)[] = [];
  #open = 0;
  readonly #peer = new UdpPeer();

  /** A table over `stack`, bounded at `maxDescriptors` (default 65 536). */
  constructor(stack: Stack, maxDescriptors = 65_536) {
    this.#stack = stack;
    this.maxDescriptors = maxDescriptors;
  }

  #checkRoom(call: string): void {
    if (this.#open >= this.maxDescriptors) {
      this.refused++;
      throw new StackError("EMFILE", `${call}: ${this.maxDescriptors} descriptors open`);
    }
  }

  #get(call: string, fd: number): Entry {
    const e = Number.isInteger(fd) ? this.#fds[fd] : undefined;
    if (e === undefined) throw new StackError("EBADF", `${call}: bad descriptor ${fd}`);
    return e;
  }

  #udp(call: string, fd: number): UdpEndpoint {
    const e = this.#get(call, fd);
    if (e.kind !== "udp") throw new StackError("EOPNOTSUPP", `${call}: not a datagram socket`);
    return e.ep;
  }

  #tcp(call: string, fd: number): Entry & { kind: "tcp" } {
    const e = this.#get(call, fd);
    if (e.kind === "tcp") return e;
    if (e.kind === "udp") throw new StackError("EOPNOTSUPP", `${call}: not a stream socket`);
    throw new StackError("ENOTCONN", `${call}: socket is not connected`);
  }

  /** The NIC a `%zone` names (an interface name or index); 0 for none or an unknown one. */
  #zoneNic(zone: string): number {
    if (zone === "") return 0;
    for (const nic of this.#stack.nics) {
      if (nic.name === zone || String(nic.index) === zone) return nic.index;
    }
    return 0;
  }

  #place(entry: Entry): number {
    let fd = 0;
    while (this.#fds[fd] !== undefined) fd++;
    this.#fds[fd] = entry;
    this.#open++;
    return fd;
  }

  #applyOptions(ep: TcpEndpoint, s: StreamSetup): void {
    if (s.noDelay) ep.setNoDelay(true);
    if (s.keepAlive) {
      ep.setKeepAlive(
        true,
        s.keepIdleMs || undefined,
        s.keepIntervalMs || undefined,
        s.keepCount || undefined,
      );
    }
    if (s.sndbuf > 0) ep.setSendBufferSize(s.sndbuf);
    if (s.rcvbuf > 0) ep.setReceiveBufferSize(s.rcvbuf);
    if (s.cc !== "") ep.setCongestionControl(s.cc);
  }

  /** Open a socket; returns its descriptor. */
  socket(family: number, type: number): number {
    if (family !== AF_INET && family !== AF_INET6) {
      throw new StackError("EAFNOSUPPORT", "socket: AF_INET or AF_INET6");
    }
    if (type !== SOCK_DGRAM && type !== SOCK_STREAM) {
      throw new StackError("EPROTONOSUPPORT", `socket: type ${type}`);
    }
    this.#checkRoom("socket");
    let entry: Entry;
    if (type === SOCK_DGRAM) {
      const ep = this.#stack.udp.open(family === AF_INET6 ? 6 : 4);
      this.#stack.registry.addUdp(ep);
      entry = { kind: "udp", ep };
    } else if (type === SOCK_STREAM) {
      entry = { kind: "stream", setup: new StreamSetup(family === AF_INET6 ? 6 : 4) };
    } else throw new StackError("EPROTONOSUPPORT", `socket: type ${type}`);
    return this.#place(entry);
  }

  /** Listen on a bound (or unbound: ephemeral port) stream socket. */
  listen(fd: number, backlog = 128): void {
    const e = this.#get("listen", fd);
    if (e.kind === "listener") return;
    if (e.kind !== "stream") {
      throw new StackError("EINVAL", "listen: socket is connected or not a stream");
    }
    const s = e.setup;
    const l = this.#stack.tcp.listen(
      s.addr ?? TcpLayer.any(s.family),
      Math.max(0, s.port),
      backlog,
      { v6only: s.v6only },
    );
    this.#stack.registry.addListener(l);
    this.#fds[fd] = { kind: "listener", l, setup: s };
  }

  /** Take an established connection; throws EAGAIN when none is waiting. */
  accept(fd: number): number {
    const e = this.#get("accept", fd);
    if (e.kind !== "listener") throw new StackError("EINVAL", "accept: socket is not listening");
    this.#checkRoom("accept");
    const ep = e.l.accept();
    if (ep === null) throw new StackError("EAGAIN", "accept: no connection waiting");
    this.#applyOptions(ep, e.setup);
    this.#stack.registry.addTcp(ep);
    return this.#place({ kind: "tcp", ep, setup: e.setup, readShut: false });
  }

  /** Shut down reading, writing (FIN) or both. */
  shutdown(fd: number, how: number): void {
    const e = this.#tcp("shutdown", fd);
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) {
      throw new StackError("EINVAL", "shutdown: how must be SHUT_RD, SHUT_WR or SHUT_RDWR");
    }
    if (how !== SHUT_WR) e.readShut = true;
    if (how !== SHUT_RD) e.ep.shutdownWrite();
    this.#stack.requestTick();
  }

  /** TCP_INFO of a connected stream socket. */
  tcpInfo(fd: number): TcpInfo {
    return this.#tcp("tcpInfo", fd).ep.info();
  }

  /** Bind to `addr` ("0.0.0.0" for any) and `port` (0 picks an ephemeral port). */
  bind(fd: number, addr: string, port: number): void {
    const e = this.#get("bind", fd);
    const p = checkPort("bind", port);
    if (e.kind === "udp") return e.ep.bind(parseSockAddr("bind", e.ep.family, addr), p);
    if (e.kind !== "stream" || e.setup.port >= 0) {
      throw new StackError("EINVAL", "bind: socket is already bound");
    }
    const a = parseSockAddr("bind", e.setup.family, addr);
    if (!isUnspecified(a) && !this.#stack.networks.of(a).isLocalAddress(a)) {
      throw new StackError("EADDRNOTAVAIL", "bind: address is not local");
    }
    if (e.setup.v6only && a.family === 4) {
      throw new StackError("EINVAL", "bind: IPv4-mapped address with IPV6_V6ONLY");
    }
    e.setup.addr = isUnspecified(a) ? null : a;
    e.setup.port = p;
  }

  /** Connect (UDP: set the default peer and filter incoming datagrams by it). */
  connect(fd: number, addr: string, port: number): void {
    const e = this.#get("connect", fd);
    const p = checkPort("connect", port);
    if (e.kind === "udp") {
      e.ep.connect(parseSockAddr("connect", e.ep.family, addr), p);
      this.#stack.requestTick();
      return;
    }
    if (e.kind === "tcp") {
      const st = e.ep.stateName();
      if (st === "SYN_SENT") throw new StackError("EALREADY", "connect: already connecting");
      throw new StackError("EISCONN", "connect: already connected");
    }
    if (e.kind !== "stream") throw new StackError("EINVAL", "connect: socket is listening");
    const s = e.setup;
    const a = parseSockAddr("connect", s.family, addr);
    if (s.family === 6 && s.v6only && a.family === 4) {
      throw new StackError("ENETUNREACH", "connect: IPv4-mapped peer with IPV6_V6ONLY");
    }
    const ep = this.#stack.tcp.connect(a, p, {
      localAddr: s.addr ?? undefined,
      zoneNic: this.#zoneNic(a.zone),
      localPort: s.port > 0 ? s.port : undefined,
    });
    this.#applyOptions(ep, s);
    this.#stack.registry.addTcp(ep);
    this.#fds[fd] = { kind: "tcp", ep, setup: s, readShut: false };
    this.#stack.requestTick();
    // Non-blocking connect, as in C: completion is signalled by POLLOUT (or POLLERR).
    throw new StackError("EINPROGRESS", "connect: in progress (wait for POLLOUT)");
  }

  /** Send a datagram to `addr:port` (or the connected peer). Returns bytes sent. */
  sendto(fd: number, data: Uint8Array, addr?: string, port?: number): number {
    const ep = this.#udp("sendto", fd);
    if (addr === undefined) return ep.sendto(data, 0, data.length, null, 0);
    return ep.sendto(
      data,
      0,
      data.length,
      parseSockAddr("sendto", ep.family, addr),
      checkPort("sendto", port ?? 0),
    );
  }

  /** Receive one datagram into `buf`; throws EAGAIN when none is queued. */
  recvfrom(fd: number, buf: Uint8Array): RecvFromResult {
    const ep = this.#udp("recvfrom", fd);
    const p = this.#peer;
    const n = ep.recvfrom(buf, 0, buf.length, p);
    if (n < 0) throw new StackError("EAGAIN", "recvfrom: no datagram queued");
    return {
      bytes: n,
      addr: formatIp(p.addr, ep.family === 6),
      port: p.port,
      truncated: p.length > n,
    };
  }

  /**
   * Read from a connected socket (UDP: one datagram's payload). Returns 0 at EOF (TCP).
   * Throws EAGAIN when nothing is there yet.
   */
  read(fd: number, buf: Uint8Array): number {
    const e = this.#get("read", fd);
    if (e.kind !== "udp") {
      const t = this.#tcp("read", fd);
      if (t.readShut) return 0;
      const n = t.ep.read(buf, 0, buf.length);
      if (n < 0) throw new StackError("EAGAIN", "read: no data yet");
      if (n > 0) this.#stack.requestTick();
      return n;
    }
    const ep = e.ep;
    if (ep.remotePort === 0) throw new StackError("ENOTCONN", "read: socket is not connected");
    return this.recvfrom(fd, buf).bytes;
  }

  /** Write to a connected socket; TCP: bytes accepted, EAGAIN when the buffer is full. */
  write(fd: number, data: Uint8Array): number {
    const e = this.#get("write", fd);
    if (e.kind !== "udp") {
      const t = this.#tcp("write", fd);
      const n = t.ep.write(data, 0, data.length);
      if (n === 0 && data.length > 0) throw new StackError("EAGAIN", "write: send buffer full");
      this.#stack.written(n);
      this.#stack.requestTick();
      return n;
    }
    const ep = e.ep;
    if (ep.remotePort === 0) throw new StackError("ENOTCONN", "write: socket is not connected");
    return ep.sendto(data, 0, data.length, null, 0);
  }

  /** Close the descriptor. */
  close(fd: number): void {
    const e = this.#get("close", fd);
    this.#fds[fd] = undefined;
    this.#open--;
    if (e.kind === "udp") e.ep.close();
    else if (e.kind === "listener") {
      e.l.close();
      this.#stack.registry.removeListener(e.l);
    } else if (e.kind === "tcp") {
      if (e.setup.lingerSec === 0) e.ep.abort();
      else e.ep.close();
    } else e.setup.wq.wakeAll(EV_HANGUP);
    this.#stack.requestTick();
  }

  /** Local address. */
  getsockname(fd: number): SockAddr {
    const e = this.#get("getsockname", fd);
    if (e.kind === "tcp") {
      return { addr: formatIp(e.ep.localAddr, e.setup.family === 6), port: e.ep.localPort };
    }
    if (e.kind === "listener") {
      return { addr: formatIp(e.l.localAddr, e.setup.family === 6), port: e.l.localPort };
    }
    if (e.kind === "stream") {
      const s = e.setup;
      const a = s.addr ?? TcpLayer.any(s.family);
      return { addr: formatIp(a, s.family === 6), port: Math.max(0, s.port) };
    }
    return { addr: formatIp(e.ep.localAddr, e.ep.family === 6), port: e.ep.localPort };
  }

  /** Peer address; ENOTCONN when unconnected. */
  getpeername(fd: number): SockAddr {
    const e = this.#get("getpeername", fd);
    if (e.kind === "tcp") {
      return { addr: formatIp(e.ep.remoteAddr, e.setup.family === 6), port: e.ep.remotePort };
    }
    const ep = this.#udp("getpeername", fd);
    if (ep.remotePort === 0) throw new StackError("ENOTCONN", "getpeername: not connected");
    return { addr: formatIp(ep.remoteAddr, ep.family === 6), port: ep.remotePort };
  }

  /**
   * Set an option: an integer (booleans as 0/1), or a name for {@link TCP_CONGESTION}
   * (ENOENT for an algorithm the stack does not have, as Linux). ENOPROTOOPT for unknown
   * options.
   */
  setsockopt(fd: number, level: number, name: number, value: number | boolean | string): void {
    const entry = this.#get("setsockopt", fd);
    if (typeof value === "string" || (level === IPPROTO_TCP && name === TCP_CONGESTION)) {
      if (entry.kind === "udp" || level !== IPPROTO_TCP || name !== TCP_CONGESTION) {
        throw new StackError("EINVAL", "setsockopt: a string value is for TCP_CONGESTION only");
      }
      if (typeof value !== "string") throw new StackError("EINVAL", "setsockopt: name expected");
      if (!isCongestionControlName(value)) {
        throw new StackError("ENOENT", `setsockopt: no congestion control "${value}"`);
      }
      entry.setup.cc = value.toLowerCase();
      if (entry.kind === "tcp") entry.ep.setCongestionControl(entry.setup.cc);
      return;
    }
    const v = typeof value === "boolean" ? (value ? 1 : 0) : value;
    if (!Number.isInteger(v) || (v < 0 && name !== SO_LINGER)) {
      throw new StackError("EINVAL", "setsockopt: bad value");
    }
    if (entry.kind !== "udp") return this.#setStreamOption(entry, level, name, v);
    const ep = entry.ep;
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
    } else if (
      (level === IPPROTO_IP && name === IP_TTL) ||
      (level === IPPROTO_IPV6 && name === IPV6_UNICAST_HOPS && ep.family === 6)
    ) {
      if (v < 1 || v > 255) throw new StackError("EINVAL", "setsockopt: hop limit must be 1..255");
      ep.ttl = v;
      return;
    } else if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY && ep.family === 6) {
      if (ep.localPort !== 0) throw new StackError("EINVAL", "setsockopt: IPV6_V6ONLY after bind");
      ep.v6only = v !== 0;
      return;
    } else if (level === IPPROTO_IP && name === IP_MTU_DISCOVER) {
      if (v > IP_PMTUDISC_PROBE) throw new StackError("EINVAL", "setsockopt: IP_MTU_DISCOVER");
      ep.dontFragment = v >= IP_PMTUDISC_DO;
      return;
    } else if (level === IPPROTO_IPV6 && name === IPV6_DONTFRAG && ep.family === 6) {
      ep.dontFragment = v !== 0;
      return;
    }
    throw new StackError("ENOPROTOOPT", `setsockopt: option ${level}/${name}`);
  }

  #setStreamOption(
    e: Exclude<Entry, { kind: "udp" }>,
    level: number,
    name: number,
    v: number,
  ): void {
    const s = e.setup;
    const ep = e.kind === "tcp" ? e.ep : null;
    if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY && s.family === 6) {
      if (e.kind !== "stream" || s.port >= 0) {
        throw new StackError("EINVAL", "setsockopt: IPV6_V6ONLY after bind");
      }
      s.v6only = v !== 0;
      return;
    }
    if (level === SOL_SOCKET) {
      switch (name) {
        case SO_REUSEADDR:
          s.reuseAddr = v !== 0;
          return;
        case SO_KEEPALIVE:
          s.keepAlive = v !== 0;
          ep?.setKeepAlive(
            v !== 0,
            s.keepIdleMs || undefined,
            s.keepIntervalMs || undefined,
            s.keepCount || undefined,
          );
          return;
        case SO_LINGER:
          s.lingerSec = v;
          return;
        case SO_SNDBUF:
          s.sndbuf = Math.max(2048, v);
          ep?.setSendBufferSize(s.sndbuf);
          return;
        case SO_RCVBUF:
          s.rcvbuf = Math.max(2048, v);
          ep?.setReceiveBufferSize(s.rcvbuf);
          return;
      }
    } else if (level === IPPROTO_TCP) {
      switch (name) {
        case TCP_NODELAY:
          s.noDelay = v !== 0;
          ep?.setNoDelay(v !== 0);
          return;
        case TCP_CORK:
          ep?.setCork(v !== 0);
          return;
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL:
        case TCP_KEEPCNT:
          if (v < 1) throw new StackError("EINVAL", "setsockopt: keepalive values must be >= 1");
          if (name === TCP_KEEPIDLE) s.keepIdleMs = v * 1000;
          else if (name === TCP_KEEPINTVL) s.keepIntervalMs = v * 1000;
          else s.keepCount = v;
          if (s.keepAlive) {
            ep?.setKeepAlive(
              true,
              s.keepIdleMs || undefined,
              s.keepIntervalMs || undefined,
              s.keepCount || undefined,
            );
          }
          return;
      }
    }
    throw new StackError("ENOPROTOOPT", `setsockopt: option ${level}/${name}`);
  }

  /** Read {@link TCP_CONGESTION}: the algorithm's name. */
  getsockopt(fd: number, level: typeof IPPROTO_TCP, name: typeof TCP_CONGESTION): string;
  /** Read an integer option. */
  getsockopt(fd: number, level: number, name: number): number;
  /** Read an option: integers, and the name for {@link TCP_CONGESTION}. */
  getsockopt(fd: number, level: number, name: number): number | string {
    const entry = this.#get("getsockopt", fd);
    if (entry.kind !== "udp") {
      const s = entry.setup;
      if (level === IPPROTO_TCP && name === TCP_CONGESTION) {
        if (entry.kind === "tcp") return entry.ep.congestionControl;
        return s.cc !== "" ? s.cc : this.#stack.tcp.opts.congestionControl;
      }
      if (level === SOL_SOCKET && name === SO_TYPE) return SOCK_STREAM;
      if (level === IPPROTO_IPV6 && name === IPV6_V6ONLY && s.family === 6) {
        return s.v6only ? 1 : 0;
      }
      if (level === SOL_SOCKET && name === SO_ERROR) {
        const err = entry.kind === "tcp" ? entry.ep.takeError() : null;
        return err === null ? 0 : ERRNO_NUMBERS[err] ?? 5;
      }
      if (level === SOL_SOCKET && name === SO_KEEPALIVE) return s.keepAlive ? 1 : 0;
      if (level === SOL_SOCKET && name === SO_REUSEADDR) return s.reuseAddr ? 1 : 0;
      if (level === SOL_SOCKET && name === SO_LINGER) return s.lingerSec;
      if (level === SOL_SOCKET && name === SO_SNDBUF) {
        return entry.kind === "tcp" ? entry.ep.info().sndBufBytes : s.sndbuf;
      }
      if (level === SOL_SOCKET && name === SO_RCVBUF) {
        return entry.kind === "tcp" ? entry.ep.info().rcvBufBytes : s.rcvbuf;
      }
      if (level === IPPROTO_TCP && name === TCP_NODELAY) return s.noDelay ? 1 : 0;
      if (level === IPPROTO_TCP && name === TCP_KEEPIDLE) {
        return Math.round((s.keepIdleMs || 7_200_000) / 1000);
      }
      if (level === IPPROTO_TCP && name === TCP_KEEPINTVL) {
        return Math.round((s.keepIntervalMs || 75_000) / 1000);
      }
      if (level === IPPROTO_TCP && name === TCP_KEEPCNT) return s.keepCount || 9;
      throw new StackError("ENOPROTOOPT", `getsockopt: option ${level}/${name}`);
    }
    const ep = entry.ep;
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
    } else if (level === IPPROTO_IP && name === IP_MTU_DISCOVER) {
      return ep.dontFragment ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
    } else if (
      (level === IPPROTO_IP && name === IP_MTU) || (level === IPPROTO_IPV6 && name === IPV6_MTU)
    ) {
      return this.#stack.udp.pathMtu(ep);
    } else if (level === IPPROTO_IPV6 && ep.family === 6) {
      if (name === IPV6_DONTFRAG) return ep.dontFragment ? 1 : 0;
      if (name === IPV6_V6ONLY) return ep.v6only ? 1 : 0;
      if (name === IPV6_UNICAST_HOPS) return ep.ttl || this.#stack.ipv6.defaultHopLimit;
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
    const e = this.#get("poll", fd);
    if (e.kind === "listener") return e.l.wq;
    if (e.kind === "stream") return e.setup.wq;
    return e.ep.wq;
  }

  /** Close every descriptor. */
  closeAll(): void {
    for (let fd = 0; fd < this.#fds.length; fd++) if (this.#fds[fd] !== undefined) this.close(fd);
  }
}
