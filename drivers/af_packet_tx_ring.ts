/**
 * The transmit side of the AF_PACKET ring driver: a PACKET_MMAP TX ring of fixed-size slots.
 * `put` copies a frame (behind its virtio_net_hdr when the socket has one) into the next free
 * slot — the headers from one buffer and, for a TCP segment, the payload straight from its
 * send ring — and marks it SEND_REQUEST; `flush` kicks the kernel with one `sendto(fd, NULL, 0,
 * MSG_DONTWAIT)` when anything is pending — on this thread, or handed to a kicker thread
 * (`drivers/tx_kicker.ts`) as {@link TxKickPolicy} says. The slot layout is the same for TPACKET_V2 and V3
 * except for where the status, length and data sit ({@link TX_SLOT_V2}, {@link TX_SLOT_V3}):
 * PACKET_VERSION is per socket, so the TX ring has the RX ring's version.
 *
 * @module
 */

import {
  GSO_NONE,
  GSO_TCPV4,
  GSO_TCPV6,
  GSO_UDP,
  GSO_UDP_L4,
  type TxOffload,
} from "../link/driver.ts";

/** Offset of the UDP checksum in its header: a NEEDS_CSUM frame with it is a UDP datagram. */
const UDP_CSUM_OFFSET = 6;
import { ETH_HLEN, MSG_DONTWAIT, PAGE_BYTES } from "../ffi/constants.ts";
import { EAGAIN, ENOBUFS } from "../ffi/errno.ts";
import { sendto } from "../ffi/syscalls.ts";
import {
  T2_LEN,
  T2_STATUS,
  T2_TX_DATA,
  T3_LEN,
  T3_STATUS,
  T3_TX_DATA,
  TP_STATUS_SEND_REQUEST,
  TP_STATUS_TX_BUSY,
  tpacketAlign,
  tpacketFrameOffsets,
} from "../ffi/tpacket.ts";
import { VIRTIO_NET_HDR_LEN } from "../ffi/virtio_net.ts";
import { writeVnetHeader } from "./vnet_header.ts";
import { SubarrayCache } from "../core/subarray_cache.ts";
import type { Counters } from "../core/counters.ts";
import type { PayloadSource } from "../core/packet_buffer.ts";
import type { TxKicker } from "./tx_kicker.ts";
import type { UringTxKick } from "./tx_kick_uring.ts";

/** Bytes of one TX slot when vnetHdr is on: room for a 64 KB super-frame. */
export const AF_PACKET_RING_GSO_SLOT_BYTES = 64 * 1024;
/** TX slots are packed into blocks of about this size (without vnetHdr). */
const TX_BLOCK_TARGET_BYTES = 64 * 1024;
/** The zero-length buffer passed to the kick (`sendto(fd, NULL, 0, …)` in effect). */
const EMPTY = new Uint8Array(0);

/** Where a TX slot's fields are, from the slot start. */
export interface TxSlotLayout {
  /** `tp_status`: the slot's ownership word. */
  readonly status: number;
  /** `tp_len`: bytes to send (vnet header included). */
  readonly len: number;
  /** Where the data (vnet header, then frame) starts: `TPACKET*_HDRLEN - sizeof(sockaddr_ll)`. */
  readonly data: number;
}

/** TPACKET_V2 TX slot: status @0, len @4, data at +32. */
export const TX_SLOT_V2: TxSlotLayout = Object.freeze({
  status: T2_STATUS,
  len: T2_LEN,
  data: T2_TX_DATA,
});
/** TPACKET_V3 TX slot: len @16, status @20, data at +48 (`tp_next_offset` stays 0). */
export const TX_SLOT_V3: TxSlotLayout = Object.freeze({
  status: T3_STATUS,
  len: T3_LEN,
  data: T3_TX_DATA,
});

/** Sizes of a TX ring. */
export interface TxRingGeometry {
  /** Bytes per slot (header, vnet header and frame). */
  frameBytes: number;
  /** Bytes per block (whole pages). */
  blockBytes: number;
  /** Slots per block. */
  framesPerBlock: number;
  /** Number of blocks. */
  blocks: number;
}

