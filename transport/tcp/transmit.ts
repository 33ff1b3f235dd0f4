/**
 * The one way a TCP segment leaves the layer. A caller fills the layer's reusable
 * {@link TxSegment} (addresses, ports, numbers, flags, window, options, payload source), and
 * {@link TcpTransmitter} writes it with the tested writers — `writeTcpHeader` and
 * `writeTcpOptions` — into a pooled buffer, checksums it (or leaves the sum to checksum
 * offload), and hands it to the network layer of its route — IPv4 or IPv6, asked for the
 * pseudo-header sum, the offload type and the send, never branched on. A connection's
 * segments and the RSTs sent for segments with no connection (RFC 9293 §3.10.7.1) take the
 * same path.
 *
 * The payload is not copied here: the buffer holds the headers and *gathers* the payload
 * from the send ring ({@link PacketBuffer.gather}), which the driver copies once, into its
 * transmit slot (or a lower layer copies into the buffer when it has to keep the packet).
 * A software checksum is summed over the ring's bytes where they lie. The ring keeps the
 * bytes until they are acknowledged, so a retransmission gathers them the same way.
 *
 * No allocation per segment: one record, one header view, one span record, one offload
 * request per layer.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import type { ByteRing, ByteSpan } from "../../core/byte_ring.ts";
import type { Counters } from "../../core/counters.ts";
import { HEADROOM_BYTES, type PacketBuffer } from "../../core/packet_buffer.ts";
import { TxOffload } from "../../link/driver.ts";
import { ETH_HEADER_BYTES } from "../../link/ethernet.ts";
import { foldSum, onesComplementSum } from "../../net/checksum.ts";
import { type IpAddr, IpAddressScratch } from "../../net/ip_address.ts";
import { NetRoute } from "../../net/network_layer.ts";
import type { TransportContext } from "./context.ts";
import {
  TCP_CHECKSUM_OFFSET,
  TCP_FLAG_ACK,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_HEADER_MAX_BYTES,
  TCP_HEADER_MIN_BYTES,
  TcpHeader,
  writeTcpHeader,
  writeTcpSeqAck,
} from "./header.ts";
import { TcpHeaderOptions, tcpOptionsLength, writeTcpOptions } from "./options.ts";
import type { RxSegment } from "./segment.ts";
import { seqAdd } from "./seq.ts";

/** IP protocol number of TCP. */
const IP_PROTO_TCP = 6;
const NONE = new IpAddressScratch();

/** IP ECN field: ECN-capable transport, ECT(0) (RFC 3168 §5). */
export const IP_ECN_ECT0 = 0b10;
/** IP ECN field: congestion experienced (RFC 3168 §5). */
export const IP_ECN_CE = 0b11;

/** A segment to send, filled by the caller; the layer reuses one record. */
export class TxSegment {
  /** Route to the destination (its network layer sends the segment). */
  route: NetRoute;
  /** Source address (ours). */
  src: IpAddr = NONE;
  /** Destination address. */
  dst: IpAddr = NONE;
  /** Source port. */
  srcPort = 0;
  /** Destination port. */
  dstPort = 0;
  /** SEG.SEQ (a double from the start: an unsigned 32-bit word). */
  seq: number = DOUBLE_ZERO;
  /** SEG.ACK (written as 0 without the ACK bit; a double from the start). */
  ack: number = DOUBLE_ZERO;
  /** Control bits. */
  flags = 0;
  /** Window field (already scaled down). */
  window = 0;
  /** IP ECN field to send with (0: not ECN-capable; {@link IP_ECN_ECT0} for data). */
  ecn = 0;
  /** Options to write (cleared by {@link TcpTransmitter.begin}). */
  readonly opts: TcpHeaderOptions = new TcpHeaderOptions();
  /** Where the payload comes from (a send ring), or null for none. */
  payload: ByteRing | null = null;
  /** Offset of the payload in `payload` (from its read position). */
  payloadOffset = 0;
  /** Payload bytes (may exceed the MSS for a TSO super-segment). */
  payloadLength = 0;
  /** MSS to cut a TSO super-segment at, 0 for none. */
  gsoSize = 0;
  /** Set by {@link TcpTransmitter.write}: the offload request to hand down, or null. */
  offload: TxOffload | null = null;

  /** An empty record routed by `route`. */
  constructor(route: NetRoute) {
    this.route = route;
  }
}

