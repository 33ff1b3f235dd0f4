/**
 * A rig for driving one TCP endpoint segment by segment: one {@link Stack} (198.18.0.2, "us")
 * on a {@link RecordingLink} with a {@link VirtualClock}, and a scripted peer (198.18.0.1)
 * that is nothing but the segments a test injects. Every TCP segment the stack puts on the
 * link is decoded and kept ({@link TcpRig.take}); the link answers ARP for the peer itself,
 * so only TCP is the test's business.
 *
 * Segments are built with the production writers (`writeTcpHeader`, `writeTcpOptions`, both
 * tested byte for byte in `tests/unit/tcp_header_test.ts`) and handed to
 * `TcpLayer.receive` with the checksum marked verified.
 *
 * @example
 * ```ts ignore
 * const rig = new TcpRig();
 * const c = rig.openActive();
 * rig.inject(c.seg({ flags: TCP_FLAG_ACK | TCP_FLAG_FIN }));
 * assert.equal(c.ep.state, TcpState.CLOSE_WAIT);
 * assert.equal(rig.take()[0].ack, c.peerNxt);
 * ```
 *
 * @module
 */

import { VirtualClock } from "../../core/clock.ts";
import {
  DriverStats,
  GSO_NONE,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  RX_CSUM_VALID,
  type RxBatch,
  type TxOffload,
} from "../../link/driver.ts";
import { ETH_HEADER_BYTES, ETHERTYPE_ARP, writeEthernetHeader } from "../../link/ethernet.ts";
import {
  ARP_HEADER_BYTES,
  ARP_REPLY,
  ARP_REQUEST,
  ArpHeader,
  writeArp,
} from "../../net/arp_header.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { rxMeta } from "./net_meta.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { IP_PROTO_TCP, Ipv4Header } from "../../net/ipv4_header.ts";
import { Stack } from "../../stack/stack.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_SYN,
  TCP_HEADER_MIN_BYTES,
  TcpHeader,
  writeTcpHeader,
} from "../../transport/tcp/header.ts";
import type { TcpListener } from "../../transport/tcp/listener.ts";
import {
  parseTcpOptions,
  TcpHeaderOptions,
  tcpOptionsLength,
  writeTcpOptions,
} from "../../transport/tcp/options.ts";
import { seqAdd } from "../../transport/tcp/seq.ts";
import type { TcpOptions } from "../../transport/tcp/tcp_layer.ts";

/** Our address. */
export const RIG_ADDR: number = parseIpv4("198.18.0.2");
/** The scripted peer's address. */
export const PEER_ADDR: number = parseIpv4("198.18.0.1");
/** The peer's initial sequence number in {@link TcpRig.openActive} / `openPassive`. */
export const PEER_ISS = 0x1000_0000;
/** The peer's port. */
export const PEER_PORT = 40000;
/** Our listening port in `openPassive`, the remote port in `openActive`. */
export const SERVICE_PORT = 80;

const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x02]);
const PEER_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x01]);

/** One TCP segment the stack sent, decoded. */
export interface SentSegment {
  /** Destination address. */
  dst: number;
  /** Source port (ours). */
  srcPort: number;
  /** Destination port (the peer's). */
  dstPort: number;
  /** SEG.SEQ. */
  seq: number;
  /** SEG.ACK (0 without the ACK bit). */
  ack: number;
  /** Control bits. */
  flags: number;
  /** Window field as sent (unscaled). */
  window: number;
  /** Payload bytes (a copy). */
  payload: Uint8Array;
  /** MSS option (0 = absent). */
  mss: number;
  /** Window scale option (-1 = absent). */
  windowScale: number;
  /** SACK-permitted option present. */
  sackPermitted: boolean;
  /** Timestamps option present. */
  hasTimestamps: boolean;
  /** TSval. */
  tsVal: number;
  /** TSecr. */
  tsEcr: number;
  /** SACK blocks as [left, right) pairs. */
  sack: [number, number][];
  /** Segment size of a TSO super-segment (its payload is cut into `gsoSize` pieces); 0 else. */
  gsoSize: number;
}

