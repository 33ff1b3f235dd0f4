/**
 * The kernel's half of two AF_PACKET TPACKET_V2 rings, in memory: what lets two
 * {@link AfPacketRingDriver}s talk to each other with no socket and no interface
 * (`AfPacketRingDriver.memoryPair`). A kick of one side's TX ring does what the kernel's
 * `tpacket_snd` and a veth pair's receive do for it: every SEND_REQUEST slot, in ring order, is
 * copied into the other side's RX ring (`tpacket_rcv`: frame header, `sockaddr_ll`, the vnet
 * header in front of the Ethernet header, TP_STATUS_USER last) and the TX slot handed back
 * (TP_STATUS_AVAILABLE). The layout of the slots is the real one, so the driver's own walkers
 * read and write them unchanged.
 *
 * Why it exists: the connection warm-up (`stack/conn_warm_up.ts`) runs its private stacks on
 * the same driver class, ring walkers and object shapes as the real interface, so that V8's
 * compiled code and type feedback from the warm-up fit the first real connections instead of
 * being thrown away at them (measured: a warm-up over the simulated wire left 40
 * deoptimisations and 125 compilations for the first 5,000 real connections).
 *
 * Kernel behaviour kept: a frame the RX ring has no free slot for is dropped and counted (the
 * ring's next frame says TP_STATUS_LOSING, as the kernel marks it); with MTU-sized slots
 * (PACKET_COPY_THRESH) a frame too big for its slot gets a cut-short copy flagged
 * TP_STATUS_COPY and its whole copy waits in a bounded queue read by `readCopy`, as on the
 * socket queue; without copy mode it is cut short (the walker drops it). A frame whose vnet
 * header asks for a checksum (NEEDS_CSUM) arrives TP_STATUS_CSUMNOTREADY with that header, as
 * a CHECKSUM_PARTIAL frame crosses a veth pair. Each side receives only what the other sends
 * (no looped-back copies: PACKET_IGNORE_OUTGOING).
 *
 * @module
 */

import { AF_PACKET, PACKET_HOST, TP_STATUS_CSUMNOTREADY } from "../ffi/constants.ts";
import {
  SLL_ADDR,
  SLL_FAMILY,
  SLL_HALEN,
  SLL_HATYPE,
  SLL_IFINDEX,
  SLL_PKTTYPE,
  SLL_PROTOCOL,
} from "../ffi/structs.ts";
import {
  T2_LEN,
  T2_MAC,
  T2_NET,
  T2_NSEC,
  T2_RX_SOCKADDR,
  T2_SEC,
  T2_SNAPLEN,
  T2_STATUS,
  T2_TX_DATA,
  TP_STATUS_AVAILABLE,
  TP_STATUS_COPY,
  TP_STATUS_KERNEL,
  TP_STATUS_LOSING,
  TP_STATUS_SEND_REQUEST,
  TP_STATUS_USER,
  TPACKET2_HDRLEN,
} from "../ffi/tpacket.ts";
import { VIRTIO_NET_HDR_F_NEEDS_CSUM } from "../ffi/virtio_net.ts";
import { copyBytes } from "../core/copy_bytes.ts";

/** `ARPHRD_ETHER`. */
const ARPHRD_ETHER = 1;
/** `sll_pkttype` of a broadcast frame. */
const PACKET_BROADCAST = 1;
/** `sll_pkttype` of a multicast frame. */
const PACKET_MULTICAST = 2;
/** `sll_pkttype` of a frame for another host. */
const PACKET_OTHERHOST = 3;
/**
 * Bytes of whole copies of oversized frames waiting for `readCopy`, at most (per side): the
 * socket receive buffer of copy mode (the real driver asks for 16 MiB).
 */
export const MEMORY_COPY_QUEUE_BYTES = 4 << 20;

