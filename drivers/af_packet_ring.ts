/**
 * The fast AF_PACKET frame pump: PACKET_MMAP rings shared with the kernel, so the steady state
 * makes no syscall per frame in either direction.
 *
 * - **RX** (`drivers/af_packet_rx_ring.ts`), two ring versions:
 *   - `rxRing: "v2"` (default), TPACKET_V2: fixed-size frame slots, each sized for a 64 KB
 *     GRO/GSO super-frame and each with its own status word, so a frame is ours the moment
 *     the kernel has written it. Default 525 slots (512 asked, whole 1 MiB blocks of 15).
 *   - `rxRing: "v3"`, TPACKET_V3: blocks the kernel packs with frames and hands over whole —
 *     full, or after the retire timeout (`rxRetireMs`, ≥ 1 ms). Dense (a 256 KiB block holds
 *     thousands of ACKs), but a frame that does not fill its block waits for the timer
 *     (measured 0.45 ms median extra delay against `recvmmsg` on Linux 6.18; a jiffy-based
 *     timer rounds it up to a tick). Under a bulk send, whose only inbound frames are ACKs,
 *     that delay lands on every ACK; on a request/response exchange, on every request.
 *     Measured on a veth pair (`bench/af_packet_rx_ring_tcp.ts`): 64-byte TCP round trips to a
 *     kernel echo p50 ~1,000 µs with V3 against 50–120 µs with V2.
 *
 *   Either way {@link AfPacketRingDriver.receive} walks the ring in place and hands out views
 *   into it — `RxBatch.buf[i]` is always the one view of the mapping made at open, with
 *   `off`/`len` per frame — and {@link AfPacketRingDriver.release} gives the frames (V2) or
 *   blocks (V3) back to the kernel. No syscall at all on receive.
 * - **TX** (`drivers/af_packet_tx_ring.ts`): a ring of fixed slots of the same TPACKET version
 *   (PACKET_VERSION is per socket). `transmit` copies the frame into the next free slot and
 *   marks it SEND_REQUEST; `flush` kicks the kernel with one `sendto(fd, NULL, 0,
 *   MSG_DONTWAIT)` when anything is pending.
 * - **Offloads** (`vnetHdr`, on by default): every frame in both rings is preceded by a 10-byte
 *   `virtio_net_hdr`. On TX it carries partial-checksum and segmentation requests (TCP
 *   super-segments up to {@link AfPacketRingDriver.maxGsoBytes}); on RX it says whether the
 *   kernel left a checksum unfinished or verified it, and whether the frame is a GRO/GSO
 *   super-frame. To take 64 KB super-frames every TX slot is 64 KiB with the header on; without
 *   it slots are MTU-sized.
 *
 * Memory: RX ring V2 `rxFrames` slots of 68 KiB (default 525 = 35 MiB), V3 `rxBlocks ×
 * rxBlockBytes` (default 32 × 256 KiB = 8 MiB); TX ring `txFrames` slots (default 128; 64 KiB
 * each with vnetHdr = 8 MiB, ~1.5 KiB each at MTU 1500 without). A V2 slot holds one frame
 * whatever its size: when a peer sends MTU-sized frames at a high rate (no GSO/GRO on its
 * side) a V2 ring overflows long before 8 MiB of V3 blocks would (see
 * {@link AF_PACKET_RING_DEFAULT_RX_FRAMES}) — raise `rxFrames` or use V3 there.
 *
 * Qdisc bypass caveat (measured): with PACKET_QDISC_BYPASS the kernel drops any frame it would
 * have to segment in software, so with vnetHdr the bypass is only used when the device does
 * TCP segmentation itself (see {@link AfPacketRingDriver.qdiscBypass}).
 *
 * @module
 */

