/**
 * One address type for both families. An address is four unsigned 32-bit words in network
 * order (`w0` holds bytes 0..3 of the IPv6 address); an IPv4 address is held IPv4-mapped
 * (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so one compare and one hash serve both families and a
 * dual-stack socket sees an IPv4 peer exactly as Linux shows it (`::ffff:198.18.0.1`).
 *
 * {@link IpAddress} is immutable (configuration, socket names, table keys);
 * {@link IpAddressScratch} is a reusable mutable record the receive path fills in place
 * ({@link IpAddressScratch.setFrom6}, {@link IpAddressScratch.setV4}), so no packet allocates an
 * address. Code that only reads takes the {@link IpAddr} interface both implement.
 *
 * Text forms: IPv6 per RFC 4291 §2.2 on input and RFC 5952 on output (lower case, `::` for the
 * longest run of two or more zero groups, the IPv4-mapped form as `::ffff:a.b.c.d`), with an
 * optional zone (`fe80::1%eth0`, RFC 4007 §11); IPv4 as a strict dotted quad.
 *
 * @module
 */

import { formatIpv4, parseIpv4 } from "./ipv4_address.ts";
import { DOUBLE_ZERO } from "../core/v8_shapes.ts";

/** The two address families. */
export type IpFamily = 4 | 6;

/** The word `w2` of an IPv4-mapped address (`::ffff:0:0/96`). */
const V4_MAPPED_W2 = 0xffff;

/** Read-only view of an address; {@link IpAddress} and {@link IpAddressScratch} implement it. */
export interface IpAddr {
  /** 4 for an IPv4(-mapped) address, else 6. */
  readonly family: IpFamily;
  /** Bytes 0..3, big-endian, unsigned. */
  readonly w0: number;
  /** Bytes 4..7. */
  readonly w1: number;
  /** Bytes 8..11 (0xffff for IPv4). */
  readonly w2: number;
  /** Bytes 12..15 (the IPv4 address for IPv4). */
  readonly w3: number;
}

function familyOf(w0: number, w1: number, w2: number): IpFamily {
  return w0 === 0 && w1 === 0 && w2 === V4_MAPPED_W2 ? 4 : 6;
}

function read32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/**
 * An immutable address of either family, with an optional zone (the `%IF` of a scoped address;
 * it is not part of equality).
 *
 * @example
 * ```ts
 * const a = IpAddress.parse("fd00:5::2");
 * a.family; // 6
 * IpAddress.parse("198.18.0.2").toString(); // "198.18.0.2"
 * ipEquals(IpAddress.v4(0xc6120002), IpAddress.parse("::ffff:198.18.0.2")); // true
 * ```
 */
export class IpAddress implements IpAddr {
  /** 4 or 6. */
  declare readonly family: IpFamily;
  /** Bytes 0..3. */
  declare readonly w0: number;
  /** Bytes 4..7. */
  declare readonly w1: number;
  /** Bytes 8..11. */
  declare readonly w2: number;
  /** Bytes 12..15. */
  declare readonly w3: number;
  /** Zone (interface name) of a scoped address, "" when none. */
  declare readonly zone: string;

  /** An address from its four words (each taken as unsigned 32-bit). */
  constructor(w0: number, w1: number, w2: number, w3: number, zone = "") {
    // Fields are declared, not defined, and set here in the scratch class's order. The words
    // are unsigned 32-bit: each is first given a double so that its representation is "double"
    // from the first address made, not "small integer" until the first word above 2^30
    // (core/v8_shapes.ts).
    this.family = familyOf(w0 >>> 0, w1 >>> 0, w2 >>> 0);
    // One statement each, in this order: a chained `a = b = c = 0` adds the last first, and
    // words at other places than the scratch's make every load V8's mid tier (Maglev) compiles
    // for both classes a merge that boxes the word (a new heap number ≥ 2**30 per load).
    this.w0 = DOUBLE_ZERO;
    this.w1 = DOUBLE_ZERO;
    this.w2 = DOUBLE_ZERO;
    this.w3 = DOUBLE_ZERO;
    this.w0 = w0 >>> 0;
    this.w1 = w1 >>> 0;
    this.w2 = w2 >>> 0;
    this.w3 = w3 >>> 0;
    this.zone = zone;
  }

