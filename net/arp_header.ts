/**
 * ARP for IPv4 over Ethernet (RFC 826): a reusable packet view and a writer.
 *
 * ```text
 *  0: hardware type (1)      2: protocol type (0x0800)   4: hlen (6)   5: plen (4)
 *  6: operation (1 request, 2 reply)
 *  8: sender hardware address (6)   14: sender protocol address (4)
 * 18: target hardware address (6)   24: target protocol address (4)
 * ```
 *
 * @module
 */

import { readIpv4, writeIpv4 } from "./ipv4_address.ts";
import { copyMac } from "../link/ethernet.ts";
import { WireView } from "../link/wire_view.ts";

/** Bytes of an Ethernet/IPv4 ARP packet (the frame is padded to 60 bytes after it). */
export const ARP_HEADER_BYTES = 28;
/** Offset of the hardware type. */
export const ARP_HTYPE_OFFSET = 0;
/** Offset of the protocol type. */
export const ARP_PTYPE_OFFSET = 2;
/** Offset of the hardware address length. */
export const ARP_HLEN_OFFSET = 4;
/** Offset of the protocol address length. */
export const ARP_PLEN_OFFSET = 5;
/** Offset of the operation. */
export const ARP_OPER_OFFSET = 6;
/** Offset of the sender hardware address. */
export const ARP_SHA_OFFSET = 8;
/** Offset of the sender protocol address. */
export const ARP_SPA_OFFSET = 14;
/** Offset of the target hardware address. */
export const ARP_THA_OFFSET = 18;
/** Offset of the target protocol address. */
export const ARP_TPA_OFFSET = 24;

/** Hardware type of Ethernet (RFC 826 `ares_hrd$Ethernet`). */
export const ARP_HTYPE_ETHERNET = 1;
/** Protocol type of IPv4 (its EtherType). */
export const ARP_PTYPE_IPV4 = 0x0800;
/** Operation: request (RFC 826 `ares_op$REQUEST`). */
export const ARP_REQUEST = 1;
/** Operation: reply (RFC 826 `ares_op$REPLY`). */
export const ARP_REPLY = 2;

/**
 * Drop reason for every malformed ARP packet: too short, not Ethernet/IPv4, or an operation
 * other than request/reply (the `arp` counter `InErrors`).
 */
export const ARP_DROP_ERRORS = "InErrors";
/** Every reason {@link ArpHeader.check} can return. */
export type ArpDropReason = typeof ARP_DROP_ERRORS;

/**
 * A view of an ARP packet at `buf[off..]`. One object is reused for every packet.
 *
 * @example
 * ```ts
 * const arp = new ArpHeader();
 * if (arp.attach(frame, 14, frame.length - 14).check() === null && arp.oper === ARP_REQUEST) {
 *   answer(arp.spa, arp.tpa, arp.shaOffset);
 * }
 * ```
 */
export class ArpHeader extends WireView {
  /**
   * Null for a well-formed Ethernet/IPv4 request or reply (RFC 826: htype 1, ptype 0x0800,
   * hlen 6, plen 4, op 1 or 2, at least 28 bytes), else {@link ARP_DROP_ERRORS}.
   */
  check(): ArpDropReason | null {
    if (this.len < ARP_HEADER_BYTES) return ARP_DROP_ERRORS;
    const b = this.buf;
    const o = this.off;
    if (
      b[o] !== 0 || b[o + 1] !== ARP_HTYPE_ETHERNET || b[o + 2] !== 0x08 || b[o + 3] !== 0x00 ||
      b[o + ARP_HLEN_OFFSET] !== 6 || b[o + ARP_PLEN_OFFSET] !== 4 || b[o + ARP_OPER_OFFSET] !== 0
    ) {
      return ARP_DROP_ERRORS;
    }
    const op = b[o + ARP_OPER_OFFSET + 1];
    return op === ARP_REQUEST || op === ARP_REPLY ? null : ARP_DROP_ERRORS;
  }

  /** Hardware type. */
  get htype(): number {
    return this.get16(ARP_HTYPE_OFFSET);
  }
  set htype(v: number) {
    this.set16(ARP_HTYPE_OFFSET, v);
  }

  /** Protocol type. */
  get ptype(): number {
    return this.get16(ARP_PTYPE_OFFSET);
  }
  set ptype(v: number) {
    this.set16(ARP_PTYPE_OFFSET, v);
  }

  /** Hardware address length. */
  get hlen(): number {
    return this.buf[this.off + ARP_HLEN_OFFSET];
  }
  set hlen(v: number) {
    this.buf[this.off + ARP_HLEN_OFFSET] = v;
  }

  /** Protocol address length. */
  get plen(): number {
    return this.buf[this.off + ARP_PLEN_OFFSET];
  }
  set plen(v: number) {
    this.buf[this.off + ARP_PLEN_OFFSET] = v;
  }

