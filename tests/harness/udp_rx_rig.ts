/**
 * A receive-only rig for the UDP path's allocation: one {@link Stack} on a {@link ReplayDriver}
 * that hands it, tick after tick, the same prepared frames of 8,900-byte datagrams from a
 * kernel-like sender (IPv4 fragments at MTU 1500, whole frames at MTU 9000), laid out in one
 * buffer at fixed slot offsets as an AF_PACKET ring holds them. A socket bound to the
 * destination port is drained the way `uperf server --udp` drains it (`recvfrom` of length 0).
 * Nothing else runs in the process meanwhile: no sender, no wire, no event loop — so what the
 * heap grows by while it runs is the receive path's own allocation.
 *
 * @module
 */

import {
  DriverStats,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  RX_CSUM_VALID,
  type RxBatch,
  type TxOffload,
} from "../../link/driver.ts";
import { type Clock, VirtualClock } from "../../core/clock.ts";
import { SeededRandom } from "../../core/random.ts";
import { Stack } from "../../stack/stack.ts";
import { IpAddress, writeIp6 } from "../../net/ip_address.ts";
import { IP_PROTO_UDP, Ipv4Repr } from "../../net/ipv4_header.ts";
import {
  ETH_HEADER_BYTES,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  writeEthernetHeader,
} from "../../link/ethernet.ts";
import { IPV6_NH_FRAGMENT, Ipv6Repr } from "../../net/ipv6_header.ts";
import { IPV6_FRAGMENT_HEADER_BYTES, writeFragmentHeader } from "../../net/ipv6_ext_headers.ts";
import {
  internetChecksum,
  pseudoHeaderSumV4,
  pseudoHeaderSumV6,
  udpChecksumToWire,
} from "../../net/checksum.ts";
import { UDP_HEADER_BYTES, writeUdpHeader } from "../../transport/udp_header.ts";
import { UdpPeer } from "../../transport/udp_records.ts";
import type { UdpEndpoint } from "../../transport/udp.ts";

/** The receiver's address (198.18.0.2). */
export const RIG_DST: IpAddress = IpAddress.parse("198.18.0.2");
/** The sender's address (198.18.0.1). */
const RIG_SRC = 0xc6120001;
/** The receiving socket's port. */
export const RIG_PORT = 7000;
const RIG_MAC = new Uint8Array([2, 0, 0, 0, 0, 0xb]);
const PEER_MAC = new Uint8Array([2, 0, 0, 0, 0, 0xa]);

/** A driver that replays prepared frames in a loop (a ring that never runs dry). */
export class ReplayDriver implements LinkDriver {
  /** Interface name. */
  readonly name = "replay0";
  /** Driver kind. */
  readonly kind = "sim";
  /** The receiver's MAC. */
  readonly mac: Uint8Array = RIG_MAC;
  /** Link MTU. */
  readonly mtu: number;
  /** No offloads. */
  readonly capabilities: LinkCapabilities = NO_OFFLOADS;
  /** No fd: the rig ticks the stack itself. */
  readonly fd = -1;
  /** Counters. */
  readonly stats: DriverStats = new DriverStats();
  /** Frames to hand out per receive (the rest wait for the next). */
  framesPerReceive = 64;
  /** Frames handed out in all; the caller stops at its count. */
  handedOut = 0;
  /** Hand out no more than this many frames in all. */
  limit = 0;
  /** The `RX_*` flags every frame carries [RX_CSUM_VALID: the link vouched for its checksum]. */
  rxFlags: number = RX_CSUM_VALID;
  readonly #ring: Uint8Array;
  readonly #off: Int32Array;
  readonly #len: Int32Array;
  #next = 0;

  /** Replay `len[i]` bytes at `off[i]` of `ring`, in order, round and round. */
  constructor(mtu: number, ring: Uint8Array, off: Int32Array, len: Int32Array) {
    this.mtu = mtu;
    this.#ring = ring;
    this.#off = off;
    this.#len = len;
  }

  /** Hand out the next frames (up to the limit). */
  receive(batch: RxBatch, max: number): number {
    let n = 0;
    const want = Math.min(max, batch.capacity, this.framesPerReceive);
    while (n < want && this.handedOut < this.limit) {
      const i = this.#next;
      batch.buf[n] = this.#ring;
      batch.off[n] = this.#off[i];
      batch.len[n] = this.#len[i];
      batch.flags[n] = this.rxFlags;
      this.#next = i + 1 === this.#off.length ? 0 : i + 1;
      this.handedOut++;
      n++;
    }
    this.stats.rxFrames += n;
    batch.count = n;
    return n;
  }

  /** Nothing to give back. */
  release(batch: RxBatch): void {
    batch.count = 0;
  }