/**
 * A link driver that records what the stack transmits and answers ARP requests for every
 * other address of the rig's /24 (the peer, and the sources a test spoofs), so IPv4 output
 * reaches {@link RecordingLink.transmit} at once.
 */
export class RecordingLink implements LinkDriver {
  /** Interface name. */
  readonly name = "rig0";
  /** Driver kind. */
  readonly kind = "sim";
  /** Our MAC. */
  readonly mac: Uint8Array = OUR_MAC;
  /** Link MTU. */
  readonly mtu: number;
  /**
   * No offloads (every checksum complete on the wire), or with `tsoBytes` TSO and checksum
   * offload for super-segments of up to that many bytes.
   */
  readonly capabilities: LinkCapabilities;
  /** No file descriptor (driven by hand). */
  readonly fd = -1;
  /** Counters. */
  readonly stats: DriverStats = new DriverStats();
  /** Every TCP segment transmitted, oldest first. */
  readonly sent: SentSegment[] = [];
  readonly #rx: Uint8Array[] = [];
  readonly #ip = new Ipv4Header();
  readonly #tcp = new TcpHeader();
  readonly #arp = new ArpHeader();
  readonly #opts = new TcpHeaderOptions();

  /**
   * A link of `mtu` bytes; with `tsoBytes` > 0 it takes TSO super-segments that large (and
   * with `ufo` UFO datagrams as well).
   */
  constructor(mtu: number, tsoBytes = 0, ufo = false) {
    this.mtu = mtu;
    this.capabilities = tsoBytes > 0
      ? {
        txChecksumOffload: true,
        tcpSegmentationOffload: true,
        udpSegmentationOffload: false,
        udpFragmentationOffload: ufo,
        maxGsoBytes: tsoBytes,
      }
      : NO_OFFLOADS;
  }

  /** Hand queued frames (ARP replies) to the stack. */
  receive(batch: RxBatch, max: number): number {
    let n = 0;
    while (n < max && this.#rx.length > 0) {
      const f = this.#rx.shift()!;
      batch.buf[n] = f;
      batch.off[n] = 0;
      batch.len[n] = f.length;
      batch.flags[n] = 0;
      n++;
    }
    batch.count = n;
    return n;
  }

  /** Nothing to give back: frames are owned by the rig. */
  release(_batch: RxBatch): void {}

  /** Decode and record a TCP segment; answer an ARP request for the /24. */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean {
    const type = (frame[off + 12] << 8) | frame[off + 13];
    const l3 = off + ETH_HEADER_BYTES;
    if (type === ETHERTYPE_ARP) {
      const a = this.#arp.attach(frame, l3, len - ETH_HEADER_BYTES);
      const tpa = a.tpa;
      if (
        a.check() === null && a.oper === ARP_REQUEST && tpa !== RIG_ADDR &&
        (tpa >>> 8) === (RIG_ADDR >>> 8)
      ) {
        const reply = new Uint8Array(ETH_HEADER_BYTES + ARP_HEADER_BYTES);
        writeEthernetHeader(reply, 0, OUR_MAC, PEER_MAC, ETHERTYPE_ARP);
        writeArp(reply, ETH_HEADER_BYTES, ARP_REPLY, PEER_MAC, tpa, OUR_MAC, a.spa);
        this.#rx.push(reply);
      }
      return true;
    }
    const ip = this.#ip.attach(frame, l3, len - ETH_HEADER_BYTES);
    if (ip.protocol !== IP_PROTO_TCP) return true;
    const h = this.#tcp.attach(frame, ip.payloadOffset, ip.payloadLength);
    const o = this.#opts;
    parseTcpOptions(frame, h.optionsOffset, h.optionsLength, o);
    const sack: [number, number][] = [];
    for (let i = 0; i < o.sackBlockCount; i++) {
      sack.push([o.sackBlocks[2 * i], o.sackBlocks[2 * i + 1]]);
    }
    this.sent.push({
      dst: ip.dst,
      srcPort: h.srcPort,
      dstPort: h.dstPort,
      seq: h.seq,
      ack: h.ack,
      flags: h.flags,
      window: h.window,
      payload: frame.slice(h.payloadOffset, h.payloadOffset + h.payloadLength),
      mss: o.mss,
      windowScale: o.windowScale,
      sackPermitted: o.sackPermitted,
      hasTimestamps: o.hasTimestamps,
      tsVal: o.tsVal,
      tsEcr: o.tsEcr,
      sack,
      gsoSize: offload !== null && offload.gsoType !== GSO_NONE ? offload.gsoSize : 0,
    });
    return true;
  }