  /** Operation ({@link ARP_REQUEST} or {@link ARP_REPLY}). */
  get oper(): number {
    return this.get16(ARP_OPER_OFFSET);
  }
  set oper(v: number) {
    this.set16(ARP_OPER_OFFSET, v);
  }

  /** Offset of the sender hardware address in `buf`. */
  get shaOffset(): number {
    return this.off + ARP_SHA_OFFSET;
  }

  /** Offset of the target hardware address in `buf`. */
  get thaOffset(): number {
    return this.off + ARP_THA_OFFSET;
  }

  /** Copy the sender hardware address to `to[toOff..toOff + 6)`. */
  copySha(to: Uint8Array, toOff: number): void {
    copyMac(this.buf, this.off + ARP_SHA_OFFSET, to, toOff);
  }

  /** Copy the target hardware address to `to[toOff..toOff + 6)`. */
  copyTha(to: Uint8Array, toOff: number): void {
    copyMac(this.buf, this.off + ARP_THA_OFFSET, to, toOff);
  }

  /** Set the sender hardware address from `mac[macOff..macOff + 6)`. */
  setSha(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + ARP_SHA_OFFSET);
  }

  /** Set the target hardware address from `mac[macOff..macOff + 6)`. */
  setTha(mac: Uint8Array, macOff = 0): void {
    copyMac(mac, macOff, this.buf, this.off + ARP_THA_OFFSET);
  }

  /** Sender protocol address (IPv4, unsigned 32-bit). */
  get spa(): number {
    return readIpv4(this.buf, this.off + ARP_SPA_OFFSET);
  }
  set spa(a: number) {
    writeIpv4(this.buf, this.off + ARP_SPA_OFFSET, a);
  }

  /** Target protocol address (IPv4, unsigned 32-bit). */
  get tpa(): number {
    return readIpv4(this.buf, this.off + ARP_TPA_OFFSET);
  }
  set tpa(a: number) {
    writeIpv4(this.buf, this.off + ARP_TPA_OFFSET, a);
  }
}

/**
 * Write a 28-byte Ethernet/IPv4 ARP packet at `buf[off..]`; returns {@link ARP_HEADER_BYTES}.
 *
 * Two forms: `writeArp(buf, off, oper, sha, spa, tha, tpa)` reads the MACs at offset 0 of
 * `sha`/`tha`; `writeArp(buf, off, oper, sha, shaOff, spa, tha, thaOff, tpa)` reads them at
 * the given offsets (e.g. straight out of a received request, without a copy).
 *
 * @example
 * ```ts
 * writeArp(buf, 14, ARP_REQUEST, myMac, myIp, new Uint8Array(6), targetIp);
 * writeArp(buf, 14, ARP_REPLY, myMac, 0, myIp, rxFrame, shaOffset, askerIp);
 * ```
 */
export function writeArp(
  buf: Uint8Array,
  off: number,
  oper: number,
  sha: Uint8Array,
  spa: number,
  tha: Uint8Array,
  tpa: number,
): number;
/** The form with explicit MAC offsets (see the other signature). */
export function writeArp(
  buf: Uint8Array,
  off: number,
  oper: number,
  sha: Uint8Array,
  shaOff: number,
  spa: number,
  tha: Uint8Array,
  thaOff: number,
  tpa: number,
): number;
export function writeArp(
  buf: Uint8Array,
  off: number,
  oper: number,
  sha: Uint8Array,
  a4: number,
  a5: number | Uint8Array,
  a6: Uint8Array | number,
  a7?: number,
  a8?: number,
): number {
  let shaOff = 0, spa: number, tha: Uint8Array, thaOff = 0, tpa: number;
  if (typeof a5 === "number") {
    shaOff = a4;
    spa = a5;
    tha = a6 as Uint8Array;
    thaOff = a7 as number;
    tpa = a8 as number;
  } else {
    spa = a4;
    tha = a5;
    tpa = a6 as number;
  }
  buf[off + ARP_HTYPE_OFFSET] = 0;
  buf[off + ARP_HTYPE_OFFSET + 1] = ARP_HTYPE_ETHERNET;
  buf[off + ARP_PTYPE_OFFSET] = ARP_PTYPE_IPV4 >>> 8;
  buf[off + ARP_PTYPE_OFFSET + 1] = ARP_PTYPE_IPV4 & 0xff;
  buf[off + ARP_HLEN_OFFSET] = 6;
  buf[off + ARP_PLEN_OFFSET] = 4;
  buf[off + ARP_OPER_OFFSET] = oper >>> 8;
  buf[off + ARP_OPER_OFFSET + 1] = oper;
  copyMac(sha, shaOff, buf, off + ARP_SHA_OFFSET);
  writeIpv4(buf, off + ARP_SPA_OFFSET, spa);
  copyMac(tha, thaOff, buf, off + ARP_THA_OFFSET);
  writeIpv4(buf, off + ARP_TPA_OFFSET, tpa);
  return ARP_HEADER_BYTES;
}