import {
  DriverStats,
  GSO_NONE,
  GSO_UDP_L4,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  type RxBatch,
  type TxOffload,
} from "../link/driver.ts";
import {
  ETH_HLEN,
  MAP_SHARED,
  PACKET_QDISC_BYPASS,
  PACKET_RX_RING,
  PACKET_TX_RING,
  PACKET_VERSION,
  PACKET_VNET_HDR,
  PAGE_BYTES,
  PROT_READ,
  PROT_WRITE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOL_PACKET,
  SOL_SOCKET,
  TPACKET_V2,
  TPACKET_V3,
} from "../ffi/constants.ts";
import { netdevFeatures } from "../ffi/ethtool.ts";
import { allocStruct } from "../ffi/structs.ts";
import { mmap, setsockopt, setsockoptInt } from "../ffi/syscalls.ts";
import {
  PACKET_LOSS,
  packetStatisticsCells,
  readPacketStatistics,
  STATS_DROPS,
  STATS_FREEZE_Q_CNT,
  tpacketReq,
  tpacketReq3,
} from "../ffi/tpacket.ts";
import {
  AF_PACKET_RING_V2_BLOCK_BYTES,
  AF_PACKET_RING_V2_FRAME_BYTES,
  AF_PACKET_RING_V2_FRAMES_PER_BLOCK,
  type RxRing,
  RxRingV2,
  RxRingV3,
} from "./af_packet_rx_ring.ts";
import {
  TX_SLOT_V2,
  TX_SLOT_V3,
  TxRing,
  type TxRingGeometry,
  txRingGeometry,
} from "./af_packet_tx_ring.ts";
import { VIRTIO_NET_HDR_LEN } from "../ffi/virtio_net.ts";
import { asksOffload, closedError, intOption, txFrameInBounds } from "./driver_util.ts";
import { type LinkInfo, openOnInterface, queryLink } from "./interface_open.ts";
import {
  AF_PACKET_CAPABILITIES,
  bindPacketSocket,
  ignoreOutgoing,
  openPacketSocket,
} from "./packet_socket.ts";
import type { ResourceStack } from "./resource_stack.ts";

export {
  AF_PACKET_RING_V2_BLOCK_BYTES,
  AF_PACKET_RING_V2_FRAME_BYTES,
  AF_PACKET_RING_V2_FRAMES_PER_BLOCK,
} from "./af_packet_rx_ring.ts";
export { AF_PACKET_RING_GSO_SLOT_BYTES } from "./af_packet_tx_ring.ts";

/** RX ring version: `"v2"` (per-frame hand-over, the default) or `"v3"` (blocks). */
export type AfPacketRxRingVersion = "v2" | "v3";
/** Default RX ring version. */
export const AF_PACKET_RING_DEFAULT_RX_RING: AfPacketRxRingVersion = "v2";
/**
 * Default number of V2 RX frame slots asked for (rounded up to whole blocks: 525 slots, 35 MiB).
 * Measured on a veth pair, kernel → ustack bulk TCP for 3 s with the peer's TSO off (every
 * frame MTU-sized, ~200k frames/s): 270 slots dropped ~15,000 frames and lost a third of the
 * throughput, 525 dropped 17–1,339 at full throughput, 1,035 none. With the peer's offloads on
 * (64 KB super-frames) no size dropped any.
 */
export const AF_PACKET_RING_DEFAULT_RX_FRAMES = 512;
/** Default bytes per V3 RX block. */
export const AF_PACKET_RING_DEFAULT_RX_BLOCK_BYTES = 256 * 1024;
/**
 * Smallest V3 RX block: a 64 KiB super-frame plus its frame header, vnet header and the block
 * descriptor must fit in one block (the kernel cuts larger frames short).
 */
export const AF_PACKET_RING_MIN_RX_BLOCK_BYTES = 128 * 1024;
/** Default number of V3 RX blocks. */
export const AF_PACKET_RING_DEFAULT_RX_BLOCKS = 32;
/** Default V3 RX block retire timeout (ms). */
export const AF_PACKET_RING_DEFAULT_RX_RETIRE_MS = 1;
/** Default number of TX slots. */
export const AF_PACKET_RING_DEFAULT_TX_FRAMES = 128;
/** The driver's class name, for messages. */
const DRIVER = "AfPacketRingDriver";
/** `tp_frame_size` declared for the V3 RX ring (V3 frames are variable; only checked). */
const RX_V3_DECLARED_FRAME_BYTES = 2048;

