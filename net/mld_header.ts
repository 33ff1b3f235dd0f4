/**
 * MLD wire formats: the MLDv2 report the stack sends (RFC 3810 §5.2) and the query it answers
 * (MLDv1 RFC 2710 §3, MLDv2 RFC 3810 §5.1), whose multicast-address field says which group is
 * asked about (`::` for a general query).
 *
 * ```text
 * MLDv2 report: | 143 | 0 | checksum | reserved(2) | number of records(2) | records…
 * record:       | type | aux len | number of sources(2) | multicast address(16) | sources…
 * ```
 *
 * @module
 */

import { type IpAddr, type IpAddressScratch, writeIp6 } from "./ip_address.ts";
import { ICMPV6_MLDV2_REPORT, writeIcmpv6Header } from "./icmpv6_header.ts";

/** Bytes of the report before its records. */
export const MLDV2_REPORT_HEADER_BYTES = 8;
/** Bytes of a record with no sources and no auxiliary data. */
export const MLDV2_RECORD_BYTES = 20;
/** Smallest query (MLDv1 layout, RFC 2710 §3). */
export const MLD_QUERY_MIN_BYTES = 24;
/** Smallest MLDv2 query (RFC 3810 §5.1). */
export const MLDV2_QUERY_MIN_BYTES = 28;
/** Offset of the multicast address in a query. */
export const MLD_QUERY_GROUP_OFFSET = 8;

/** Record type MODE_IS_EXCLUDE: the answer to a query for a joined group (no sources). */
export const MLDV2_MODE_IS_EXCLUDE = 2;
/** Record type CHANGE_TO_INCLUDE_MODE with no sources: leaving a group. */
export const MLDV2_CHANGE_TO_INCLUDE = 3;
/** Record type CHANGE_TO_EXCLUDE_MODE with no sources: joining a group. */
export const MLDV2_CHANGE_TO_EXCLUDE = 4;

/**
 * Write an MLDv2 report with one source-less record of `recordType` per group in `groups` at
 * `buf[off..]`; returns its length. The checksum is left zero.
 *
 * @example
 * ```ts
 * writeMldv2Report(buf, o, MLDV2_CHANGE_TO_EXCLUDE, [IpAddress.parse("ff02::1:ff00:2")]);
 * ```
 */
export function writeMldv2Report(
  buf: Uint8Array,
  off: number,
  recordType: number,
  groups: readonly IpAddr[],
): number {
  writeIcmpv6Header(buf, off, ICMPV6_MLDV2_REPORT, 0, groups.length & 0xffff);
  let at = off + MLDV2_REPORT_HEADER_BYTES;
  for (const g of groups) {
    buf[at] = recordType;
    buf[at + 1] = 0;
    buf[at + 2] = 0;
    buf[at + 3] = 0;
    writeIp6(buf, at + 4, g);
    at += MLDV2_RECORD_BYTES;
  }
  return at - off;
}

/**
 * The multicast address a query at `buf[off..]` asks about, loaded into `out` (`::` for a
 * general query).
 *
 * @example
 * ```ts
 * const g = mldQueryGroup(buf, off, new IpAddressScratch());
 * ```
 */
export function mldQueryGroup(
  buf: Uint8Array,
  off: number,
  out: IpAddressScratch,
): IpAddressScratch {
  return out.setFrom6(buf, off + MLD_QUERY_GROUP_OFFSET);
}

/**
 * The maximum response delay of a query in ms: MLDv1's plain 16-bit value (RFC 2710 §3.4), or
 * MLDv2's Maximum Response Code with its floating-point form for codes ≥ 32768
 * (RFC 3810 §5.1.3).
 *
 * @example
 * ```ts
 * mldMaxResponseMs(buf, off, len);
 * ```
 */
export function mldMaxResponseMs(buf: Uint8Array, off: number, len: number): number {
  const code = (buf[off + 4] << 8) | buf[off + 5];
  if (len < MLDV2_QUERY_MIN_BYTES || code < 0x8000) return code;
  const exp = (code >>> 12) & 0x7;
  const mant = code & 0x0fff;
  return (mant | 0x1000) << (exp + 3);
}
