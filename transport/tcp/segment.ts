/**
 * A received TCP segment, decoded once by the layer (header fields, options, payload
 * position) and handed to the connection or listener it belongs to. One record is reused for
 * every segment.
 *
 * The checksum and the options are left for {@link admitSegment}: the layer admits a segment
 * before it reaches a connection, a record or a TIME_WAIT record, and a listener before it acts
 * on one — so a flood SYN that the per-source cookie limit refuses is neither summed nor
 * parsed (it is dropped either way).
 *
 * @module
 */

import type { Counters } from "../../core/counters.ts";
import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import { transportChecksumOk } from "../../net/checksum.ts";
import { type IpAddr, IpAddressScratch } from "../../net/ip_address.ts";
import type { NetworkLayer } from "../../net/network_layer.ts";
import { TCP_CHECKSUM_OFFSET } from "./header.ts";
import { parseTcpOptions, TcpHeaderOptions } from "./options.ts";

const NONE = new IpAddressScratch();

/** The IP protocol number of TCP (its pseudo-header's, the IP layers' handler table's). */
export const IP_PROTO_TCP = 6;

/** {@link RxSegment.admission}: the checksum and options are not looked at yet. */
export const SEG_UNCHECKED = 0;
/** {@link RxSegment.admission}: checksum good, options parsed. */
export const SEG_ADMITTED = 1;
/** {@link RxSegment.admission}: a bad checksum or options that cannot be walked (counted). */
export const SEG_REFUSED = 2;

/** One received segment, decoded; the layer reuses a single record. */
export class RxSegment {
  /** Source address (the peer); valid during the segment's processing only. */
  src: IpAddr = NONE;
  /** Destination address (ours); valid during the segment's processing only. */
  dst: IpAddr = NONE;
  /** The network layer it came through. */
  net: NetworkLayer | null = null;
  /** NIC it arrived on (the zone of a link-local peer). */
  nicIndex = 0;
  /** Source port. */
  srcPort = 0;
  /** Destination port. */
  dstPort = 0;
  /** SEG.SEQ (a double from the start: an unsigned 32-bit word). */
  seq: number = DOUBLE_ZERO;
  /** SEG.ACK (a double from the start, as `seq`). */
  ack: number = DOUBLE_ZERO;
  /** Control bits. */
  flags = 0;
  /** Window field as received (unscaled). */
  window = 0;
  /** Buffer holding the payload. */
  buf: Uint8Array = new Uint8Array(0);
  /** Payload offset in `buf`. */
  dataOff = 0;
  /** Payload length (may exceed the MSS: GRO super-segments). */
  dataLen = 0;
  /** SEG.LEN: payload plus one for SYN and one for FIN. */
  segLen = 0;
  /** The IP header's ECN field (RFC 3168 §5: 3 is CE, congestion experienced). */
  ecn = 0;
  /** Decoded options (once {@link admitSegment} returned true). */
  readonly opts: TcpHeaderOptions = new TcpHeaderOptions();
  /**
   * {@link admitSegment}'s verdict: {@link SEG_UNCHECKED} (the checksum not verified nor the
   * options parsed yet), {@link SEG_ADMITTED} or {@link SEG_REFUSED}.
   */
  admission = SEG_ADMITTED;
  /** Offset of the TCP header in `buf`. */
  headerOff = 0;
  /** Bytes of the TCP header and payload (what the checksum covers). */
  tcpLen = 0;
  /** The driver's receive flags (`RX_CSUM_*`: the checksum already verified or partial). */
  rxFlags = 0;
  /** Offset of the options in `buf`. */
  optsOff = 0;
  /** Bytes of options. */
  optsLen = 0;
  /** The SYN reopens a TIME_WAIT connection (RFC 6191). */
  reuse = false;
  /** With `reuse`: the new ISN must be after this. */
  reuseIsnAfter: number = DOUBLE_ZERO;
}

/**
 * Verify `seg`'s checksum and parse its options, once: true when it may be acted on. A bad
 * checksum counts `InCsumErrors` and `InErrs`, options that cannot be walked `InErrs` (in
 * `st`, the layer's counters); the caller drops the segment then. Later calls give the same
 * answer without doing the work again.
 */
export function admitSegment(seg: RxSegment, st: Counters): boolean {
  const a = seg.admission;
  if (a !== SEG_UNCHECKED) return a === SEG_ADMITTED;
  const b = seg.buf;
  const len = seg.tcpLen;
  // A kernel peer leaves checksums partial or already verified: the shared rule decides.
  const pseudo = seg.net!.pseudoHeaderSum(seg.src, seg.dst, IP_PROTO_TCP, len);
  if (!transportChecksumOk(b, seg.headerOff, len, TCP_CHECKSUM_OFFSET, pseudo, seg.rxFlags)) {
    seg.admission = SEG_REFUSED;
    st.InCsumErrors++;
    st.InErrs++;
    return false;
  }
  if (parseTcpOptions(b, seg.optsOff, seg.optsLen, seg.opts) !== null) {
    seg.admission = SEG_REFUSED;
    st.InErrs++;
    return false;
  }
  seg.admission = SEG_ADMITTED;
  return true;
}