/**
 * Writes and sends TCP segments for one layer.
 *
 * A connection: `begin()` for a buffer and the cleared record, fill the record, `write()`,
 * update its own state (an ACK went out), `send()`. A RST for a segment with no connection:
 * {@link TcpTransmitter.replyRst}.
 *
 * @example
 * ```ts ignore
 * const pb = tx.begin();
 * if (pb !== null) {
 *   const s = tx.seg; // fill route, addresses, ports, numbers, flags, window, opts
 *   tx.write(pb, s);
 *   tx.send(pb, s);
 * }
 * ```
 */
export class TcpTransmitter {
  /** The record every caller fills. */
  readonly seg: TxSegment;
  readonly #ctx: TransportContext;
  readonly #stats: Counters;
  readonly #hdr = new TcpHeader();
  readonly #offload = new TxOffload();
  readonly #rstRoute = new NetRoute();
  readonly #span: ByteSpan = { buf: new Uint8Array(0), off: 0, len: 0 };

  /** A transmitter over `ctx` counting into the `tcp` counters `stats`. */
  constructor(ctx: TransportContext, stats: Counters) {
    this.#ctx = ctx;
    this.#stats = stats;
    this.seg = new TxSegment(this.#rstRoute);
  }

  /**
   * Largest payload of one TSO super-segment on `route` for `mss`, a multiple of it, or 0
   * when the NIC cannot segment TCP.
   */
  tsoLimit(route: NetRoute, mss: number): number {
    const link = route.link;
    const net = route.net;
    if (link === null || net === null || !link.capabilities.tcpSegmentationOffload) return 0;
    const room = Math.min(
      link.capabilities.maxGsoBytes - ETH_HEADER_BYTES - net.headerBytes,
      net.maxPayloadBytes,
    ) - TCP_HEADER_MAX_BYTES;
    const segs = Math.floor(room / mss);
    return segs >= 2 ? segs * mss : 0;
  }

  /**
   * A packet buffer for the next segment, with {@link TcpTransmitter.seg}'s options and payload
   * cleared; null when the pool is empty (nothing may change then: the caller retries later).
   */
  begin(): PacketBuffer | null {
    const pb = this.#ctx.pool.alloc(HEADROOM_BYTES);
    if (pb === null) return null;
    const s = this.seg;
    s.opts.clear();
    s.payload = null;
    s.payloadOffset = 0;
    s.payloadLength = 0;
    s.gsoSize = 0;
    s.ecn = 0;
    return pb;
  }

  /**
   * Write `s` into `pb`: header and options, the payload gathered from its ring (not copied),
   * then the checksum — complete, or (a non-SYN, non-RST segment on a link with checksum
   * offload) the folded pseudo-header sum with `s.offload` asking the NIC to finish it (and,
   * beyond `gsoSize`, to cut the super-segment).
   */
  write(pb: PacketBuffer, s: TxSegment): void {
    const flags = s.flags;
    const isSyn = (flags & TCP_FLAG_SYN) !== 0;
    const hdrBytes = TCP_HEADER_MIN_BYTES + tcpOptionsLength(s.opts, isSyn);
    const payload = s.payload;
    const len = payload !== null ? s.payloadLength : 0;
    const total = hdrBytes + len;
    const at = pb.append(hdrBytes);
    const buf = pb.data;
    writeTcpHeader(buf, at, s.srcPort, s.dstPort, 0, 0, hdrBytes, flags, s.window);
    writeTcpSeqAck(buf, at, s, (flags & TCP_FLAG_ACK) !== 0);
    writeTcpOptions(buf, at + TCP_HEADER_MIN_BYTES, s.opts, isSyn);
    if (len > 0) pb.gather(payload!, s.payloadOffset, len);
    const h = this.#hdr.attach(buf, at, hdrBytes);
    const net = s.route.net!;
    const pseudo = net.pseudoHeaderSum(s.src, s.dst, IP_PROTO_TCP, total);
    s.offload = null;
    const link = s.route.link;
    if (
      link !== null && link.capabilities.txChecksumOffload && !isSyn &&
      (flags & TCP_FLAG_RST) === 0
    ) {
      const offload = this.#offload;
      offload.clear();
      offload.needsCsum = true;
      offload.csumStart = 0; // relative to the TCP header; the IP layer adds its headers
      offload.csumOffset = TCP_CHECKSUM_OFFSET;
      offload.hdrLen = hdrBytes;
      if (s.gsoSize > 0 && len > s.gsoSize) {
        offload.gsoType = net.gsoTcpType;
        offload.gsoSize = s.gsoSize;
      }
      h.checksum = foldSum(pseudo);
      s.offload = offload;
    } else {
      // Header (a whole number of 32-bit words, so the payload starts on an even byte), then
      // the payload where it lies in the ring.
      let acc = pseudo;
      if (len > 0) acc += this.#ringSum(payload!, s.payloadOffset, len);
      h.fillChecksum(acc);
    }
    this.#stats.OutSegs++;
    if ((flags & TCP_FLAG_RST) !== 0) this.#stats.OutRsts++;
  }

  /**
   * One's complement sum (unfolded, below 2^18) of `len` bytes of `ring` from `offset`, summed
   * in the at most two runs the ring keeps them in. A run after an odd-length one starts on a
   * low byte: its folded sum is byte-swapped (RFC 1071 §2(B)).
   */
  #ringSum(ring: ByteRing, offset: number, len: number): number {
    const span = this.#span;
    let acc = 0;
    let odd = false;
    while (len > 0 && ring.readableSpan(offset, span) > 0) {
      const n = span.len < len ? span.len : len;
      const part = foldSum(onesComplementSum(span.buf, span.off, n));
      acc += odd ? ((part & 0xff) << 8) | (part >>> 8) : part;
      if ((n & 1) !== 0) odd = !odd;
      offset += n;
      len -= n;
    }
    return acc;
  }