/**
 * TX ring sizes: at least `frames` slots, each sized for the largest frame — a 64 KiB
 * super-frame with the vnet header, one MTU frame (plus a VLAN tag's worth of slack) without.
 *
 * @example
 * ```ts
 * txRingGeometry(TX_SLOT_V2, 1500, false, 10); // 1552-byte slots, 42 in one 64 KiB block
 * ```
 */
export function txRingGeometry(
  layout: TxSlotLayout,
  mtu: number,
  vnetHdr: boolean,
  frames: number,
): TxRingGeometry {
  // 64 KiB is also the kernel's largest GSO packet.
  const frameBytes = vnetHdr
    ? Math.max(
      AF_PACKET_RING_GSO_SLOT_BYTES,
      tpacketAlign(layout.data + VIRTIO_NET_HDR_LEN + mtu + ETH_HLEN + 4),
    )
    : tpacketAlign(layout.data + mtu + ETH_HLEN + 4);
  const blockBytes = Math.ceil(Math.max(frameBytes, TX_BLOCK_TARGET_BYTES) / PAGE_BYTES) *
    PAGE_BYTES;
  const framesPerBlock = Math.floor(blockBytes / frameBytes);
  return {
    frameBytes,
    blockBytes,
    framesPerBlock,
    blocks: Math.ceil(frames / framesPerBlock),
  };
}

/**
 * Where the TX ring's kicks run when a kicker thread exists: `"thread"` every end-of-tick kick
 * (a full ring's and the burst bound's stay on the stack's thread); `"auto"` those of a batch of at least `threadBytes` frame
 * bytes, and any made while the kicker is still awake or has a request it has not taken yet
 * (either way it takes the request without a wake-up), the rest on the stack's thread. Without a kicker every kick is synchronous.
 */
export type TxKickPolicy = "thread" | "auto";

/** Counters the TX ring keeps: the TX part of `AfPacketRingStats`. */
export interface TxRingCounters {
  /** Frames queued. */
  txFrames: number;
  /** Bytes queued. */
  txBytes: number;
  /** Frames refused. */
  txDropped: number;
  /** Times the next slot was still busy. */
  txRingFull: number;
  /** Kicks issued. */
  txKicks: number;
  /** Syscalls made. */
  syscalls: number;
  /** Kicks that failed with an error other than EAGAIN/ENOBUFS. */
  txKickErrors: number;
  /** Kicks handed to the kicker thread. */
  txKickHandoffs: number;
  /** Handoffs that had to wake a sleeping kicker. */
  txKickWakes: number;
  /** io_uring kick: kicks merged into a send in flight. */
  txKickMerges?: number;
  /**
   * With these three, the frame views' table ({@link TX_FRAME_VIEWS}) counts into this group
   * (`txFrameViewHits`, `…Misses`, `…Replaced`); without them, into a group of its own.
   */
  txFrameViewHits?: number;
  /** See {@link TxRingCounters.txFrameViewHits}. */
  txFrameViewMisses?: number;
  /** See {@link TxRingCounters.txFrameViewHits}. */
  txFrameViewReplaced?: number;
}