  /** The IPv4 address `a` (unsigned 32-bit, e.g. 0xc6120001), held IPv4-mapped. */
  static v4(a: number): IpAddress {
    return new IpAddress(0, 0, V4_MAPPED_W2, a);
  }

  /** The IPv6 address in `buf[off..off + 16)`. */
  static fromBytes(buf: Uint8Array, off = 0): IpAddress {
    return new IpAddress(
      read32(buf, off),
      read32(buf, off + 4),
      read32(buf, off + 8),
      read32(buf, off + 12),
    );
  }

  /** An immutable copy of any {@link IpAddr} (returns `a` itself when it already is one). */
  static from(a: IpAddr, zone = ""): IpAddress {
    if (a instanceof IpAddress && a.zone === zone) return a;
    return new IpAddress(a.w0, a.w1, a.w2, a.w3, zone);
  }

  /**
   * Parse an IPv4 dotted quad or an IPv6 address (RFC 4291 §2.2, with an optional `%zone`).
   * Configuration-time API: throws a `TypeError` whose message starts with `ERR_INVALID_IP`.
   */
  static parse(s: string): IpAddress {
    const a = tryParseIp(s);
    if (a === null) throw new TypeError(`ERR_INVALID_IP: not an IP address: ${JSON.stringify(s)}`);
    return a;
  }

  /** True for the IPv4 family. */
  get isV4(): boolean {
    return this.family === 4;
  }

  /** The IPv4 address as an unsigned 32-bit number (meaningful when `family` is 4). */
  get v4(): number {
    return this.w3;
  }

  /** The same address with zone `zone`. */
  withZone(zone: string): IpAddress {
    return new IpAddress(this.w0, this.w1, this.w2, this.w3, zone);
  }

  /** RFC 5952 text (dotted quad for IPv4), with `%zone` when there is one. */
  toString(): string {
    return formatIp(this) + (this.zone === "" ? "" : `%${this.zone}`);
  }

  /** The 16 bytes of the (IPv4-mapped) IPv6 form. */
  toBytes(): Uint8Array {
    const b = new Uint8Array(16);
    writeIp6(b, 0, this);
    return b;
  }
}

/**
 * A mutable address record for the data path: one per layer, refilled for every packet.
 *
 * @example
 * ```ts
 * const src = new IpAddressScratch();
 * src.setFrom6(new Uint8Array(16), 0); // "::"
 * src.setV4(0xc6120001);
 * src.family; // 4
 * ```
 */
export class IpAddressScratch implements IpAddr {
  /** 4 or 6. */
  family: IpFamily = 6;
  // The words are unsigned 32-bit: doubles from the first scratch made (core/v8_shapes.ts).
  /** Bytes 0..3. */
  w0: number = DOUBLE_ZERO;
  /** Bytes 4..7. */
  w1: number = DOUBLE_ZERO;
  /** Bytes 8..11. */
  w2: number = DOUBLE_ZERO;
  /** Bytes 12..15. */
  w3: number = DOUBLE_ZERO;

  /** Load the 16-byte IPv6 address at `buf[off..]`; returns `this`. */
  setFrom6(buf: Uint8Array, off: number): this {
    // Each word read here, not through `read32`, and the family tested here, not by
    // `familyOf`: a word ≥ 2**30 (fd00::/8's first) returned by or passed to a call V8 does
    // not inline is a new heap number, on every IPv6 packet (bench/README.md, "box32").
    const b = buf;
    const w0 = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
    const w1 = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
    const w2 = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
    this.w0 = w0;
    this.w1 = w1;
    this.w2 = w2;
    this.w3 = ((b[off + 12] << 24) | (b[off + 13] << 16) | (b[off + 14] << 8) | b[off + 15]) >>>
      0;
    this.family = w0 === 0 && w1 === 0 && w2 === V4_MAPPED_W2 ? 4 : 6;
    return this;
  }

  /** Load the IPv4 address `a` (unsigned 32-bit); returns `this`. */
  setV4(a: number): this {
    this.w0 = 0;
    this.w1 = 0;
    this.w2 = V4_MAPPED_W2;
    this.w3 = a >>> 0;
    this.family = 4;
    return this;
  }