/** Options of {@link AfPacketRingDriver.open}. */
export interface AfPacketRingOptions {
  /** Interface to bind (e.g. `"us0"`). */
  ifname: string;
  /** Named network namespace (`ip netns`) the interface lives in; default: the current one. */
  netns?: string;
  /** Use a smaller MTU than the link's (bytes of IP per frame); default: the link's MTU. */
  mtu?: number;
  /** Prefix frames with a virtio_net_hdr (checksum and segmentation offloads); default true. */
  vnetHdr?: boolean;
  /**
   * Transmit straight to the device, bypassing the qdisc (PACKET_QDISC_BYPASS); default true.
   * With vnetHdr it is only turned on when the device does TCP segmentation itself (see
   * {@link AfPacketRingDriver.qdiscBypass}).
   */
  qdiscBypass?: boolean;
  /**
   * RX ring version; default `"v2"`: each frame is handed over the moment the kernel wrote it.
   * `"v3"` packs frames into blocks handed over when full or after `rxRetireMs` — denser, but
   * a lone frame waits for the timer. The TX ring takes the same version (one per socket).
   */
  rxRing?: AfPacketRxRingVersion;
  /**
   * V2 only: RX frame slots, at least (rounded up to whole blocks of
   * {@link AF_PACKET_RING_V2_FRAMES_PER_BLOCK}; 1..65535); default 512 (525 slots, 35 MiB).
   */
  rxFrames?: number;
  /** V3 only: bytes per RX block, a multiple of 4096, at least 128 KiB; default 256 KiB. */
  rxBlockBytes?: number;
  /** V3 only: number of RX blocks (2..65536); default 32. */
  rxBlocks?: number;
  /** V3 only: hand a partly filled RX block over after this many ms (1..1000); default 1. */
  rxRetireMs?: number;
  /** TX slots, at least (rounded up to whole blocks; 1..65536); default 128. */
  txFrames?: number;
  /**
   * Offer UDP segmentation offload (`gso_type` 5, Linux ≥ 6.2) when vnetHdr is on; default
   * true (reported only if the qdisc is not bypassed or the device does USO itself). Set false
   * for older kernels.
   */
  udpSegmentationOffload?: boolean;
}

/**
 * {@link DriverStats} plus the ring driver's own counters. `syscalls` counts kicks and
 * statistics reads; receive makes none. `rxDropped` includes the kernel's ring drops
 * (`rxKernelDrops`), read with PACKET_STATISTICS when a frame (V2) or block (V3) says frames
 * were lost, and by {@link AfPacketRingDriver.refreshStats}.
 */
export class AfPacketRingStats extends DriverStats {
  /** RX blocks taken from the kernel (V3 only). */
  rxBlocks = 0;
  /** Looped-back copies of our own transmissions skipped (PACKET_OUTGOING). */
  rxOutgoingSkipped = 0;
  /** Frames the kernel cut short to fit a block or slot (also counted in rxDropped). */
  rxTruncated = 0;
  /** Frames the kernel dropped because no block or slot was free (also counted in rxDropped). */
  rxKernelDrops = 0;
  /** Times the kernel found the whole V3 RX ring in user hands (`tp_freeze_q_cnt`). */
  rxRingFreezes = 0;
  /** Frames refused for exceeding the MTU or, with GSO, maxGsoBytes (also in txDropped). */
  txOversize = 0;
  /** Frames refused for asking an offload the driver does not do (also in txDropped). */
  txOffloadRefused = 0;
  /** Kicks that failed with an error other than EAGAIN/ENOBUFS. */
  txKickErrors = 0;
}

/** Sizes of both rings, derived from the options and the MTU. */
interface RingGeometry {
  rxRing: AfPacketRxRingVersion;
  rxBlockBytes: number;
  rxBlocks: number;
  /** V2: slots; V3: 0 (frames are variable). */
  rxFrames: number;
  /** V3: retire timeout; V2: 0. */
  rxRetireMs: number;
  tx: TxRingGeometry;
}

/** Validated ring sizes asked for. */
interface RingSizes {
  rxRing: AfPacketRxRingVersion;
  rxFrames: number;
  rxBlockBytes: number;
  rxBlocks: number;
  rxRetireMs: number;
  txFrames: number;
}