/** What a {@link TxRing} needs. */
export interface TxRingSetup {
  /** The socket. */
  fd: number;
  /** The one byte view of the whole mapping. */
  ring: Uint8Array;
  /** The same memory as u32 words. */
  words: Uint32Array;
  /** Where the TX ring starts in the mapping (after the RX ring). */
  base: number;
  /** Its sizes. */
  geometry: TxRingGeometry;
  /** Where a slot's fields are (the socket's TPACKET version). */
  layout: TxSlotLayout;
  /** Bytes of the vnet header in front of each frame (0 or 10). */
  vnetBytes: number;
  /** Counters to update. */
  stats: TxRingCounters;
  /** Kick as soon as this many frame bytes are queued (0: only at flush or when full). */
  kickBytes?: number;
  /** The kicker thread to hand kicks to (none: every kick on this thread). */
  kicker?: TxKicker | null;
  /**
   * "auto" without {@link TxRingSetup.kicker}: starts the kicker thread when the first batch
   * that would be handed to it is flushed (null: it could not start; kicks stay here). Until
   * then every kick runs on this thread. A ring that only ever carries small batches (many
   * short connections) never starts a thread: creating the process's first worker makes V8
   * drop the optimised code of ~90 functions (bench/README.md, "Connection CPU, fourth pass").
   */
  startKicker?: () => TxKicker | null;
  /** Which kicks go to the kicker; default "thread". */
  kickPolicy?: TxKickPolicy;
  /** "auto": hand off a flush once the tick queued this many frame bytes; default 48 KiB. */
  threadBytes?: number;
  /**
   * What a kick on this thread calls with `fd`: the kernel's `sendto(fd, NULL, 0, MSG_DONTWAIT)`
   * by default; an in-memory ring's own kernel stand-in (`drivers/af_packet_memory.ts`)
   * otherwise. Returns what `sendto` would (0, or `-errno`).
   */
  send?: (fd: number) => number;
  /**
   * The io_uring kick (`drivers/tx_kick_uring.ts`): the end of a tick's kick is queued to the
   * kernel's polling thread instead of made here (a full ring's and the burst bound's stay
   * synchronous, as with a kicker thread). None: every kick is a `sendto`.
   */
  uring?: UringTxKick | null;
}

/** The kernel's kick: `sendto(fd, NULL, 0, MSG_DONTWAIT)` ({@link TxRingSetup.send}). */
export function kernelKick(fd: number): number {
  return sendto(fd, EMPTY, 0, MSG_DONTWAIT, null);
}

/**
 * Default {@link TxRingSetup.threadBytes}: one full TCP super-segment. The largest one is a
 * whole number of segments below the kernel's 64 KiB GSO limit — 62,636 bytes of payload at
 * MTU 9000 (7 × 8,948), 65,160 at MTU 1500 (45 × 1,448), plus headers — so a 64 KiB threshold
 * missed it at MTU 9000 and every tick that sent one super-segment (a third of a bulk
 * sender's ticks) ran the kernel's transmit path, the peer's receive included, on the
 * stack's thread. 48 KiB takes one full super-segment at any MTU and still keeps a lossy
 * CUBIC window at MTU 1500 (~20 segments, 29 KB) and request/response on this thread.
 */
export const TX_KICK_DEFAULT_THREAD_BYTES = 48 * 1024;

/**
 * Places in a TX ring's table of frame views ({@link TxRing.put}'s copy of a frame longer than
 * 160 bytes out of a packet buffer at an offset: `subarray` made a ~100-byte view per frame, a
 * UDP sender's largest allocation). Frames come from the stack's packet pool, whose buffers
 * are reused with the same offset and length for a stream of same-sized datagrams or
 * fragments: a few dozen views in steady state; ~28 bytes a place plus the views made.
 */
export const TX_FRAME_VIEWS = 1024;

/**
 * A TX ring of fixed-size slots, filled in order. The caller validates frames and offloads;
 * this class owns the slots and the kicks.
 *
 * @example
 * ```ts
 * const tx = new TxRing({ fd, ring, words, base, geometry, layout: TX_SLOT_V2, vnetBytes: 10,
 *   stats });
 * if (tx.put(frame, 0, frame.length, null)) tx.flush();
 * ```
 */