/** One side's ring memory and geometry, as its driver laid it out. */
export interface MemoryRingSide {
  /** The whole mapping stand-in (RX ring, then TX ring). */
  ring: Uint8Array;
  /** The same memory as u32 words. */
  words: Uint32Array;
  /** Where each RX slot starts. */
  rxSlots: Int32Array;
  /** Bytes per RX slot. */
  rxFrameBytes: number;
  /** MTU-sized RX slots: an oversized frame goes whole to the copy queue. */
  rxCopyMode: boolean;
  /** Where each TX slot starts. */
  txSlots: Int32Array;
  /** Bytes of vnet header in front of each frame (0 or 10). */
  vnetBytes: number;
  /** This side's interface index (in `sockaddr_ll`). */
  ifindex: number;
  /** This side's MAC address. */
  mac: Uint8Array;
  /**
   * The split receive's second RX ring (64 KiB slots, its own memory), or null: frames longer
   * than {@link MemoryLargeRing.above} Ethernet bytes go there, the rest to the first ring, as
   * the two sockets' length filters share them out (`drivers/frame_length_steering.ts`).
   */
  large: MemoryLargeRing | null;
}

/** The split receive's ring of large slots of one {@link MemoryRingSide}. */
export interface MemoryLargeRing {
  /** Its memory. */
  ring: Uint8Array;
  /** The same memory as u32 words. */
  words: Uint32Array;
  /** Where each slot starts. */
  slots: Int32Array;
  /** Bytes per slot. */
  frameBytes: number;
  /** Frames longer than this (Ethernet bytes) come here. */
  above: number;
}

/** Counters of a {@link MemoryPacketLink}. */
export class MemoryPacketLinkStats {
  /** Frames carried from one ring to the other. */
  frames = 0;
  /** Frame bytes carried. */
  bytes = 0;
  /** Frames dropped: no free RX slot, or the copy queue full. */
  dropped = 0;
  /** Frames cut short in an RX slot (no copy mode); the receiving walker drops them. */
  truncated = 0;
  /** Kicks. */
  kicks = 0;
}

/** One RX ring of a side, as {@link MemoryPacketLink} writes it. */
class RxRing {
  readonly ring: Uint8Array;
  readonly words: Uint32Array;
  readonly slots: Int32Array;
  readonly frameBytes: number;
  /** MTU-sized slots: an oversized frame goes whole to the side's copy queue. */
  readonly copyMode: boolean;
  next = 0;
  losing = false;
  constructor(
    ring: Uint8Array,
    words: Uint32Array,
    slots: Int32Array,
    frameBytes: number,
    copyMode: boolean,
  ) {
    this.ring = ring;
    this.words = words;
    this.slots = slots;
    this.frameBytes = frameBytes;
    this.copyMode = copyMode;
  }
}

class Side {
  readonly s: MemoryRingSide;
  readonly rx: RxRing;
  readonly large: RxRing | null;
  readonly largeAbove: number;
  txNext = 0;
  /** Frames dropped on the way to this side since {@link MemoryPacketLink.takeDrops}. */
  drops = 0;
  readonly copies: Uint8Array[] = [];
  copyBytes = 0;
  constructor(s: MemoryRingSide) {
    this.s = s;
    this.rx = new RxRing(s.ring, s.words, s.rxSlots, s.rxFrameBytes, s.rxCopyMode);
    const l = s.large;
    this.large = l === null ? null : new RxRing(l.ring, l.words, l.slots, l.frameBytes, false);
    this.largeAbove = l === null ? Infinity : l.above;
  }
}

/**
 * Two rings joined as if by a veth pair (see the module documentation). Attach both sides,
 * then side `i`'s driver kicks with `kick(i)` and reads copied frames with `readCopy(i, buf)`.
 *
 * @example
 * ```ts ignore
 * const link = new MemoryPacketLink();
 * link.attach(0, sideA);
 * link.attach(1, sideB);
 * link.kick(0); // A's SEND_REQUEST slots are now in B's RX ring
 * ```
 */
export class MemoryPacketLink {
  /** Counters. */
  readonly stats: MemoryPacketLinkStats = new MemoryPacketLinkStats();
  readonly #sides: (Side | null)[] = [null, null];
  /** The last stamp written (epoch s, ns): each frame's is later, as the merge needs. */
  #stampSec = 0;
  #stampNsec = 0;