  /**
   * Load the IPv4 address stored big-endian at `buf[off..off + 4)`; returns `this`. Read in
   * place: the word never crosses a call as a number (≥ 2**30 it would be boxed).
   */
  setV4At(buf: Uint8Array, off: number): this {
    this.w0 = 0;
    this.w1 = 0;
    this.w2 = V4_MAPPED_W2;
    // Read here, not through `read32`: its uint32 return is a heap number whenever V8 does
    // not inline it, and every received IPv4 packet comes here twice (bench/README.md, "box32").
    this.w3 = ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
    this.family = 4;
    return this;
  }

  /** Copy `a`; returns `this`. */
  set(a: IpAddr): this {
    this.w0 = a.w0;
    this.w1 = a.w1;
    this.w2 = a.w2;
    this.w3 = a.w3;
    this.family = a.family;
    return this;
  }

  /** Load four words; returns `this`. */
  setWords(w0: number, w1: number, w2: number, w3: number): this {
    this.w0 = w0 >>> 0;
    this.w1 = w1 >>> 0;
    this.w2 = w2 >>> 0;
    this.w3 = w3 >>> 0;
    this.family = familyOf(this.w0, this.w1, this.w2);
    return this;
  }

  /** An immutable copy (allocates: for keys and names that outlive the packet). */
  freeze(): IpAddress {
    return new IpAddress(this.w0, this.w1, this.w2, this.w3);
  }

  /** RFC 5952 text. */
  toString(): string {
    return formatIp(this);
  }
}

/**
 * True when `a` and `b` are the same address (zones are not compared).
 *
 * @example
 * ```ts
 * ipEquals(IpAddress.parse("fd00::1"), IpAddress.parse("fd00:0::1")); // true
 * ```
 */
export function ipEquals(a: IpAddr, b: IpAddr): boolean {
  return a.w3 === b.w3 && a.w2 === b.w2 && a.w1 === b.w1 && a.w0 === b.w0;
}

/**
 * True when the 16 bytes at `buf[off..]` hold the address `a`.
 *
 * @example
 * ```ts
 * ipEqualsBytes(IpAddress.parse("::1"), IpAddress.parse("::1").toBytes(), 0); // true
 * ```
 */
export function ipEqualsBytes(a: IpAddr, buf: Uint8Array, off: number): boolean {
  return read32(buf, off + 12) === a.w3 && read32(buf, off + 8) === a.w2 &&
    read32(buf, off + 4) === a.w1 && read32(buf, off) === a.w0;
}

/**
 * Write the 16-byte (IPv4-mapped for IPv4) form of `a` at `buf[off..]`.
 *
 * @example
 * ```ts
 * const b = new Uint8Array(40);
 * writeIp6(b, 8, IpAddress.parse("fd00::1"));
 * ```
 */
export function writeIp6(buf: Uint8Array, off: number, a: IpAddr): void {
  // Each word written here, not passed to a helper: a word ≥ 2**30 (fd00::/8's first) passed
  // to a call V8 does not inline is a new heap number, twice per IPv6 packet ("box32").
  let w = a.w0;
  buf[off] = w >>> 24;
  buf[off + 1] = w >>> 16;
  buf[off + 2] = w >>> 8;
  buf[off + 3] = w;
  w = a.w1;
  buf[off + 4] = w >>> 24;
  buf[off + 5] = w >>> 16;
  buf[off + 6] = w >>> 8;
  buf[off + 7] = w;
  w = a.w2;
  buf[off + 8] = w >>> 24;
  buf[off + 9] = w >>> 16;
  buf[off + 10] = w >>> 8;
  buf[off + 11] = w;
  w = a.w3;
  buf[off + 12] = w >>> 24;
  buf[off + 13] = w >>> 16;
  buf[off + 14] = w >>> 8;
  buf[off + 15] = w;
}

/**
 * True when `a` is `::` (or `0.0.0.0` for IPv4).
 *
 * @example
 * ```ts
 * isUnspecified(IpAddress.parse("::")); // true
 * isUnspecified(IpAddress.parse("0.0.0.0")); // true
 * ```
 */
export function isUnspecified(a: IpAddr): boolean {
  return a.w3 === 0 && (a.family === 4 || (a.w0 === 0 && a.w1 === 0 && a.w2 === 0));
}