/** What `open` set up, handed to the constructor. */
interface OpenedRing {
  fd: number;
  /** The socket and the mapping, released by `close()`. */
  resources: ResourceStack;
  link: LinkInfo;
  vnetHdr: boolean;
  qdiscBypass: boolean;
  ignoresOutgoing: boolean;
  uso: boolean;
  geometry: RingGeometry;
  map: Deno.PointerObject;
  mapBytes: number;
}

/**
 * A {@link LinkDriver} over AF_PACKET with mmap'ed TPACKET_V2 (default) or V3 RX and TX rings.
 * Needs CAP_NET_RAW (CAP_NET_ADMIN too for the large send buffer; without it the default
 * applies).
 *
 * @example
 * ```ts
 * const driver = AfPacketRingDriver.open({ ifname: "us0", netns: "ustk-1-s" });
 * const batch = new RxBatch(64);
 * const n = driver.receive(batch, 64);
 * // ... parse batch.buf[i].subarray(batch.off[i], batch.off[i] + batch.len[i]) ...
 * driver.release(batch);
 * driver.transmit(frame, 0, frame.length, null);
 * driver.flush();
 * driver.close();
 * ```
 */
export class AfPacketRingDriver implements LinkDriver {
  /** Interface name. */
  readonly name: string;
  /** Always `"af_packet_ring"`. */
  readonly kind = "af_packet_ring";
  /** The interface's MAC address. */
  readonly mac: Uint8Array;
  /** The MTU in use (the link's, or the smaller one asked for). */
  readonly mtu: number;
  /** The link's own MTU. */
  readonly linkMtu: number;
  /** The interface index. */
  readonly ifindex: number;
  /** Offloads: checksum and TCP (and UDP) segmentation with vnetHdr, none without. */
  readonly capabilities: LinkCapabilities;
  /** Counters. */
  readonly stats: AfPacketRingStats = new AfPacketRingStats();
  /** True when frames carry a virtio_net_hdr. */
  readonly vnetHdr: boolean;
  /**
   * True when PACKET_QDISC_BYPASS is on: asked for, and (with vnetHdr) the device segments TCP
   * super-frames itself — with the qdisc bypassed the kernel would drop any frame it had to
   * segment in software.
   */
  readonly qdiscBypass: boolean;
  /** True when the kernel drops our own frames for us (PACKET_IGNORE_OUTGOING took). */
  readonly ignoresOutgoing: boolean;
  /** The TPACKET version of both rings: `"v2"` or `"v3"`. */
  readonly rxRing: AfPacketRxRingVersion;
  /** Bytes per RX block (V2: 1 MiB of {@link AF_PACKET_RING_V2_FRAMES_PER_BLOCK} slots). */
  readonly rxBlockBytes: number;
  /** Number of RX blocks. */
  readonly rxBlocks: number;
  /** V2: number of RX frame slots; V3: 0 (a block holds as many frames as fit). */
  readonly rxFrames: number;
  /** V2: bytes per RX frame slot ({@link AF_PACKET_RING_V2_FRAME_BYTES}); V3: 0. */
  readonly rxFrameBytes: number;
  /** V3: RX block retire timeout (ms); V2: 0 (no timer: frames are handed over at once). */
  readonly rxRetireMs: number;
  /** Number of TX slots. */
  readonly txFrames: number;
  /** Bytes per TX slot (frame header, vnet header and frame). */
  readonly txFrameBytes: number;
  /** Largest Ethernet frame `transmit` takes with a GSO offload (0 without vnetHdr). */
  readonly maxGsoBytes: number;
  /** Bytes of the whole mapping (RX ring, then TX ring). */
  readonly ringBytes: number;

  #fd: number;
  #closed = false;
  readonly #resources: ResourceStack;
  #mapBuffer: ArrayBuffer;
  readonly #rx: RxRing;
  readonly #tx: TxRing;
  readonly #vnetBytes: number;
  readonly #usoAllowed: boolean;
  /** Frames longer than this (Ethernet bytes) are GSO super-frames. */
  readonly #gsoAbove: number;
  readonly #statsCells = packetStatisticsCells();