  /** Transmitted frames are counted and dropped. */
  transmit(_frame: Uint8Array, _off: number, len: number, _offload: TxOffload | null): boolean {
    this.stats.txFrames++;
    this.stats.txBytes += len;
    return true;
  }

  /** Nothing to push. */
  flush(): void {}

  /** Nothing to release. */
  close(): void {}
}

/** Options of {@link makeUdpRxRig}. */
export interface UdpRxRigOptions {
  /** Link MTU: 1500 (7 fragments per datagram) or 9000 (one frame) [1500]. */
  mtu?: number;
  /** UDP payload bytes per datagram [8900]. */
  payloadBytes?: number;
  /** Distinct datagrams in the ring (IP ids) [64]. */
  datagrams?: number;
  /** IPv4 (fragments with checksum 0) or IPv6 (fd00::1 → fd00::2, fragment headers) [4]. */
  family?: 4 | 6;
  /** IPv4: a computed UDP checksum, as a kernel sender writes it, instead of 0 [false]. */
  ipv4Checksum?: boolean;
  /** IPv6: write this UDP checksum instead of the computed one (a wrong one, say). */
  udpChecksum6?: number;
  /** The stack's clock [a `VirtualClock`: the rig ticks the stack itself]. */
  clock?: Clock;
}

/** The rig: a stack, its replay driver, a bound socket. */
export interface UdpRxRig {
  /** The receiving stack. */
  stack: Stack;
  /** Its driver. */
  driver: ReplayDriver;
  /** The socket bound to {@link RIG_PORT}. */
  socket: UdpEndpoint;
  /** Frames per datagram. */
  framesPerDatagram: number;
  /**
   * Let `datagrams` more datagrams in and drain them as they come (ticking the stack);
   * returns the datagrams taken off the socket.
   */
  receive(datagrams: number): number;
}

/**
 * Build the rig: the frames of `datagrams` datagrams (distinct IP ids, UDP checksum 0 — "none"
 * over IPv4 — so only the receive path's bookkeeping and copies run) in one ring buffer.
 *
 * @example
 * ```ts ignore
 * const rig = makeUdpRxRig({ mtu: 1500 });
 * rig.receive(2000); // warm-up
 * ```
 */
export function makeUdpRxRig(opts: UdpRxRigOptions = {}): UdpRxRig {
  if (opts.family === 6) return makeUdpRxRig6(opts);
  const mtu = opts.mtu ?? 1500;
  const payload = opts.payloadBytes ?? 8900;
  const count = opts.datagrams ?? 64;
  const udpLen = payload + 8;
  const perFrame = (mtu - 20) & ~7;
  const framesPerDatagram = Math.ceil(udpLen / perFrame);
  const slot = (mtu + 14 + 2 + 63) & ~63;
  const frames = count * framesPerDatagram;
  const ring = new Uint8Array(frames * slot);
  const off = new Int32Array(frames);
  const len = new Int32Array(frames);
  const whole = new Uint8Array(udpLen);
  writeUdpHeader(whole, 0, 5000, RIG_PORT, udpLen);
  for (let i = UDP_HEADER_BYTES; i < udpLen; i++) whole[i] = i & 0xff;
  if (opts.ipv4Checksum === true) {
    const sum = pseudoHeaderSumV4(RIG_SRC, RIG_DST.v4, IP_PROTO_UDP, udpLen);
    const ck = udpChecksumToWire(internetChecksum(whole, 0, udpLen, sum));
    whole[6] = ck >>> 8;
    whole[7] = ck & 0xff;
  }
  const ip = new Ipv4Repr();
  ip.src = RIG_SRC;
  ip.dst = RIG_DST.v4;
  ip.protocol = IP_PROTO_UDP;
  let f = 0;
  for (let d = 0; d < count; d++) {
    for (let k = 0; k < framesPerDatagram; k++, f++) {
      // As a TPACKET ring places it: the IP header 16-byte aligned (the MAC header 2 before).
      const o = f * slot + 2;
      const start = k * perFrame;
      const n = Math.min(perFrame, udpLen - start);
      writeEthernetHeader(ring, o, RIG_MAC, PEER_MAC, ETHERTYPE_IPV4);
      ip.id = 0x100 + d;
      ip.totalLength = 20 + n;
      ip.moreFragments = start + n < udpLen;
      ip.fragmentOffsetBytes = start;
      const h = ip.emit(ring, o + ETH_HEADER_BYTES);
      ring.set(whole.subarray(start, start + n), o + ETH_HEADER_BYTES + h);
      off[f] = o;
      len[f] = ETH_HEADER_BYTES + h + n;
    }
  }
  return receiverOn(new ReplayDriver(mtu, ring, off, len), 4, framesPerDatagram, opts.clock);
}