/**
 * True for IPv6 multicast (ff00::/8, RFC 4291 §2.7) and IPv4 multicast (224.0.0.0/4).
 *
 * @example
 * ```ts
 * isMulticast(IpAddress.parse("ff02::1")); // true
 * ```
 */
export function isMulticast(a: IpAddr): boolean {
  return a.family === 4 ? a.w3 >>> 28 === 0xe : a.w0 >>> 24 === 0xff;
}

/**
 * True for IPv6 link-local unicast (fe80::/10, RFC 4291 §2.5.6) and IPv4 169.254.0.0/16.
 *
 * @example
 * ```ts
 * isLinkLocal(IpAddress.parse("fe80::1")); // true
 * ```
 */
export function isLinkLocal(a: IpAddr): boolean {
  // Both families' tests run whatever the family: a stack that met only IPv4 addresses before
  // its first IPv6 one (a server's warm-up) had no type feedback for the IPv6 test, and V8
  // threw the code away there (bench/README.md, "conn9q").
  const v4 = a.w3 >>> 16 === 0xa9fe;
  const v6 = a.w0 >>> 22 === 0x3fa;
  return a.family === 4 ? v4 : v6;
}

/**
 * True for `::1` and 127.0.0.0/8.
 *
 * @example
 * ```ts
 * isLoopback(IpAddress.parse("::1")); // true
 * ```
 */
export function isLoopback(a: IpAddr): boolean {
  if (a.family === 4) return a.w3 >>> 24 === 127;
  return a.w0 === 0 && a.w1 === 0 && a.w2 === 0 && a.w3 === 1;
}