  /** Hand the segment written into `pb` to its network layer (the buffer is its from here on). */
  send(pb: PacketBuffer, s: TxSegment): void {
    const net = s.route.net!;
    net.send(pb, s.route, s.src, s.dst, IP_PROTO_TCP, net.defaultHopLimit, s.ecn, true, s.offload);
  }

  /**
   * Begin a segment that belongs to no connection (a RST, a TIME_WAIT record's ACK, a
   * syncache SYN-ACK): route to `dst` (a link-local one on NIC `zoneNic`) into the layer's
   * scratch route, a buffer, the cleared record with `route` set. Null (nothing sent, nothing
   * changed) without a route or buffer.
   */
  beginTo(dst: IpAddr, zoneNic = 0): PacketBuffer | null {
    const route = this.#rstRoute;
    if (!this.#ctx.networks.of(dst).route(dst, route, zoneNic)) return null;
    const pb = this.begin();
    if (pb === null) return null;
    this.seg.route = route;
    return pb;
  }

  /**
   * A RST that belongs to no connection's buffers, from (`src`, `srcPort`) to (`dst`,
   * `dstPort`): `<SEQ=seq><CTL=RST>`, or with `withAck` `<SEQ=seq><ACK=ack><CTL=RST,ACK>`.
   * `zoneNic` is the NIC a link-local peer is on. Dropped silently when there is no route or
   * no buffer.
   */
  sendRst(
    src: IpAddr,
    srcPort: number,
    dst: IpAddr,
    dstPort: number,
    seq: number,
    ack: number,
    withAck: boolean,
    zoneNic = 0,
  ): void {
    const pb = this.beginTo(dst, zoneNic);
    if (pb === null) return;
    const s = this.seg;
    s.src = src;
    s.dst = dst;
    s.srcPort = srcPort;
    s.dstPort = dstPort;
    s.seq = seq;
    s.ack = ack;
    s.flags = withAck ? TCP_FLAG_RST | TCP_FLAG_ACK : TCP_FLAG_RST;
    s.window = 0;
    this.write(pb, s);
    this.send(pb, s);
  }

  /**
   * RFC 9293 §3.10.7.1 (and §3.10.7.3 / §3.10.7.4 for an unacceptable ACK in SYN_SENT or
   * SYN_RECEIVED): answer `seg`. A RST is never answered; with ACK the reply is
   * `<SEQ=SEG.ACK><CTL=RST>`, without it `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`.
   */
  replyRst(seg: RxSegment): void {
    const flags = seg.flags;
    if ((flags & TCP_FLAG_RST) !== 0) return;
    // Filled here, not through sendRst: SEG.SEQ + SEG.LEN (≥ 2³¹ for half the peers) passed
    // as an argument to a call V8 does not inline would be a heap number per RST.
    const pb = this.beginTo(seg.src, seg.nicIndex);
    if (pb === null) return;
    const s = this.seg;
    s.src = seg.dst;
    s.dst = seg.src;
    s.srcPort = seg.dstPort;
    s.dstPort = seg.srcPort;
    if ((flags & TCP_FLAG_ACK) !== 0) {
      s.seq = seg.ack;
      s.ack = 0;
      s.flags = TCP_FLAG_RST;
    } else {
      s.seq = 0;
      s.ack = seqAdd(seg.seq, seg.segLen);
      s.flags = TCP_FLAG_RST | TCP_FLAG_ACK;
    }
    s.window = 0;
    this.write(pb, s);
    this.send(pb, s);
  }
}
