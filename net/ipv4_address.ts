/**
 * IPv4 addresses as unsigned 32-bit numbers (`>>> 0`, network order: 198.18.0.1 is
 * 0xc6120001): parsing, formatting, prefixes and the classifications the receive path needs.
 *
 * @module
 */

/** 0.0.0.0, the unspecified address. */
export const IPV4_ANY = 0;
/** 255.255.255.255, the limited broadcast address. */
export const IPV4_BROADCAST = 0xffffffff;

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Parse a dotted quad (`"198.18.0.1"`) strictly: four decimal octets 0..255 without leading
 * zeros (which some parsers read as octal). Configuration-time API: throws a `TypeError` whose
 * message starts with `ERR_INVALID_IPV4` on bad input.
 *
 * @example
 * ```ts
 * parseIpv4("198.18.0.1"); // 0xc6120001
 * ```
 */
export function parseIpv4(s: string): number {
  const parts = typeof s === "string" ? s.split(".") : [];
  let a = 0;
  if (parts.length === 4) {
    for (const p of parts) {
      const v = OCTET.test(p) ? Number(p) : 256;
      if (v > 255) {
        a = -1;
        break;
      }
      a = a * 256 + v;
    }
    if (a >= 0) return a;
  }
  throw new TypeError(`ERR_INVALID_IPV4: not an IPv4 address: ${JSON.stringify(s)}`);
}

/**
 * Format an address as a dotted quad.
 *
 * @example
 * ```ts
 * formatIpv4(0xc6120001); // "198.18.0.1"
 * ```
 */
export function formatIpv4(a: number): string {
  return `${(a >>> 24) & 0xff}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/**
 * Parse `"198.18.0.2/24"` into the address (host bits kept) and the prefix length. Throws a
 * `TypeError` whose message starts with `ERR_INVALID_CIDR` on bad input.
 *
 * @example
 * ```ts
 * parseIpv4Cidr("198.18.0.2/24"); // { addr: 0xc6120002, prefixLen: 24 }
 * ```
 */
export function parseIpv4Cidr(s: string): { addr: number; prefixLen: number } {
  const slash = typeof s === "string" ? s.indexOf("/") : -1;
  const lenText = slash < 0 ? "" : s.slice(slash + 1);
  if (slash > 0 && /^(0|[1-9][0-9]?)$/.test(lenText) && Number(lenText) <= 32) {
    try {
      return { addr: parseIpv4(s.slice(0, slash)), prefixLen: Number(lenText) };
    } catch {
      // fall through to the CIDR error
    }
  }
  throw new TypeError(`ERR_INVALID_CIDR: not an IPv4 prefix: ${JSON.stringify(s)}`);
}

/**
 * The netmask of a prefix length 0..32 (clamped), e.g. 24 → 0xffffff00.
 *
 * @example
 * ```ts
 * prefixMask(24); // 0xffffff00
 * ```
 */
export function prefixMask(len: number): number {
  if (len <= 0) return 0;
  if (len >= 32) return 0xffffffff;
  return (0xffffffff << (32 - len)) >>> 0;
}

/**
 * True when `a` lies in `net/len`.
 *
 * @example
 * ```ts
 * isInSubnet(parseIpv4("198.18.0.7"), parseIpv4("198.18.0.0"), 24); // true
 * ```
 */
export function isInSubnet(a: number, net: number, len: number): boolean {
  return ((a ^ net) & prefixMask(len)) === 0;
}

/**
 * True for 224.0.0.0/4 (RFC 5771).
 *
 * @example
 * ```ts
 * isIpv4Multicast(parseIpv4("224.0.0.1")); // true
 * ```
 */
export function isIpv4Multicast(a: number): boolean {
  return a >>> 28 === 0xe;
}

/**
 * True for 127.0.0.0/8 (RFC 1122 §3.2.1.3 (g)).
 *
 * @example
 * ```ts
 * isIpv4Loopback(parseIpv4("127.0.0.1")); // true
 * ```
 */
export function isIpv4Loopback(a: number): boolean {
  return a >>> 24 === 127;
}

/**
 * True for 255.255.255.255 (RFC 919, RFC 1122 §3.2.1.3 (c)).
 *
 * @example
 * ```ts
 * isIpv4LimitedBroadcast(0xffffffff); // true
 * ```
 */
export function isIpv4LimitedBroadcast(a: number): boolean {
  return a >>> 0 === 0xffffffff;
}

/**
 * True for 169.254.0.0/16 (RFC 3927).
 *
 * @example
 * ```ts
 * isIpv4LinkLocal(parseIpv4("169.254.1.1")); // true
 * ```
 */
export function isIpv4LinkLocal(a: number): boolean {
  return a >>> 16 === 0xa9fe;
}

/**
 * True when `a` can never be the SOURCE of a datagram arriving on a link (RFC 1122 §3.2.1.3,
 * RFC 1812 §5.3.7): 0.0.0.0/8 ("this network"; 0.0.0.0 itself is legal only while a host
 * configures itself, e.g. a DHCP client — callers serving that case must allow it),
 * 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast) and 240.0.0.0/4 (reserved, which includes
 * 255.255.255.255). Directed broadcasts of attached subnets are also invalid sources, but
 * need the interface configuration: the caller checks those.
 *
 * @example
 * ```ts
 * isIpv4Martian(parseIpv4("127.0.0.1")); // true
 * isIpv4Martian(parseIpv4("198.18.0.1")); // false
 * ```
 */
export function isIpv4Martian(a: number): boolean {
  return isIpv4MartianTop(a >>> 24);
}

/**
 * {@link isIpv4Martian} by the address's first octet `top` (`a >>> 24`): the per-packet
 * check's form, as a small integer crosses a call V8 does not inline without a heap number,
 * while an address ≥ 64.0.0.0 would be boxed (bench/README.md, "box32").
 *
 * @example
 * ```ts
 * isIpv4MartianTop(127); // true
 * isIpv4MartianTop(198); // false
 * ```
 */
export function isIpv4MartianTop(top: number): boolean {
  // 0/8, 127/8, and everything from 224.0.0.0 up (224/4 multicast, 240/4 reserved).
  return top === 0 || top === 127 || top >= 224;
}

/**
 * Read a big-endian address at `buf[off..off + 4)`.
 *
 * @example
 * ```ts
 * readIpv4(new Uint8Array([198, 18, 0, 1]), 0); // 0xc6120001
 * ```
 */
export function readIpv4(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

/**
 * Write `a` big-endian at `buf[off..off + 4)`.
 *
 * @example
 * ```ts
 * writeIpv4(buf, 12, parseIpv4("198.18.0.1"));
 * ```
 */
export function writeIpv4(buf: Uint8Array, off: number, a: number): void {
  buf[off] = a >>> 24;
  buf[off + 1] = a >>> 16;
  buf[off + 2] = a >>> 8;
  buf[off + 3] = a;
}