/** The mask of word `i` (0..3) of a 128-bit prefix of `len128` bits. */
function wordMask(len128: number, i: number): number {
  const bits = len128 - 32 * i;
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * The prefix length in 128-bit terms: an IPv4 prefix /n of an IPv4-mapped address is /(96 + n).
 *
 * @example
 * ```ts
 * prefixLen128(4, 24); // 120
 * ```
 */
export function prefixLen128(family: IpFamily, prefixLen: number): number {
  return family === 4 ? 96 + prefixLen : prefixLen;
}

/**
 * True when `a` lies in the prefix `net`/`prefixLen` (the length in `net`'s family: 0..32 for
 * IPv4, 0..128 for IPv6). Addresses of different families never match.
 *
 * @example
 * ```ts
 * inPrefix(IpAddress.parse("fd00:5::9"), IpAddress.parse("fd00:5::"), 64); // true
 * ```
 */
export function inPrefix(a: IpAddr, net: IpAddr, prefixLen: number): boolean {
  if (a.family !== net.family) return false;
  const len = prefixLen128(net.family, prefixLen);
  return ((a.w0 ^ net.w0) & wordMask(len, 0)) === 0 &&
    ((a.w1 ^ net.w1) & wordMask(len, 1)) === 0 &&
    ((a.w2 ^ net.w2) & wordMask(len, 2)) === 0 &&
    ((a.w3 ^ net.w3) & wordMask(len, 3)) === 0;
}

/**
 * `a` with every bit past `prefixLen` (in `a`'s family) cleared: the network address.
 *
 * @example
 * ```ts
 * prefixOf(IpAddress.parse("fd00:5::2"), 64).toString(); // "fd00:5::"
 * ```
 */
export function prefixOf(a: IpAddr, prefixLen: number): IpAddress {
  const len = prefixLen128(a.family, prefixLen);
  return new IpAddress(
    a.w0 & wordMask(len, 0),
    a.w1 & wordMask(len, 1),
    a.w2 & wordMask(len, 2),
    a.w3 & wordMask(len, 3),
  );
}

/**
 * Format `a` as text: a dotted quad for IPv4 (`::ffff:a.b.c.d` with `mapped`, as an AF_INET6
 * socket shows an IPv4 peer), RFC 5952 for IPv6.
 *
 * @example
 * ```ts
 * formatIp(IpAddress.parse("FD00:0:0:0:0:0:0:0001")); // "fd00::1"
 * formatIp(IpAddress.parse("198.18.0.1"), true); // "::ffff:198.18.0.1"
 * ```
 */
export function formatIp(a: IpAddr, mapped = false): string {
  if (a.family === 4) return (mapped ? "::ffff:" : "") + formatIpv4(a.w3);
  const g = [
    a.w0 >>> 16,
    a.w0 & 0xffff,
    a.w1 >>> 16,
    a.w1 & 0xffff,
    a.w2 >>> 16,
    a.w2 & 0xffff,
    a.w3 >>> 16,
    a.w3 & 0xffff,
  ];
  // RFC 5952 §4.2: "::" replaces the longest run of two or more zero groups, the first one
  // when runs tie; a single zero group is written "0".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parse the groups of one side of `::`; null on bad input. */
function parseGroups(s: string, allowV4Tail: boolean): number[] | null {
  if (s === "") return [];
  const parts = s.split(":");
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (allowV4Tail && i === parts.length - 1 && p.includes(".")) {
      let v4: number;
      try {
        v4 = parseIpv4(p);
      } catch {
        return null;
      }
      out.push(v4 >>> 16, v4 & 0xffff);
    } else if (HEX_GROUP.test(p)) out.push(parseInt(p, 16));
    else return null;
  }
  return out;
}

/** Parse IPv6 text without a zone into 8 groups; null on bad input. */
function parseIpv6Groups(s: string): number[] | null {
  const dc = s.indexOf("::");
  if (dc < 0) {
    const g = parseGroups(s, true);
    return g !== null && g.length === 8 ? g : null;
  }
  if (s.indexOf("::", dc + 1) >= 0) return null;
  const head = parseGroups(s.slice(0, dc), false);
  const tail = parseGroups(s.slice(dc + 2), true);
  // "::" stands for at least one zero group (RFC 4291 §2.2 (2); RFC 5952 §4.2.2 asks writers
  // not to use it for exactly one, but readers accept it).
  if (head === null || tail === null || head.length + tail.length > 7) return null;
  return [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
}

const ZONE = /^[A-Za-z0-9_.\-]{1,15}$/;

/**
 * Parse either family; null instead of throwing.
 *
 * @example
 * ```ts
 * tryParseIp("fe80::1%veth0")?.zone; // "veth0"
 * tryParseIp("fd00::/64"); // null
 * ```
 */
export function tryParseIp(s: string): IpAddress | null {
  if (typeof s !== "string" || s.length === 0 || s.length > 64) return null;
  if (!s.includes(":")) {
    try {
      return IpAddress.v4(parseIpv4(s));
    } catch {
      return null;
    }
  }
  let zone = "";
  const pct = s.indexOf("%");
  if (pct >= 0) {
    zone = s.slice(pct + 1);
    if (!ZONE.test(zone)) return null;
    s = s.slice(0, pct);
  }
  const g = parseIpv6Groups(s);
  if (g === null) return null;
  return new IpAddress(
    (g[0] << 16) | g[1],
    (g[2] << 16) | g[3],
    (g[4] << 16) | g[5],
    (g[6] << 16) | g[7],
    zone,
  );
}

/** An address with its prefix length (in the address's family). */
export interface IpCidr {
  /** The address (host bits kept). */
  addr: IpAddress;
  /** Prefix length: 0..32 for IPv4, 0..128 for IPv6. */
  prefixLen: number;
}

/**
 * Parse `"198.18.0.2/24"` or `"fd00:5::2/64"`. Throws a `TypeError` whose message starts with
 * `ERR_INVALID_CIDR` on bad input (a zone is not allowed here).
 *
 * @example
 * ```ts
 * parseIpCidr("fd00:5::2/64").prefixLen; // 64
 * ```
 */
export function parseIpCidr(s: string): IpCidr {
  const slash = typeof s === "string" ? s.indexOf("/") : -1;
  const lenText = slash < 0 ? "" : s.slice(slash + 1);
  if (slash > 0 && /^(0|[1-9][0-9]{0,2})$/.test(lenText)) {
    const addr = tryParseIp(s.slice(0, slash));
    const prefixLen = Number(lenText);
    if (addr !== null && addr.zone === "" && prefixLen <= (addr.family === 4 ? 32 : 128)) {
      return { addr, prefixLen };
    }
  }
  throw new TypeError(`ERR_INVALID_CIDR: not an IP prefix: ${JSON.stringify(s)}`);
}