  private constructor(o: OpenedRing) {
    const g = o.geometry;
    const link = o.link;
    this.#fd = o.fd;
    this.#resources = o.resources;
    this.name = link.ifname;
    this.ifindex = link.ifindex;
    this.mac = link.mac;
    this.linkMtu = link.linkMtu;
    this.mtu = link.mtu;
    this.vnetHdr = o.vnetHdr;
    this.qdiscBypass = o.qdiscBypass;
    this.ignoresOutgoing = o.ignoresOutgoing;
    this.rxRing = g.rxRing;
    this.rxBlockBytes = g.rxBlockBytes;
    this.rxBlocks = g.rxBlocks;
    this.rxFrames = g.rxFrames;
    this.rxFrameBytes = g.rxRing === "v2" ? AF_PACKET_RING_V2_FRAME_BYTES : 0;
    this.rxRetireMs = g.rxRetireMs;
    this.txFrameBytes = g.tx.frameBytes;
    this.txFrames = g.tx.framesPerBlock * g.tx.blocks;
    this.ringBytes = o.mapBytes;
    this.#vnetBytes = o.vnetHdr ? VIRTIO_NET_HDR_LEN : 0;
    this.#usoAllowed = o.vnetHdr && o.uso;
    const layout = g.rxRing === "v2" ? TX_SLOT_V2 : TX_SLOT_V3;
    this.maxGsoBytes = o.vnetHdr ? g.tx.frameBytes - layout.data - VIRTIO_NET_HDR_LEN : 0;
    this.capabilities = o.vnetHdr
      ? Object.freeze({
        txChecksumOffload: true,
        tcpSegmentationOffload: true,
        udpSegmentationOffload: o.uso,
        maxGsoBytes: this.maxGsoBytes,
      })
      : NO_OFFLOADS;
    this.#gsoAbove = link.mtu + ETH_HLEN;

    this.#mapBuffer = Deno.UnsafePointerView.getArrayBuffer(o.map, o.mapBytes);
    // The one view of the mapping: every RxBatch.buf entry is this object.
    const ring = new Uint8Array(this.#mapBuffer);
    const words = new Uint32Array(this.#mapBuffer);
    const rxSetup = {
      ring,
      words,
      stats: this.stats,
      vnetBytes: this.#vnetBytes,
      gsoAbove: this.#gsoAbove,
      blockBytes: g.rxBlockBytes,
      blocks: g.rxBlocks,
    };
    this.#rx = g.rxRing === "v2" ? new RxRingV2(rxSetup) : new RxRingV3(rxSetup);
    this.#tx = new TxRing({
      fd: o.fd,
      ring,
      words,
      base: g.rxBlockBytes * g.rxBlocks,
      geometry: g.tx,
      layout,
      vnetBytes: this.#vnetBytes,
      stats: this.stats,
    });
  }

  /**
   * Open the rings on `opts.ifname` (inside `opts.netns` when given). Throws SyscallError:
   * EPERM/EACCES (message names CAP_NET_RAW), ENODEV for an unknown interface, EINVAL when
   * `opts.mtu` is above the link's MTU or the kernel refuses a ring size, ENOMEM when it cannot
   * allocate the rings. RangeError for option values out of range, and for a V3-only option
   * with a V2 ring or `rxFrames` with a V3 ring.
   *
   * @example
   * ```ts
   * const driver = AfPacketRingDriver.open({ ifname: "us0", netns: "ustk-1-s", vnetHdr: true });
   * ```
   */
  static open(opts: AfPacketRingOptions): AfPacketRingDriver {
    const sizes = ringSizes(opts);
    const o = {
      driver: DRIVER,
      netns: opts.netns,
      mtu: opts.mtu,
      capabilities: AF_PACKET_CAPABILITIES,
    };
    return openOnInterface(o, (res) => new AfPacketRingDriver(openRing(res, opts, sizes)));
  }

  /** The socket fd (polls readable when RX frames wait), or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Frames queued in the TX ring since the last kick. */
  get txPending(): number {
    return this.#tx.pending;
  }