  /** Nothing queued. */
  flush(): void {}

  /** Nothing to release. */
  close(): void {}
}

/** A segment from the peer; unset fields take the defaults noted. */
export interface SegmentSpec {
  /** Source address [PEER_ADDR]. */
  src?: number;
  /** Source port [PEER_PORT]. */
  srcPort?: number;
  /** Destination port [SERVICE_PORT]. */
  dstPort?: number;
  /** SEG.SEQ. */
  seq: number;
  /** SEG.ACK [0]. */
  ack?: number;
  /** Control bits. */
  flags: number;
  /** Window field [65535]. */
  window?: number;
  /** Payload: bytes, or a length of zero-filled bytes [none]. */
  payload?: Uint8Array | number;
  /** MSS option (SYN only) [absent]. */
  mss?: number;
  /** Window scale option (SYN only) [absent]. */
  windowScale?: number;
  /** SACK-permitted option (SYN only) [absent]. */
  sackPermitted?: boolean;
  /** Timestamps option: [TSval, TSecr] [absent]. */
  ts?: [number, number];
  /** SACK blocks [none]. */
  sack?: [number, number][];
}

/** Peer-side options of the handshakes in {@link TcpRig.openActive} / `openPassive`. */
export interface PeerHandshake {
  /** Peer MSS [1460]. */
  mss?: number;
  /** Peer window scale [absent]. */
  windowScale?: number;
  /** Peer offers SACK [false]. */
  sackPermitted?: boolean;
  /** Peer TSval on its SYN (timestamps off when absent). */
  tsVal?: number;
  /** Peer window field [65535]. */
  window?: number;
}

/** One connection between the stack and the scripted peer, with the peer's numbers. */
export class RigConn {
  /** The endpoint under test. */
  readonly ep: TcpEndpoint;
  /** Our ISS (from our SYN or SYN-ACK). */
  readonly iss: number;
  /** Our port. */
  readonly ourPort: number;
  /** The peer's port. */
  readonly peerPort: number;
  /** The peer's next sequence number (advance it as the test sends). */
  peerNxt: number;
  /** TSval the peer puts on its segments (when timestamps are on). */
  peerTsVal: number;
  /** True when the peer negotiated timestamps. */
  readonly timestamps: boolean;

  /** Book-keeping for one connection. */
  constructor(ep: TcpEndpoint, iss: number, peerNxt: number, timestamps: boolean, tsVal: number) {
    this.ep = ep;
    this.iss = iss;
    this.ourPort = ep.localPort;
    this.peerPort = ep.remotePort;
    this.peerNxt = peerNxt;
    this.timestamps = timestamps;
    this.peerTsVal = tsVal;
  }

  /**
   * A segment of this connection from the peer: ports filled in, SEQ = `peerNxt` and ACK =
   * our ISS + 1 unless given, the timestamps option when negotiated (TSecr 0).
   */
  seg(spec: Partial<SegmentSpec> & { flags: number }): SegmentSpec {
    return {
      srcPort: this.peerPort,
      dstPort: this.ourPort,
      seq: this.peerNxt,
      ack: seqAdd(this.iss, 1),
      ts: this.timestamps ? [this.peerTsVal, 0] : undefined,
      ...spec,
    };
  }
}

