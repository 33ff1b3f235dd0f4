/**
 * A received TCP segment, decoded once by the layer (header fields, options, payload
 * position) and handed to the connection or listener it belongs to. One record is reused for
 * every segment.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import { type IpAddr, IpAddressScratch } from "../../net/ip_address.ts";
import type { NetworkLayer } from "../../net/network_layer.ts";
import { TcpHeaderOptions } from "./options.ts";

const NONE = new IpAddressScratch();

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
  /** Decoded options. */
  readonly opts: TcpHeaderOptions = new TcpHeaderOptions();
  /** The SYN reopens a TIME_WAIT connection (RFC 6191). */
  reuse = false;
  /** With `reuse`: the new ISN must be after this. */
  reuseIsnAfter: number = DOUBLE_ZERO;
}