/**
 * The rig's receiving stack on `driver`: the family's address (IPv6 without duplicate address
 * detection, so it takes datagrams at once), a UDP socket on {@link RIG_PORT}, and `receive`.
 */
function receiverOn(
  driver: ReplayDriver,
  family: 4 | 6,
  framesPerDatagram: number,
  clock: Clock = new VirtualClock(1_000_000),
): UdpRxRig {
  const rng = new SeededRandom(7);
  const stack = new Stack({
    clock,
    poolBuffers: 256,
    random: () => rng.nextFloat(),
    ipv6: { iface: { addresses: { dadTransmits: 0 } } },
  });
  const nic = stack.addNic(driver);
  if (family === 4) stack.ipv4.addAddress(nic.index, RIG_DST.v4, 24);
  else stack.ipv6.addAddress(nic.index, RIG_DST6, 64);
  const socket = stack.udp.open(family);
  socket.bind(null, RIG_PORT);
  socket.receiveBufferBytes = 1 << 20;
  const peer = new UdpPeer();
  const sink = new Uint8Array(0);
  const receive = (datagrams: number): number => {
    driver.limit = driver.handedOut + datagrams * framesPerDatagram;
    let got = 0;
    // Bounded: every tick takes at least one frame until the limit.
    for (let t = 0; t < datagrams * framesPerDatagram + 8; t++) {
      stack.tick();
      while (socket.recvfrom(sink, 0, 0, peer) >= 0) got++;
      if (driver.handedOut >= driver.limit && !stack.hasPendingWork) break;
    }
    return got;
  };
  return { stack, driver, socket, framesPerDatagram, receive };
}

/** The IPv6 receiver's address. */
export const RIG_DST6: IpAddress = IpAddress.parse("fd00::2");
const RIG_SRC6 = IpAddress.parse("fd00::1");

/**
 * {@link makeUdpRxRig} over IPv6: each datagram in fragments of (MTU − 48) & ~7 bytes behind a
 * fragment header (a whole frame when it fits), the UDP checksum computed (IPv6 requires it).
 */
function makeUdpRxRig6(opts: UdpRxRigOptions): UdpRxRig {
  const mtu = opts.mtu ?? 1500;
  const payload = opts.payloadBytes ?? 8900;
  const count = opts.datagrams ?? 64;
  const udpLen = payload + 8;
  const fits = 40 + udpLen <= mtu;
  const perFrame = fits ? udpLen : (mtu - 40 - IPV6_FRAGMENT_HEADER_BYTES) & ~7;
  const framesPerDatagram = Math.ceil(udpLen / perFrame);
  const slot = (mtu + 14 + 2 + 63) & ~63;
  const frames = count * framesPerDatagram;
  const ring = new Uint8Array(frames * slot);
  const off = new Int32Array(frames);
  const len = new Int32Array(frames);
  const whole = new Uint8Array(udpLen);
  writeUdpHeader(whole, 0, 5000, RIG_PORT, udpLen);
  for (let i = UDP_HEADER_BYTES; i < udpLen; i++) whole[i] = i & 0xff;
  const addrs = new Uint8Array(32);
  writeIp6(addrs, 0, RIG_SRC6);
  writeIp6(addrs, 16, RIG_DST6);
  const sum = pseudoHeaderSumV6(addrs, 0, addrs, 16, IP_PROTO_UDP, udpLen);
  const ck = opts.udpChecksum6 ?? udpChecksumToWire(internetChecksum(whole, 0, udpLen, sum));
  whole[6] = ck >>> 8;
  whole[7] = ck & 0xff;
  const ip = new Ipv6Repr();
  ip.src = RIG_SRC6;
  ip.dst = RIG_DST6;
  let f = 0;
  for (let d = 0; d < count; d++) {
    for (let k = 0; k < framesPerDatagram; k++, f++) {
      const o = f * slot + 2;
      const start = k * perFrame;
      const n = Math.min(perFrame, udpLen - start);
      writeEthernetHeader(ring, o, RIG_MAC, PEER_MAC, ETHERTYPE_IPV6);
      let at = o + ETH_HEADER_BYTES;
      ip.nextHeader = fits ? IP_PROTO_UDP : IPV6_NH_FRAGMENT;
      ip.payloadLength = n + (fits ? 0 : IPV6_FRAGMENT_HEADER_BYTES);
      at += ip.emit(ring, at);
      if (!fits) {
        at += writeFragmentHeader(ring, at, IP_PROTO_UDP, start, start + n < udpLen, 0x100 + d);
      }
      ring.set(whole.subarray(start, start + n), at);
      off[f] = o;
      len[f] = at + n - o;
    }
  }
  return receiverOn(new ReplayDriver(mtu, ring, off, len), 6, framesPerDatagram);
}