  /** errno of the last failed kick other than EAGAIN/ENOBUFS, or 0. */
  get lastErrno(): number {
    return this.#tx.lastErrno;
  }

  /**
   * Fill `batch` with up to `max` frames from the RX ring, in place; returns how many (also
   * `batch.count`). Frames stay valid until {@link release}. Makes no syscall (except a
   * PACKET_STATISTICS read when the kernel marked a frame or block as following drops).
   */
  receive(batch: RxBatch, max: number): number {
    if (this.#closed) throw closedError("AfPacketRingDriver", "receive");
    const rx = this.#rx;
    const n = rx.receive(batch, max);
    if (rx.lossSeen) {
      rx.lossSeen = false;
      this.refreshStats();
    }
    return n;
  }

  /**
   * Give the RX frames (V2) or the blocks the last batches finished (V3; a block a batch only
   * partly read stays ours until a later batch finishes it) back to the kernel; empties
   * `batch`.
   */
  release(batch: RxBatch): void {
    batch.count = 0;
    if (this.#closed) return;
    this.#rx.release();
  }

  /**
   * Copy a frame into the next free TX slot (with its virtio_net_hdr when vnetHdr is on) and
   * mark it for sending. When the next slot is still busy: count `txRingFull`, kick, and if it
   * is still busy refuse. Also refuses (returns false, counted in txDropped) frames shorter
   * than an Ethernet header, longer than the MTU (or maxGsoBytes for GSO), and offloads the
   * driver cannot do (any offload without vnetHdr; USO when disabled).
   */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean {
    if (this.#closed) throw closedError("AfPacketRingDriver", "transmit");
    const stats = this.stats;
    if (!txFrameInBounds(frame, off, len)) {
      stats.txDropped++;
      return false;
    }
    let limit = this.#gsoAbove;
    if (offload !== null && asksOffload(offload)) {
      if (this.#vnetBytes === 0 || (offload.gsoType === GSO_UDP_L4 && !this.#usoAllowed)) {
        stats.txOffloadRefused++;
        stats.txDropped++;
        return false;
      }
      if (offload.gsoType !== GSO_NONE) limit = this.maxGsoBytes;
    }
    if (len > limit) {
      stats.txOversize++;
      stats.txDropped++;
      return false;
    }
    return this.#tx.put(frame, off, len, offload);
  }

  /**
   * Kick the kernel once (`sendto(fd, NULL, 0, MSG_DONTWAIT)`) if frames were queued since the
   * last kick or the last kick left some unsent; otherwise do nothing.
   */
  flush(): void {
    if (this.#closed) throw closedError("AfPacketRingDriver", "flush");
    this.#tx.flush();
  }

  /**
   * Read PACKET_STATISTICS now (one syscall; the kernel resets its counters on read) and add
   * the kernel's ring drops to `rxKernelDrops`/`rxDropped` and (V3) its freezes to
   * `rxRingFreezes`. `receive` calls it by itself when the ring reports losses.
   */
  refreshStats(): void {
    if (this.#closed) return;
    const r = readPacketStatistics(this.#fd, this.#statsCells);
    this.stats.syscalls++;
    if (r < 0) return;
    const s = this.#statsCells.stats;
    const drops = s[STATS_DROPS >>> 2];
    this.stats.rxKernelDrops += drops;
    this.stats.rxDropped += drops;
    this.stats.rxRingFreezes += s[STATS_FREEZE_Q_CNT >>> 2];
  }

  /**
   * Unmap the rings and close the socket. Views handed out by `receive` become empty (their
   * memory is gone). A second close throws EBADF.
   */
  close(): void {
    if (this.#closed) throw closedError("AfPacketRingDriver", "close");
    this.refreshStats();
    this.#closed = true;
    this.#fd = -1;
    this.#tx.abandon();
    // Detach first so every view over the mapping reads as empty instead of faulting.
    const buffer = this.#mapBuffer;
    this.#mapBuffer = new ArrayBuffer(0);
    buffer.transfer(0);
    this.#resources.close(); // munmap, then close the socket
  }
}

/** Validate the ring options and fill in the defaults. */
function ringSizes(opts: AfPacketRingOptions): RingSizes {
  const rxRing = opts.rxRing ?? AF_PACKET_RING_DEFAULT_RX_RING;
  if (rxRing !== "v2" && rxRing !== "v3") {
    throw new RangeError(`AfPacketRingDriver: rxRing must be "v2" or "v3", got ${rxRing}`);
  }
  const only = (name: keyof AfPacketRingOptions, ring: AfPacketRxRingVersion): void => {
    if (opts[name] !== undefined && rxRing !== ring) {
      throw new RangeError(`AfPacketRingDriver: ${name} applies to rxRing "${ring}" only`);
    }
  };
  only("rxFrames", "v2");
  only("rxBlockBytes", "v3");
  only("rxBlocks", "v3");
  only("rxRetireMs", "v3");
  const rxFrames = intOption(
    DRIVER,
    "rxFrames",
    opts.rxFrames,
    AF_PACKET_RING_DEFAULT_RX_FRAMES,
    1,
    65535,
  );
  const rxBlockBytes = intOption(
    DRIVER,
    "rxBlockBytes",
    opts.rxBlockBytes,
    AF_PACKET_RING_DEFAULT_RX_BLOCK_BYTES,
    AF_PACKET_RING_MIN_RX_BLOCK_BYTES,
    1 << 30,
  );
  if (rxBlockBytes % PAGE_BYTES !== 0) {
    throw new RangeError(`AfPacketRingDriver: rxBlockBytes must be a multiple of ${PAGE_BYTES}`);
  }
  const rxBlocks = intOption(
    DRIVER,
    "rxBlocks",
    opts.rxBlocks,
    AF_PACKET_RING_DEFAULT_RX_BLOCKS,
    2,
    65536,
  );
  const rxRetireMs = intOption(
    DRIVER,
    "rxRetireMs",
    opts.rxRetireMs,
    AF_PACKET_RING_DEFAULT_RX_RETIRE_MS,
    1,
    1000,
  );
  const txFrames = intOption(
    DRIVER,
    "txFrames",
    opts.txFrames,
    AF_PACKET_RING_DEFAULT_TX_FRAMES,
    1,
    65536,
  );
  return { rxRing, rxFrames, rxBlockBytes, rxBlocks, rxRetireMs, txFrames };
}

/**
 * Create the socket, configure it, set up and map both rings and bind, in the current
 * namespace; everything acquired goes on `res`.
 */
function openRing(res: ResourceStack, opts: AfPacketRingOptions, sizes: RingSizes): OpenedRing {
  const link = queryLink(DRIVER, opts.ifname, opts.mtu);
  const fd = openPacketSocket(res);
  const vnetHdr = opts.vnetHdr ?? true;
  const qdiscBypass = opts.qdiscBypass ?? true;
  const v2 = sizes.rxRing === "v2";

  // Order matters: version, vnet header and loss mode must be set before the rings exist.
  // The version is the socket's: it applies to the RX and the TX ring alike.
  setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, v2 ? TPACKET_V2 : TPACKET_V3);
  if (vnetHdr) setsockoptInt(fd, SOL_PACKET, PACKET_VNET_HDR, 1);
  // A malformed TX frame is skipped instead of stopping the ring at it for good.
  setsockoptInt(fd, SOL_PACKET, PACKET_LOSS, 1);
  const ignoresOutgoing = ignoreOutgoing(fd); // else receive() skips PACKET_OUTGOING itself
  // With the qdisc bypassed, the kernel drops any frame it would have to segment in
  // software (__dev_direct_xmit refuses a segmented skb): keep the bypass for super-segments
  // only when the device segments them itself, else the qdisc path segments them for us.
  const device = vnetHdr ? deviceOffloads(fd, link.ifname) : { tso: false, uso: false };
  const bypass = qdiscBypass && (!vnetHdr || device.tso);
  if (bypass) setsockoptInt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1);

  const g = geometry(link.mtu, vnetHdr, sizes);
  const rxReq = {
    blockSize: g.rxBlockBytes,
    blockNr: g.rxBlocks,
    frameSize: v2 ? AF_PACKET_RING_V2_FRAME_BYTES : RX_V3_DECLARED_FRAME_BYTES,
    frameNr: v2 ? g.rxFrames : (g.rxBlockBytes / RX_V3_DECLARED_FRAME_BYTES) * g.rxBlocks,
  };
  setsockopt(
    fd,
    SOL_PACKET,
    PACKET_RX_RING,
    v2 ? tpacketReq(rxReq) : tpacketReq3({ ...rxReq, retireBlkTovMs: g.rxRetireMs }),
  );
  const txReq = {
    blockSize: g.tx.blockBytes,
    blockNr: g.tx.blocks,
    frameSize: g.tx.frameBytes,
    frameNr: g.tx.framesPerBlock * g.tx.blocks,
  };
  setsockopt(fd, SOL_PACKET, PACKET_TX_RING, v2 ? tpacketReq(txReq) : tpacketReq3(txReq));
  // Every slot in flight is charged to the send buffer: make room for the whole TX ring.
  raiseSendBuffer(fd, g.tx.blockBytes * g.tx.blocks);

  // One mapping: the RX ring's blocks, then the TX ring's.
  const mapBytes = g.rxBlockBytes * g.rxBlocks + g.tx.blockBytes * g.tx.blocks;
  const map = res.mapping(mmap(mapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd), mapBytes);
  bindPacketSocket(fd, link.ifindex);
  return {
    fd,
    resources: res,
    link,
    vnetHdr,
    qdiscBypass: bypass,
    ignoresOutgoing,
    uso: vnetHdr && (opts.udpSegmentationOffload ?? true) && (!bypass || device.uso),
    geometry: g,
    map,
    mapBytes,
  };
}

/**
 * Whether `ifname` segments TCP (v4 and v6) and UDP super-frames itself (ethtool features
 * `tx-tcp-segmentation`, `tx-tcp6-segmentation`, `tx-udp-segmentation`); false when unknown.
 */
function deviceOffloads(fd: number, ifname: string): { tso: boolean; uso: boolean } {
  try {
    const f = netdevFeatures(fd, ifname);
    const on = (name: string): boolean => f.get(name)?.active ?? false;
    return {
      tso: on("tx-tcp-segmentation") && on("tx-tcp6-segmentation"),
      uso: on("tx-udp-segmentation"),
    };
  } catch {
    return { tso: false, uso: false };
  }
}

/**
 * Ring sizes: V2 RX in whole 1 MiB blocks of fixed slots, V3 RX as asked; TX slots sized for
 * the largest frame, laid out for the ring version.
 */
function geometry(mtu: number, vnetHdr: boolean, sizes: RingSizes): RingGeometry {
  const tx = txRingGeometry(
    sizes.rxRing === "v2" ? TX_SLOT_V2 : TX_SLOT_V3,
    mtu,
    vnetHdr,
    sizes.txFrames,
  );
  if (sizes.rxRing === "v2") {
    const blocks = Math.ceil(sizes.rxFrames / AF_PACKET_RING_V2_FRAMES_PER_BLOCK);
    return {
      rxRing: "v2",
      rxBlockBytes: AF_PACKET_RING_V2_BLOCK_BYTES,
      rxBlocks: blocks,
      rxFrames: blocks * AF_PACKET_RING_V2_FRAMES_PER_BLOCK,
      rxRetireMs: 0,
      tx,
    };
  }
  return {
    rxRing: "v3",
    rxBlockBytes: sizes.rxBlockBytes,
    rxBlocks: sizes.rxBlocks,
    rxFrames: 0,
    rxRetireMs: sizes.rxRetireMs,
    tx,
  };
}

/** Ask for a send buffer of `bytes` (SO_SNDBUFFORCE, else SO_SNDBUF up to wmem_max). */
function raiseSendBuffer(fd: number, bytes: number): void {
  const value = allocStruct(4);
  new DataView(value.buffer).setInt32(0, Math.min(bytes, 0x3fffffff), true);
  try {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, value);
  } catch {
    try {
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, value);
    } catch { /* keep the default; kicks then send what fits and the rest next time */ }
  }
}
