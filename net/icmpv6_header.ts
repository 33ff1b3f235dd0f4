/**
 * The ICMPv6 header (RFC 4443 §2.1): type, code, checksum over the IPv6 pseudo-header and the
 * whole message (§2.3), and a 4-byte field whose meaning depends on the type (echo identifier
 * and sequence, the MTU of packet too big, the parameter-problem pointer, NDP flags).
 *
 * @module
 */

import { foldChecksum, foldSum, onesComplementSum } from "./checksum.ts";
import { WireView } from "../link/wire_view.ts";

/** Bytes of the fixed header. */
export const ICMPV6_HEADER_BYTES = 8;
/** Offset of the checksum. */
export const ICMPV6_CHECKSUM_OFFSET = 2;

/** Type: destination unreachable (RFC 4443 §3.1). */
export const ICMPV6_DEST_UNREACHABLE = 1;
/** Type: packet too big (§3.2). */
export const ICMPV6_PACKET_TOO_BIG = 2;
/** Type: time exceeded (§3.3). */
export const ICMPV6_TIME_EXCEEDED = 3;
/** Type: parameter problem (§3.4). */
export const ICMPV6_PARAMETER_PROBLEM = 4;
/** Type: echo request (§4.1). */
export const ICMPV6_ECHO_REQUEST = 128;
/** Type: echo reply (§4.2). */
export const ICMPV6_ECHO_REPLY = 129;
/** Type: multicast listener query (RFC 2710, RFC 3810 §5.1). */
export const ICMPV6_MLD_QUERY = 130;
/** Type: MLDv1 report (RFC 2710). */
export const ICMPV6_MLDV1_REPORT = 131;
/** Type: MLDv1 done (RFC 2710). */
export const ICMPV6_MLDV1_DONE = 132;
/** Type: router solicitation (RFC 4861 §4.1). */
export const ICMPV6_ROUTER_SOLICIT = 133;
/** Type: router advertisement (RFC 4861 §4.2). */
export const ICMPV6_ROUTER_ADVERT = 134;
/** Type: neighbour solicitation (RFC 4861 §4.3). */
export const ICMPV6_NEIGHBOR_SOLICIT = 135;
/** Type: neighbour advertisement (RFC 4861 §4.4). */
export const ICMPV6_NEIGHBOR_ADVERT = 136;
/** Type: redirect (RFC 4861 §4.5). */
export const ICMPV6_REDIRECT = 137;
/** Type: MLDv2 report (RFC 3810 §5.2). */
export const ICMPV6_MLDV2_REPORT = 143;

/** Destination unreachable code: no route to destination. */
export const ICMPV6_UNREACH_NO_ROUTE = 0;
/** Destination unreachable code: administratively prohibited. */
export const ICMPV6_UNREACH_ADMIN = 1;
/** Destination unreachable code: address unreachable (neighbour resolution failed). */
export const ICMPV6_UNREACH_ADDRESS = 3;
/** Destination unreachable code: port unreachable. */
export const ICMPV6_UNREACH_PORT = 4;
/** Time exceeded code: hop limit exceeded in transit. */
export const ICMPV6_TIME_EXCEEDED_HOP_LIMIT = 0;
/** Time exceeded code: fragment reassembly time exceeded. */
export const ICMPV6_TIME_EXCEEDED_REASSEMBLY = 1;
/** Parameter problem code: erroneous header field. */
export const ICMPV6_PARAMPROB_HEADER = 0;
/** Parameter problem code: unrecognised next header type. */
export const ICMPV6_PARAMPROB_NEXT_HEADER = 1;
/** Parameter problem code: unrecognised IPv6 option. */
export const ICMPV6_PARAMPROB_OPTION = 2;
/** Parameter problem code: first fragment has an incomplete header chain (RFC 7112). */
export const ICMPV6_PARAMPROB_HEADER_CHAIN = 3;

/** Drop reason: fewer than 4 bytes (`Icmp6InErrors`). */
export const ICMPV6_DROP_ERRORS = "InErrors";
/** Drop reason: bad checksum (`Icmp6InCsumErrors`). */
export const ICMPV6_DROP_CSUM_ERRORS = "InCsumErrors";
/** Every reason {@link Icmpv6Header.check} can return (names of `icmp6` counters). */
export type Icmpv6DropReason = typeof ICMPV6_DROP_ERRORS | typeof ICMPV6_DROP_CSUM_ERRORS;

/**
 * A view of an ICMPv6 message at `buf[off..]`, attached with `len` = the whole message.
 *
 * @example
 * ```ts
 * const h = new Icmpv6Header();
 * if (h.attach(buf, off, len).check(pseudo) === null) console.log(h.type);
 * ```
 */
export class Icmpv6Header extends WireView {
  /**
   * Null when the message has the type/code/checksum fields and its checksum, seeded with the
   * IPv6 pseudo-header sum `pseudo` (RFC 4443 §2.3), verifies; else the drop reason.
   */
  check(pseudo: number): Icmpv6DropReason | null {
    if (this.len < 4) return ICMPV6_DROP_ERRORS;
    if (foldSum(onesComplementSum(this.buf, this.off, this.len, pseudo)) !== 0xffff) {
      return ICMPV6_DROP_CSUM_ERRORS;
    }
    return null;
  }

  /** Compute and store the checksum over all `len` bytes seeded with `pseudo`. */
  fillChecksum(pseudo: number): void {
    const b = this.buf;
    const o = this.off + ICMPV6_CHECKSUM_OFFSET;
    b[o] = 0;
    b[o + 1] = 0;
    const c = foldChecksum(onesComplementSum(b, this.off, this.len, pseudo));
    b[o] = c >>> 8;
    b[o + 1] = c;
  }

  /** Message type. */
  get type(): number {
    return this.buf[this.off];
  }

  /** Message code. */
  get code(): number {
    return this.buf[this.off + 1];
  }

  /** The 32-bit field after the checksum (unsigned): MTU, pointer, or NDP flags. */
  get rest(): number {
    const b = this.buf;
    const o = this.off + 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }

  /** Echo identifier. */
  get identifier(): number {
    return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5];
  }

  /** Echo sequence number. */
  get sequence(): number {
    return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7];
  }

  /** True for error messages (types 0..127, RFC 4443 §2.1). */
  isError(): boolean {
    return this.buf[this.off] < 128;
  }
}

/**
 * Write the 8-byte header at `buf[off..]` with a zero checksum (fill it with
 * {@link Icmpv6Header.fillChecksum} once the body is in place). Returns
 * {@link ICMPV6_HEADER_BYTES}.
 *
 * @example
 * ```ts
 * const b = new Uint8Array(16);
 * writeIcmpv6Header(b, 0, ICMPV6_ECHO_REQUEST, 0, (0x1234 << 16) | 1);
 * ```
 */
export function writeIcmpv6Header(
  buf: Uint8Array,
  off: number,
  type: number,
  code: number,
  rest: number,
): number {
  buf[off] = type;
  buf[off + 1] = code;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = rest >>> 24;
  buf[off + 5] = rest >>> 16;
  buf[off + 6] = rest >>> 8;
  buf[off + 7] = rest;
  return ICMPV6_HEADER_BYTES;
}