  /** Attach side `i` (0 or 1). */
  attach(i: 0 | 1, side: MemoryRingSide): void {
    this.#sides[i] = new Side(side);
  }

  /**
   * Take side `i` off the link (its driver is closing and its memory goes): what the other side
   * sends from now on is dropped and counted, as a veth pair drops once one end is gone.
   */
  detach(i: 0 | 1): void {
    this.#sides[i] = null;
  }

  /**
   * Send every SEND_REQUEST slot of side `from`'s TX ring to the other side, in ring order;
   * returns 0 (what `sendto` returns for the kick). Without the other side the slots are
   * handed back and their frames dropped (counted).
   */
  kick(from: 0 | 1): number {
    const a = this.#sides[from];
    const b = this.#sides[from ^ 1];
    if (a === null) return 0;
    this.stats.kicks++;
    const s = a.s;
    const words = s.words;
    const slots = s.txSlots;
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[a.txNext];
      const statusWord = (slot + T2_STATUS) >>> 2;
      if (Atomics.load(words, statusWord) !== TP_STATUS_SEND_REQUEST) break;
      const len = words[(slot + T2_LEN) >>> 2];
      const data = slot + T2_TX_DATA;
      if (b !== null && len >= s.vnetBytes && data + len <= s.ring.length) {
        this.#deliver(b, s.ring, data, len, s.vnetBytes);
      } else this.stats.dropped++;
      Atomics.store(words, statusWord, TP_STATUS_AVAILABLE);
      a.txNext = a.txNext + 1 === slots.length ? 0 : a.txNext + 1;
    }
    return 0;
  }

  /**
   * Frames dropped on their way to side `i` since the last call, as PACKET_STATISTICS's
   * `tp_drops` (reset on read).
   */
  takeDrops(i: 0 | 1): number {
    const side = this.#sides[i];
    if (side === null) return 0;
    const n = side.drops;
    side.drops = 0;
    return n;
  }

  /**
   * The next whole copy of an oversized frame for side `i` (vnet header first) into `buf`; its
   * length, or -11 (EAGAIN) when none waits.
   */
  readCopy(i: 0 | 1, buf: Uint8Array): number {
    const side = this.#sides[i];
    const frame = side?.copies.shift();
    if (frame === undefined) return -11;
    side!.copyBytes -= frame.length;
    const n = Math.min(frame.length, buf.length);
    copyBytes(frame, 0, buf, 0, n);
    return n;
  }

  /** Put `len` bytes at `src[off]` (vnet header, then the frame) into `to`'s RX ring. */
  #deliver(to: Side, src: Uint8Array, off: number, len: number, srcVnet: number): void {
    const stats = this.stats;
    const r = to.s;
    const frameLen = len - srcVnet;
    // The split receive: a frame too long for the first socket's filter takes the second ring.
    const rx = frameLen > to.largeAbove && to.large !== null ? to.large : to.rx;
    const slot = rx.slots[rx.next];
    const words = rx.words;
    const statusWord = (slot + T2_STATUS) >>> 2;
    if (Atomics.load(words, statusWord) !== TP_STATUS_KERNEL) {
      stats.dropped++;
      to.drops++;
      rx.losing = true;
      return;
    }
    const vnet = r.vnetBytes;
    // tpacket_rcv: netoff = TPACKET_ALIGN(hdrlen + max(maclen, 16)) + vnet header; mac 14 before.
    const mac = ((TPACKET2_HDRLEN + 16 + 15) & ~15) + vnet - 14;
    const room = rx.frameBytes - mac;
    let status = TP_STATUS_USER;
    let snap = frameLen;
    if (frameLen > room) {
      snap = room;
      if (rx.copyMode) {
        if (to.copyBytes + vnet + frameLen > MEMORY_COPY_QUEUE_BYTES) {
          stats.dropped++;
          to.drops++;
          rx.losing = true;
          return;
        }
        const whole = new Uint8Array(vnet + frameLen);
        if (vnet !== 0 && srcVnet !== 0) copyBytes(src, off, whole, 0, vnet);
        copyBytes(src, off + srcVnet, whole, vnet, frameLen);
        to.copies.push(whole);
        to.copyBytes += whole.length;
        status |= TP_STATUS_COPY;
      } else stats.truncated++;
    }
    const ring = rx.ring;
    const at = slot + mac;
    if (vnet !== 0) {
      if (srcVnet !== 0) {
        copyBytes(src, off, ring, at - vnet, vnet);
        if ((src[off] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) status |= TP_STATUS_CSUMNOTREADY;
      } else ring.fill(0, at - vnet, at);
    }
    copyBytes(src, off + srcVnet, ring, at, snap);
    if (rx.losing) {
      status |= TP_STATUS_LOSING;
      rx.losing = false;
    }
    const fw = slot >>> 2;
    words[fw + (T2_LEN >>> 2)] = frameLen;
    words[fw + (T2_SNAPLEN >>> 2)] = snap;
    ring[slot + T2_MAC] = mac & 0xff;
    ring[slot + T2_MAC + 1] = mac >>> 8;
    const net = mac + 14;
    ring[slot + T2_NET] = net & 0xff;
    ring[slot + T2_NET + 1] = net >>> 8;
    // Stamps strictly increase (the kernel's are nanoseconds): the split receive's merge takes
    // the earlier of two heads, a tie going to the large ring.
    const now = Date.now();
    let sec = Math.floor(now / 1000);
    let nsec = (now % 1000) * 1e6;
    if (sec < this.#stampSec || (sec === this.#stampSec && nsec <= this.#stampNsec)) {
      sec = this.#stampSec;
      nsec = this.#stampNsec + 1;
      if (nsec >= 1e9) {
        sec++;
        nsec = 0;
      }
    }
    this.#stampSec = sec;
    this.#stampNsec = nsec;
    words[fw + (T2_SEC >>> 2)] = sec;
    words[fw + (T2_NSEC >>> 2)] = nsec;
    const sll = slot + T2_RX_SOCKADDR;
    ring[sll + SLL_FAMILY] = AF_PACKET;
    ring[sll + SLL_FAMILY + 1] = 0;
    // sll_protocol: the EtherType, network order (as it sits in the frame).
    ring[sll + SLL_PROTOCOL] = src[off + srcVnet + 12];
    ring[sll + SLL_PROTOCOL + 1] = src[off + srcVnet + 13];
    const ifindex = r.ifindex;
    for (let i = 0; i < 4; i++) ring[sll + SLL_IFINDEX + i] = (ifindex >>> (8 * i)) & 0xff;
    ring[sll + SLL_HATYPE] = ARPHRD_ETHER;
    ring[sll + SLL_HATYPE + 1] = 0;
    ring[sll + SLL_PKTTYPE] = pktType(src, off + srcVnet, r.mac);
    ring[sll + SLL_HALEN] = 6;
    copyBytes(src, off + srcVnet + 6, ring, sll + SLL_ADDR, 6);
    stats.frames++;
    stats.bytes += frameLen;
    // Publish last: the walker reads the slot once it sees USER.
    Atomics.store(words, statusWord, status);
    rx.next = rx.next + 1 === rx.slots.length ? 0 : rx.next + 1;
  }
}

/** `sll_pkttype` of the frame at `f` as seen by the interface with `mac`. */
function pktType(frame: Uint8Array, f: number, mac: Uint8Array): number {
  if ((frame[f] & 1) !== 0) {
    let all = true;
    for (let i = 0; i < 6; i++) if (frame[f + i] !== 0xff) all = false;
    return all ? PACKET_BROADCAST : PACKET_MULTICAST;
  }
  for (let i = 0; i < 6; i++) if (frame[f + i] !== mac[i]) return PACKET_OTHERHOST;
  return PACKET_HOST;
}
