/**
 * The socket API's numbers: address families, socket types, option levels and names (Linux's
 * values, so code written against the C API reads the same), poll bits, and the errno numbers
 * `SO_ERROR` reports.
 *
 * @module
 */

import { EV_ERROR, EV_HANGUP, EV_READABLE, EV_WRITABLE } from "../core/event_mux.ts";

/** Address family IPv4. */
export const AF_INET = 2;
/** Address family IPv6 (Linux's value). */
export const AF_INET6 = 10;
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
/** SO_KEEPALIVE. */
export const SO_KEEPALIVE = 9;
/** SO_LINGER (value: linger seconds, or -1 for off; 0 makes close() send a RST). */
export const SO_LINGER = 13;
/** TCP-level options. */
export const IPPROTO_TCP = 6;
/** TCP_NODELAY. */
export const TCP_NODELAY = 1;
/** TCP_KEEPIDLE (seconds). */
export const TCP_KEEPIDLE = 4;
/** TCP_KEEPINTVL (seconds). */
export const TCP_KEEPINTVL = 5;
/** TCP_KEEPCNT. */
export const TCP_KEEPCNT = 6;
/** TCP_INFO (read with {@link SocketTable.tcpInfo}). */
export const TCP_INFO = 11;
/** TCP_CORK. */
export const TCP_CORK = 3;
/**
 * TCP_CONGESTION: the congestion control algorithm, a string ("cubic", "bbr", "newreno" or
 * Linux's "reno"); set with `SocketTable.setsockopt`, read with `SocketTable.getsockopt`,
 * both taking and giving the name.
 */
export const TCP_CONGESTION = 13;
/** shutdown(): no more receives. */
export const SHUT_RD = 0;
/** shutdown(): no more sends (FIN). */
export const SHUT_WR = 1;
/** shutdown(): both. */
export const SHUT_RDWR = 2;
/** IP-level options. */
export const IPPROTO_IP = 0;
/** IP_TTL. */
export const IP_TTL = 2;
/**
 * IP_MTU_DISCOVER (UDP): {@link IP_PMTUDISC_DO} or {@link IP_PMTUDISC_PROBE} sends with DF
 * set and refuses datagrams over the path MTU (EMSGSIZE); {@link IP_PMTUDISC_DONT} and
 * {@link IP_PMTUDISC_WANT} let them be fragmented [DONT].
 */
export const IP_MTU_DISCOVER = 10;
/** IP_MTU (read-only): the path MTU towards a connected socket's peer. */
export const IP_MTU = 14;
/** IP_MTU_DISCOVER value: never set DF. */
export const IP_PMTUDISC_DONT = 0;
/** IP_MTU_DISCOVER value: Linux's default (here treated as DONT: datagrams may be fragmented). */
export const IP_PMTUDISC_WANT = 1;
/** IP_MTU_DISCOVER value: always set DF. */
export const IP_PMTUDISC_DO = 2;
/** IP_MTU_DISCOVER value: set DF (Linux also ignores the path MTU; here as DO). */
export const IP_PMTUDISC_PROBE = 3;
/** IPv6-level options. */
export const IPPROTO_IPV6 = 41;
/** IPV6_UNICAST_HOPS (the hop limit of unicast datagrams). */
export const IPV6_UNICAST_HOPS = 16;
/** IPV6_V6ONLY: an AF_INET6 socket bound to `::` gets no IPv4 (set before bind). */
export const IPV6_V6ONLY = 26;
/** IPV6_MTU (read-only here): the path MTU towards a connected socket's peer. */
export const IPV6_MTU = 24;
/** IPV6_DONTFRAG (UDP): no fragmentation at the source; over the path MTU is EMSGSIZE. */
export const IPV6_DONTFRAG = 62;
/** Readable (same value as poll's POLLIN). */
export const POLLIN: number = EV_READABLE;
/** Writable. */
export const POLLOUT: number = EV_WRITABLE;
/** Error pending. */
export const POLLERR: number = EV_ERROR;
/** Hung up / closed. */
export const POLLHUP: number = EV_HANGUP;

/** errno numbers for SO_ERROR (Linux x86-64). */
export const ERRNO_NUMBERS: Record<string, number> = {
  ECONNREFUSED: 111,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ECONNABORTED: 103,
  EHOSTUNREACH: 113,
  ENETUNREACH: 101,
  EMSGSIZE: 90,
  EPIPE: 32,
};
