/**
 * The stack's counters under the names Linux's `nstat` prints (`/proc/net/snmp` and
 * `/proc/net/netstat`): `IpInReceives`, `TcpActiveOpens`, `TcpExtListenOverflows`,
 * `UdpInDatagrams`, `IcmpInEchos`, `IpExtInTruncatedPkts`, … A counter with no Linux twin
 * keeps its own name behind its group's prefix (`TcpExtInRsts`, `ArpInRequests`,
 * `LinkInFrames`), so every counter has exactly one stable name.
 *
 * @module
 */

import type { Counters } from "../core/counters.ts";

/** TCP counters that Linux keeps in the RFC 1213 `Tcp:` group (the rest are `TcpExt:`). */
const TCP_MIB = new Set([
  "ActiveOpens",
  "PassiveOpens",
  "AttemptFails",
  "EstabResets",
  "CurrEstab",
  "InSegs",
  "OutSegs",
  "RetransSegs",
  "InErrs",
  "OutRsts",
  "InCsumErrors",
]);

/** IPv4 counters Linux keeps in `IpExt:`. */
const IP_EXT = new Set(["InTruncatedPkts", "InCsumErrors", "InNoRoutes"]);

/** Our names whose Linux twin is spelled differently. */
const RENAMED: Record<string, string> = {
  "tcp.TCPDelayedAcks": "TcpExtDelayedACKs",
  "icmp.OutRateLimited": "IcmpOutRateLimitGlobal",
};

/** Group prefixes, by the stack's group names. */
const PREFIX: Record<string, string> = {
  link: "Link",
  arp: "Arp",
  ip: "Ip",
  icmp: "Icmp",
  udp: "Udp",
  tcp: "Tcp",
};

/**
 * The nstat name of counter `name` in group `group`.
 *
 * @example
 * ```ts
 * nstatName("tcp", "ListenOverflows"); // "TcpExtListenOverflows"
 * ```
 */
export function nstatName(group: string, name: string): string {
  const renamed = RENAMED[`${group}.${name}`];
  if (renamed !== undefined) return renamed;
  if (group === "tcp") return TCP_MIB.has(name) ? `Tcp${name}` : `TcpExt${name}`;
  if (group === "ip" && IP_EXT.has(name)) return `IpExt${name}`;
  const prefix = PREFIX[group] ?? group.charAt(0).toUpperCase() + group.slice(1);
  return `${prefix}${name}`;
}

/**
 * Flatten grouped counters (`StackStats.snapshot()`) into nstat names, in group order.
 *
 * @example
 * ```ts
 * nstatCounters({ ip: { InReceives: 3 } }); // { IpInReceives: 3 }
 * ```
 */
export function nstatCounters(groups: Record<string, Counters>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [group, counters] of Object.entries(groups)) {
    for (const [name, value] of Object.entries(counters)) out[nstatName(group, name)] = value;
  }
  return out;
}