/** The rig: a stack under test, its recording link and a scripted peer. */
export class TcpRig {
  /** The virtual clock. */
  readonly clock: VirtualClock = new VirtualClock(1_000_000);
  /** The stack under test. */
  readonly stack: Stack;
  /** Its link. */
  readonly link: RecordingLink;
  /** The link's NIC index in the stack. */
  readonly nicIndex: number;
  #taken = 0;

  /**
   * A rig whose stack has TCP options `tcp` and a link of `mtu` bytes (taking TSO
   * super-segments of up to `tsoBytes` when given).
   */
  constructor(
    opts: { tcp?: TcpOptions; mtu?: number; tsoBytes?: number; ufo?: boolean } = {},
  ) {
    this.stack = new Stack({ clock: this.clock, poolBuffers: 256, tcp: opts.tcp });
    this.link = new RecordingLink(opts.mtu ?? 1500, opts.tsoBytes ?? 0, opts.ufo ?? false);
    const nic = this.stack.addNic(this.link);
    this.nicIndex = nic.index;
    this.stack.ipv4.addAddress(nic.index, RIG_ADDR, 24);
  }

  /** Segments sent since the last call, oldest first. */
  take(): SentSegment[] {
    const out = this.link.sent.slice(this.#taken);
    this.#taken = this.link.sent.length;
    return out;
  }

  /** One stack tick at the current time (timers due, queued output, ARP replies). */
  tick(): void {
    this.stack.tick();
    this.stack.tick(); // an ARP reply queued by the link is taken in, its queue drained
  }

  /** Let `ms` of virtual time pass, firing every timer on the way. */
  advance(ms: number): void {
    const end = this.clock.nowMs() + ms;
    this.tick();
    for (;;) {
      const next = Math.ceil(this.stack.nextDeadlineMs());
      if (next > end) break;
      if (next > this.clock.nowMs()) this.clock.set(next);
      this.tick();
    }
    if (this.clock.nowMs() < end) this.clock.set(end);
    this.tick();
  }

  /** Deliver `spec` to the stack as if it came from the peer, then tick. */
  inject(spec: SegmentSpec): void {
    const buf = this.segmentBytes(spec);
    const src = spec.src ?? PEER_ADDR;
    const meta = rxMeta(this.stack, IpAddress.v4(src), IpAddress.v4(RIG_ADDR), buf);
    this.stack.tcp.receive(meta, buf, 0, buf.length, RX_CSUM_VALID);
    this.tick();
  }

  /** The TCP segment (header, options, payload) `spec` describes, checksum left 0. */
  segmentBytes(spec: SegmentSpec): Uint8Array {
    const o = new TcpHeaderOptions();
    const syn = (spec.flags & TCP_FLAG_SYN) !== 0;
    if (spec.mss !== undefined) o.mss = spec.mss;
    if (spec.windowScale !== undefined) o.windowScale = spec.windowScale;
    if (spec.sackPermitted) o.sackPermitted = true;
    if (spec.ts !== undefined) {
      o.hasTimestamps = true;
      o.tsVal = spec.ts[0];
      o.tsEcr = spec.ts[1];
    }
    const blocks = spec.sack ?? [];
    for (let i = 0; i < blocks.length; i++) {
      o.sackBlocks[2 * i] = blocks[i][0];
      o.sackBlocks[2 * i + 1] = blocks[i][1];
    }
    o.sackBlockCount = blocks.length;
    const payload = typeof spec.payload === "number"
      ? new Uint8Array(spec.payload)
      : spec.payload ?? new Uint8Array(0);
    const hdr = TCP_HEADER_MIN_BYTES + tcpOptionsLength(o, syn);
    const buf = new Uint8Array(hdr + payload.length);
    writeTcpHeader(
      buf,
      0,
      spec.srcPort ?? PEER_PORT,
      spec.dstPort ?? SERVICE_PORT,
      spec.seq >>> 0,
      (spec.ack ?? 0) >>> 0,
      hdr,
      spec.flags,
      spec.window ?? 65535,
    );
    writeTcpOptions(buf, TCP_HEADER_MIN_BYTES, o, syn);
    buf.set(payload, hdr);
    return buf;
  }

  /**
   * An active open to the peer completed by a scripted SYN-ACK: returns the connection in
   * ESTABLISHED with the SYN and the handshake's ACK taken.
   */
  openActive(peer: PeerHandshake = {}): RigConn {
    const ep = this.stack.tcp.connect(IpAddress.v4(PEER_ADDR), SERVICE_PORT, {
      localPort: PEER_PORT + 1,
    });
    this.tick();
    const syn = this.take().find((s) => (s.flags & TCP_FLAG_SYN) !== 0);
    if (syn === undefined) throw new Error("tcp_rig: no SYN was sent");
    const timestamps = peer.tsVal !== undefined && syn.hasTimestamps;
    const conn = new RigConn(ep, syn.seq, seqAdd(PEER_ISS, 1), timestamps, peer.tsVal ?? 0);
    this.inject({
      srcPort: SERVICE_PORT,
      dstPort: ep.localPort,
      seq: PEER_ISS,
      ack: seqAdd(syn.seq, 1),
      flags: TCP_FLAG_SYN | TCP_FLAG_ACK,
      window: peer.window ?? 65535,
      mss: peer.mss ?? 1460,
      windowScale: peer.windowScale,
      sackPermitted: peer.sackPermitted,
      ts: peer.tsVal !== undefined ? [peer.tsVal, syn.tsVal] : undefined,
    });
    this.take();
    return conn;
  }

  /**
   * A passive open: listen on {@link SERVICE_PORT}, SYN from the peer, SYN-ACK taken, the
   * handshake's ACK injected, the connection accepted.
   */
  openPassive(peer: PeerHandshake = {}): { conn: RigConn; listener: TcpListener } {
    const listener = this.stack.tcp.listen(null, SERVICE_PORT, 8);
    this.inject({
      seq: PEER_ISS,
      flags: TCP_FLAG_SYN,
      window: peer.window ?? 65535,
      mss: peer.mss ?? 1460,
      windowScale: peer.windowScale,
      sackPermitted: peer.sackPermitted,
      ts: peer.tsVal !== undefined ? [peer.tsVal, 0] : undefined,
    });
    const synAck = this.take().find((s) => (s.flags & TCP_FLAG_SYN) !== 0);
    if (synAck === undefined) throw new Error("tcp_rig: no SYN-ACK was sent");
    const timestamps = peer.tsVal !== undefined && synAck.hasTimestamps;
    this.inject({
      seq: seqAdd(PEER_ISS, 1),
      ack: seqAdd(synAck.seq, 1),
      flags: TCP_FLAG_ACK,
      window: peer.window ?? 65535,
      ts: timestamps ? [peer.tsVal!, synAck.tsVal] : undefined,
    });
    const ep = listener.accept();
    if (ep === null) throw new Error("tcp_rig: the handshake did not complete");
    const conn = new RigConn(ep, synAck.seq, seqAdd(PEER_ISS, 1), timestamps, peer.tsVal ?? 0);
    return { conn, listener };
  }
}

/**
 * Make `rig`'s link count its IPv4 frames instead of recording them (ARP still reaches the
 * rig's recorder, which answers it): for allocation tests, whose record of every SYN-ACK would
 * grow the heap. Returns a reader of the count so far.
 */
export function countIpv4Frames(rig: TcpRig): () => number {
  const link = rig.link;
  const record = link.transmit.bind(link);
  let frames = 0;
  link.transmit = (frame, off, len, offload) => {
    if (frame[off + 12] !== 0x08 || frame[off + 13] !== 0x00) {
      return record(frame, off, len, offload);
    }
    frames++;
    return true;
  };
  return () => frames;
}