export class TxRing {
  /** Number of slots. */
  readonly slots: number;
  #syncErrno = 0;
  readonly #fd: number;
  readonly #ring: Uint8Array;
  readonly #words: Uint32Array;
  readonly #slot: Int32Array;
  readonly #status: number;
  readonly #len: number;
  readonly #data: number;
  readonly #vnetBytes: number;
  readonly #stats: TxRingCounters;
  readonly #kickBytes: number;
  #kicker: TxKicker | null;
  #startKicker: (() => TxKicker | null) | null;
  readonly #auto: boolean;
  readonly #threadBytes: number;
  readonly #send: (fd: number) => number;
  readonly #uring: UringTxKick | null;
  #head = 0;
  #queued = 0;
  #queuedBytes = 0;
  /** Frame bytes queued since the last kick, super-frames included ("auto" policy). */
  #batchBytes = 0;
  /** Of those, bytes of frames known to be UDP datagrams (never a reason to hand off). */
  #datagramBytes = 0;
  #last = -1;
  #kickNeeded = false;
  /** Views of the frames copied into slots, reused (see {@link TX_FRAME_VIEWS}). */
  readonly #frameViews: SubarrayCache;

  /** Lay the slots out as `s.geometry` says. */
  constructor(s: TxRingSetup) {
    const g = s.geometry;
    this.slots = g.framesPerBlock * g.blocks;
    this.#kickBytes = s.kickBytes ?? 0;
    this.#kicker = s.kicker ?? null;
    this.#auto = s.kickPolicy === "auto";
    this.#startKicker = this.#kicker === null && this.#auto ? s.startKicker ?? null : null;
    this.#threadBytes = s.threadBytes ?? TX_KICK_DEFAULT_THREAD_BYTES;
    this.#fd = s.fd;
    this.#send = s.send ?? kernelKick;
    this.#uring = s.uring ?? null;
    this.#ring = s.ring;
    this.#words = s.words;
    this.#slot = tpacketFrameOffsets(
      s.base,
      this.slots,
      g.framesPerBlock,
      g.blockBytes,
      g.frameBytes,
    );
    this.#status = s.layout.status;
    this.#len = s.layout.len;
    this.#data = s.layout.data;
    this.#vnetBytes = s.vnetBytes;
    this.#stats = s.stats;
    const counted = s.stats.txFrameViewHits !== undefined;
    this.#frameViews = new SubarrayCache(
      TX_FRAME_VIEWS,
      counted ? s.stats as unknown as Counters : null,
      "txFrameView",
    );
  }

  /** Frame copies that found their source view in the ring's table (no allocation). */
  get frameViewHits(): number {
    return this.#frameViews.hits;
  }

  /** Frame copies that made a view (one allocation each; {@link TX_FRAME_VIEWS}). */
  get frameViewMisses(): number {
    return this.#frameViews.misses;
  }

  /** Frames queued since the last kick. */
  get pending(): number {
    return this.#queued;
  }

  /** errno of the last failed kick other than EAGAIN/ENOBUFS (either thread), or 0. */
  get lastErrno(): number {
    const u = this.#uring;
    if (u !== null && u.lastErrno !== 0) return u.lastErrno;
    const k = this.#kicker;
    if (k !== null) {
      k.collect(this.#stats);
      if (k.lastErrno !== 0) return k.lastErrno;
    }
    return this.#syncErrno;
  }

  /**
   * Copy `len` bytes of `frame` at `off` into the next slot (behind a vnet header written from
   * `offload`), then `payloadLength` bytes of `payload` from `payloadOffset` (a gathered
   * payload; none when null), and mark it for sending. When the slot is still busy: count
   * `txRingFull`, kick, and if it is still busy refuse (counted in txDropped); refused too
   * (txDropped) when `payload` holds fewer bytes. The frame was validated by the caller: it
   * fits a slot.
   */
  put(
    frame: Uint8Array,
    off: number,
    hdrLen: number,
    offload: TxOffload | null,
    payload: PayloadSource | null = null,
    payloadOffset = 0,
    payloadLength = 0,
  ): boolean {
    const stats = this.#stats;
    const slot = this.#head;
    const base = this.#slot[slot];
    const statusWord = (base + this.#status) >>> 2;
    const words = this.#words;
    if ((Atomics.load(words, statusWord) & TP_STATUS_TX_BUSY) !== 0) {
      stats.txRingFull++;
      this.kick();
      if ((Atomics.load(words, statusWord) & TP_STATUS_TX_BUSY) !== 0) {
        stats.txDropped++;
        return false;
      }
    }
    const ring = this.#ring;
    const len = payload === null ? hdrLen : hdrLen + payloadLength;
    let data = base + this.#data;
    if (this.#vnetBytes !== 0) {
      // A frame without GSO goes into the socket buffer's linear part whole (hdr_len = len):
      // measured on veth, ring pages attached instead cost a page allocation and a copy per
      // frame when the frame crosses into the peer's namespace (skb_copy_ubufs).
      // A UFO datagram (GSO_UDP) too: the kernel fragments a linear buffer by copying, where
      // fragments of ring pages would each be copied again on their way into the peer.
      const linear = offload === null || offload.gsoType === GSO_NONE ||
          offload.gsoType === GSO_UDP
        ? len
        : 0;
      writeVnetHeader(ring, data, offload, this.#vnetBytes, linear);
      data += this.#vnetBytes;
    }
    this.#frameViews.copy(frame, off, ring, data, hdrLen);
    if (
      payload !== null &&
      payload.peek(ring, data + hdrLen, payloadOffset, payloadLength) !== payloadLength
    ) {
      stats.txDropped++; // the slot stays ours (status untouched) and is reused next
      return false;
    }
    words[(base + this.#len) >>> 2] = len + this.#vnetBytes;
    // Publish last: the kernel reads the slot once it sees SEND_REQUEST.
    Atomics.store(words, statusWord, TP_STATUS_SEND_REQUEST);
    this.#head = slot + 1 === this.slots ? 0 : slot + 1;
    this.#last = slot;
    this.#queued++;
    this.#batchBytes += len;
    stats.txFrames++;
    stats.txBytes += len;
    const gso = offload === null ? GSO_NONE : offload.gsoType;
    // Frames known to be UDP datagrams (a UFO/USO super-datagram, or a UDP checksum offload)
    // are kicked on this thread whatever the policy: measured at MTU 1500 with UFO, kicks
    // handed to the kicker let the sender outrun a kernel receiver on the other CPU (received
    // 7.4 and 6.7 Gbit/s, half the datagrams dropped in its socket buffer, against 8.7 and 9.6
    // with every kick here).
    if (
      gso === GSO_UDP || gso === GSO_UDP_L4 ||
      (gso === GSO_NONE && offload !== null && offload.needsCsum &&
        offload.csumOffset === UDP_CSUM_OFFSET)
    ) this.#datagramBytes += len;
    // A burst the size of a receiver's socket buffer goes out before the next one is queued,
    // as a kernel sender's would (its socket buffer holds it back): one kick for a whole
    // tick's output can overrun a receiver that drains between deliveries.
    // TCP super-segments are not counted: TCP is clocked by its receiver's ACKs already.
    if (gso !== GSO_TCPV4 && gso !== GSO_TCPV6) {
      this.#queuedBytes += len;
      // Always on this thread, also with a kicker: the burst bound holds the sender back
      // until the burst is delivered; a handed-off kick would not (measured: UDP 8,900 B at
      // MTU 9000 overran the kernel receiver, received 0.6-0.7x of a synchronous kick's).
      if (this.#kickBytes > 0 && this.#queuedBytes >= this.#kickBytes) this.kick();
    }
    return true;
  }

  /**
   * Kick once if frames were queued since the last kick or some are still waiting to be sent
   * (the last kick left them: socket buffer full). With a kicker thread the kick may be handed
   * to it ({@link TxKickPolicy}); it then happens shortly after this returns.
   */
  flush(): void {
    const u = this.#uring;
    if (u !== null) {
      this.#flushUring(u);
      return;
    }
    let k = this.#kicker;
    if (
      k === null && this.#startKicker !== null &&
      this.#batchBytes - this.#datagramBytes >= this.#threadBytes
    ) k = this.#startLazyKicker();
    if (k === null) {
      if (this.#queued > 0 || this.#kickNeeded) this.kick();
      return;
    }
    k.collect(this.#stats);
    // A handed-off kick completes later: whether frames still wait is read now, not after it.
    if (this.#queued > 0 || this.#lastWaiting()) this.#kickSoon();
  }

  /**
   * Hand the kick to the kicker thread when the policy says so and it runs, else kick now. A
   * kick the kicker was asked for and has not taken yet (it is waking up) is always left to it:
   * it covers every frame published before it takes the request, and asking again costs no
   * wake-up. Kicking here then only raced it for the ring's lock — measured at MTU 9000: ~3,800
   * such kicks in 8 s on the stack's thread, each running the kernel's transmit path and the
   * peer's receive for frames the kicker was about to send.
   */
  #kickSoon(): void {
    const k = this.#kicker;
    if (
      k !== null &&
      (!this.#auto || this.#batchBytes - this.#datagramBytes >= this.#threadBytes || k.awake ||
        k.pending) &&
      k.request(this.#stats)
    ) {
      this.#queued = 0;
      this.#queuedBytes = 0;
      this.#batchBytes = 0;
      this.#datagramBytes = 0;
      this.#kickNeeded = false;
      return;
    }
    this.kick();
  }

  /**
   * The io_uring's end-of-tick kick: read its completions, then queue a send when frames were
   * queued since the last kick, or when none is in flight and the newest slot still waits (a
   * kick merged into a send that had passed it, or a send the socket buffer cut short).
   */
  #flushUring(u: UringTxKick): void {
    const stats = this.#stats;
    u.reap(stats);
    if (this.#queued > 0 || (!u.inFlight && this.#lastWaiting())) {
      u.request(stats);
      this.#queued = 0;
      this.#queuedBytes = 0;
      this.#batchBytes = 0;
      this.#datagramBytes = 0;
      this.#kickNeeded = false;
    }
  }

  /**
   * io_uring kick only (no-op otherwise): read its completions, and if the send in flight
   * completed just now and the newest slot still waits, queue another. For the busy poll,
   * which receives without ticking: a kick merged into a send that passed its frames goes out
   * without waiting for the next tick.
   */
  serviceKick(): void {
    const u = this.#uring;
    if (u !== null && u.reap(this.#stats) && this.#lastWaiting()) u.request(this.#stats);
  }

  /** The kicker thread, once it exists (started by the first bulk batch under "auto"). */
  get kicker(): TxKicker | null {
    return this.#kicker;
  }

  /** Start the lazy kicker, once: a kicker that cannot start is not asked for again. */
  #startLazyKicker(): TxKicker | null {
    const start = this.#startKicker!;
    this.#startKicker = null;
    this.#kicker = start();
    return this.#kicker;
  }

  /** True when the newest slot still waits for a kick (SEND_REQUEST). */
  #lastWaiting(): boolean {
    return this.#last >= 0 &&
      Atomics.load(this.#words, (this.#slot[this.#last] + this.#status) >>> 2) ===
        TP_STATUS_SEND_REQUEST;
  }

  /**
   * One `sendto(fd, NULL, 0, MSG_DONTWAIT)` on this thread: the kernel sends every
   * SEND_REQUEST slot. (With a kicker thread in a `sendto` of its own, the kernel runs the two
   * one after the other: it holds the ring's lock.)
   */
  kick(): void {
    const r = this.#send(this.#fd);
    const stats = this.#stats;
    stats.syscalls++;
    stats.txKicks++;
    if (r < 0 && r !== -EAGAIN && r !== -ENOBUFS) {
      this.#syncErrno = -r;
      stats.txKickErrors++;
    }
    this.#queued = 0;
    this.#queuedBytes = 0;
    this.#batchBytes = 0;
    this.#datagramBytes = 0;
    // The kernel sends in ring order: if the newest slot still waits, so may others (socket
    // buffer full, device busy). The next flush kicks again.
    this.#kickNeeded = this.#lastWaiting();
  }

  /** Forget queued work (the socket is closing). */
  abandon(): void {
    this.#queued = 0;
    this.#queuedBytes = 0;
    this.#batchBytes = 0;
    this.#datagramBytes = 0;
    this.#kickNeeded = false;
  }
}
