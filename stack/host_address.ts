/**
 * Host addresses as the application layer sees them (HTTP URLs, node-style sockets, the
 * control socket): the one place where host text is classified, parsed, resolved through a
 * `hosts` map and formatted, for both families (IPv6 hosts as `fd00::1`, `[fd00::1]` in URLs,
 * `fe80::1%us0` with a zone).
 *
 * Names are never sent to DNS: a name resolves only through a `hosts` map the caller gives.
 *
 * @module
 */

import { IpAddress, tryParseIp } from "../net/ip_address.ts";
import { parseIpv4 } from "../net/ipv4_address.ts";
import { StackError } from "../core/errors.ts";

/** Address families as `node:net` spells them. */
export type AddressFamily = "IPv4" | "IPv6";

/** A parsed host address. */
export interface HostAddress {
  /** The family the stack carries it over ("IPv4" for an IPv4-mapped IPv6 text too). */
  family: AddressFamily;
  /** The address, with its zone when the text named one. */
  addr: IpAddress;
}

/** Names to addresses, for hosts that are not written as literal addresses. */
export type HostsMap = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

const IPV4_TEXT = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * True if `text` is a dotted-quad IPv4 address (`node:net` `isIPv4`).
 *
 * @example
 * ```ts
 * isIPv4("198.18.0.1"); // true
 * ```
 */
export function isIPv4(text: string): boolean {
  return IPV4_TEXT.test(text);
}

/**
 * True if `text` is an IPv6 address in RFC 4291 §2.2 text form (`node:net` `isIPv6`), with an
 * optional zone (`%eth0`) and an optional trailing dotted quad.
 *
 * @example
 * ```ts
 * isIPv6("fd00::1"); // true
 * ```
 */
export function isIPv6(text: string): boolean {
  const pct = text.indexOf("%");
  const s = pct >= 0 ? text.slice(0, pct) : text;
  if (pct >= 0 && pct === text.length - 1) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  let groups = 0;
  for (let h = 0; h < halves.length; h++) {
    if (halves[h] === "") continue;
    const parts = halves[h].split(":");
    for (let i = 0; i < parts.length; i++) {
      const last = h === halves.length - 1 && i === parts.length - 1;
      if (last && isIPv4(parts[i])) groups += 2;
      else if (HEX_GROUP.test(parts[i])) groups++;
      else return false;
    }
  }
  return halves.length === 2 ? groups <= 7 : groups === 8;
}

/**
 * 4 for IPv4 text, 6 for IPv6 text, 0 otherwise (`node:net` `isIP`).
 *
 * @example
 * ```ts
 * isIP("198.18.0.1"); // 4
 * ```
 */
export function isIP(text: string): 0 | 4 | 6 {
  return isIPv4(text) ? 4 : isIPv6(text) ? 6 : 0;
}

/**
 * Parse a literal address of either family (IPv6 optionally in URL brackets); null if `text`
 * is not one.
 *
 * @example
 * ```ts
 * parseHostAddress("198.18.0.1")?.addr.toString(); // "198.18.0.1"
 * parseHostAddress("[fd00::1]")?.family; // "IPv6"
 * ```
 */
export function parseHostAddress(text: string): HostAddress | null {
  if (isIPv4(text)) return { family: "IPv4", addr: IpAddress.v4(parseIpv4(text)) };
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!isIPv6(bare)) return null;
  const addr = tryParseIp(bare);
  if (addr === null) return null;
  return { family: addr.family === 4 ? "IPv4" : "IPv6", addr };
}

/**
 * Format an address for display and for `remoteAddress`-style fields (RFC 5952 for IPv6,
 * with its `%zone`).
 *
 * @example
 * ```ts
 * formatHostAddress(parseHostAddress("198.18.0.1")!); // "198.18.0.1"
 * ```
 */
export function formatHostAddress(a: HostAddress): string {
  return a.addr.toString();
}

/**
 * The family of an address as text (`"IPv6"` when it has a colon), for node-style
 * `family` fields.
 *
 * @example
 * ```ts
 * hostFamily("fd00::1"); // "IPv6"
 * ```
 */
export function hostFamily(text: string): AddressFamily {
  return text.includes(":") ? "IPv6" : "IPv4";
}

/**
 * `host:port` for display; IPv6 hosts are bracketed (`[fd00::1]:80`).
 *
 * @example
 * ```ts
 * formatHostPort("198.18.0.1", 80); // "198.18.0.1:80"
 * ```
 */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Look `name` up in a hosts map (case-insensitive, as host names are). */
function lookupHosts(hosts: HostsMap | undefined, name: string): string | undefined {
  if (hosts === undefined) return undefined;
  const key = name.toLowerCase();
  if (hosts instanceof Map) return hosts.get(key) ?? hosts.get(name);
  const rec = hosts as Readonly<Record<string, string>>;
  return Object.hasOwn(rec, key) ? rec[key] : Object.hasOwn(rec, name) ? rec[name] : undefined;
}

/**
 * Resolve a host (a literal address of either family, or a name found in `hosts`) to an
 * address. Throws a {@link StackError}: EINVAL naming the host when it is neither an address
 * nor in the map (the node-style sockets report that as `ENOTFOUND`).
 * `""` and `"localhost"` are not special: the stack has no loopback address of its own unless
 * it was given one.
 *
 * @example
 * ```ts
 * resolveHost("api", { api: "fd00::1" }).family; // "IPv6"
 * ```
 */
export function resolveHost(host: string, hosts?: HostsMap): HostAddress {
  const literal = parseHostAddress(host);
  if (literal !== null) return literal;
  const mapped = lookupHosts(hosts, host);
  if (mapped !== undefined) {
    const a = parseHostAddress(mapped);
    if (a !== null) return a;
    throw new StackError("EINVAL", `hosts: ${host} maps to ${mapped}, which is not an address`);
  }
  throw new StackError(
    "EINVAL",
    `${host}: not an IP address and not in the hosts map (names are not resolved by DNS)`,
  );
}
