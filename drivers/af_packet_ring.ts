/**
 * The fast AF_PACKET frame pump: PACKET_MMAP rings shared with the kernel, so the steady state
 * makes no syscall per frame in either direction.
 *
 * - **RX** (`drivers/af_packet_rx_ring.ts`), two ring versions:
 *   - `rxRing: "v2"` (default), TPACKET_V2: fixed-size frame slots, each with its own status
 *     word, so a frame is ours the moment the kernel has written it. Above MTU 4096 each slot
 *     holds a 64 KB GRO/GSO super-frame (default 525 slots: 512 asked, whole 1 MiB blocks of
 *     15); up to MTU 4096 slots are MTU-sized (20,960 at MTU 1500 in 32 MiB) and
 *     PACKET_COPY_THRESH brings a bigger frame whole through the socket queue (one recvfrom).
 *   - `rxRing: "v3"`, TPACKET_V3: blocks the kernel packs with frames and hands over whole —
 *     full, or after the retire timeout (`rxRetireMs`, ≥ 1 ms). Dense (a 256 KiB block holds
 *     thousands of ACKs), but a frame that does not fill its block waits for the timer
 *     (measured 0.45 ms median extra delay against `recvmmsg` on Linux 6.18; a jiffy-based
 *     timer rounds it up to a tick). Under a bulk send, whose only inbound frames are ACKs,
 *     that delay lands on every ACK; on a request/response exchange, on every request.
 *     Measured on a veth pair (`bench/af_packet_rx_ring_tcp.ts`): 64-byte TCP round trips to a
 *     kernel echo p50 ~1,000 µs with V3 against 50–120 µs with V2.
 *
 *   - Split receive (`rxSplit`, the default with MTU-sized V2 slots): a second packet socket
 *     on the interface with a V2 ring of 64 KiB slots takes the frames too long for an
 *     MTU-sized slot — a kernel peer's GRO/GSO super-frames — so they are copied once, by the
 *     kernel into a slot, instead of through the socket queue by a `recvfrom` on our thread. A
 *     classic filter on each socket steers by frame length (`drivers/frame_length_steering.ts`),
 *     the walker merges both rings in the order the kernel stamped their slots
 *     (`drivers/af_packet_rx_merge.ts`), TX stays on the first socket, and
 *     {@link AfPacketRingDriver.fd} is an epoll fd over both sockets.
 *
 *   Either way {@link AfPacketRingDriver.receive} walks the ring in place and hands out views
 *   into it — `RxBatch.buf[i]` is always the one view of the mapping made at open, with
 *   `off`/`len` per frame — and {@link AfPacketRingDriver.release} gives the frames (V2) or
 *   blocks (V3) back to the kernel. No syscall at all on receive.
 * - **TX** (`drivers/af_packet_tx_ring.ts`): a ring of fixed slots of the same TPACKET version
 *   (PACKET_VERSION is per socket). `transmit` copies the frame into the next free slot and
 *   marks it SEND_REQUEST; `flush` kicks the kernel with one `sendto(fd, NULL, 0,
 *   MSG_DONTWAIT)` when anything is pending — on the stack's thread, or for big batches on a
 *   kicker thread (`txKick`, `drivers/tx_kicker.ts`: on veth the kernel's whole path behind
 *   the frames runs inside that call).
 * - **Offloads** (`vnetHdr`, on by default): every frame in both rings is preceded by a 10-byte
 *   `virtio_net_hdr`. On TX it carries partial-checksum and segmentation requests (TCP
 *   super-segments up to {@link AfPacketRingDriver.maxGsoBytes}); on RX it says whether the
 *   kernel left a checksum unfinished or verified it, and whether the frame is a GRO/GSO
 *   super-frame. To take 64 KB super-frames every TX slot is 64 KiB with the header on; without
 *   it slots are MTU-sized.
 *
 * Memory: RX ring V2 `rxFrames` slots of 68 KiB (default 525 = 35 MiB) or MTU-sized ones
 * (default 32 MiB, plus 240 slots of 68 KiB = 16 MiB with the split receive), V3 `rxBlocks ×
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
  GSO_UDP,
  GSO_UDP_L4,
  type LinkCapabilities,
  linkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  type RxBatch,
  type TxOffload,
} from "../link/driver.ts";
import { ETH_HLEN, MSG_DONTWAIT, MSG_TRUNC } from "../ffi/constants.ts";
import { recvfrom } from "../ffi/syscalls.ts";
import {
  packetStatisticsCells,
  readPacketStatistics,
  STATS_DROPS,
  STATS_FREEZE_Q_CNT,
  tpacketFrameOffsets,
} from "../ffi/tpacket.ts";
import { VIRTIO_NET_HDR_LEN } from "../ffi/virtio_net.ts";
import {
  AF_PACKET_RING_V2_BLOCK_BYTES,
  RxRingV2,
  RxRingV3,
  type RxWalker,
} from "./af_packet_rx_ring.ts";
import { RxRingMerge } from "./af_packet_rx_merge.ts";
import { TX_SLOT_V2, TX_SLOT_V3, TxRing } from "./af_packet_tx_ring.ts";
import { TxKicker } from "./tx_kicker.ts";
import { primeNodeWorkerStart } from "./node_worker_prime.ts";
import { UringTxKick } from "./tx_kick_uring.ts";
import {
  AF_PACKET_RING_DEFAULT_RX_SPLIT,
  AF_PACKET_RING_SMALL_SLOT_MAX_MTU,
  AF_PACKET_RING_SPLIT_SMALL_SLOT_MAX_MTU,
  type AfPacketRingOptions,
  type AfPacketRxRingVersion,
  type AfPacketTxKick,
  type KernelRxDrop,
  type OpenedPacketRing,
  openPacketRing,
  packetRingGeometry,
  packetRingSizes,
  rxSplitLimit,
} from "./af_packet_ring_setup.ts";
import type { PayloadSource } from "../core/packet_buffer.ts";
import { MemoryPacketLink } from "./af_packet_memory.ts";
import { asksOffload, closedError, txFrameInBounds } from "./driver_util.ts";
import { openOnInterface } from "./interface_open.ts";
import { AF_PACKET_CAPABILITIES } from "./packet_socket.ts";
import { ResourceStack } from "./resource_stack.ts";
import { touchRingPages } from "./ring_page_touch.ts";
import type { KernelRxOwnAddresses, KernelRxOwnFilter } from "./kernel_rx_own_filter.ts";
import type { Ipv6Words } from "../ffi/syscalls.ts";

export type { KernelRxOwnAddresses } from "./kernel_rx_own_filter.ts";
export type { Ipv6Words } from "../ffi/syscalls.ts";

/** {@link AfPacketRingDriver.kernelRxFilter}: the address program's counters and contents. */
export interface KernelRxFilterStats {
  /** Programs loaded and attached (the first included). */
  loads: number;
  /** Updates the kernel refused (the program stayed as it was). */
  failures: number;
  /** Addresses of the last set beyond the program's room (their frames reach the kernel). */
  leftOut: number;
  /** IPv4 addresses in the attached program. */
  v4: readonly number[];
  /** IPv6 addresses in the attached program (four words each). */
  v6: readonly Ipv6Words[];
  /** The kernel's own address changes are followed (its rtnetlink notifications are read). */
  kernelWatch: boolean;
  /** Kernel notifications that named an address of the set (each re-read the kernel's set). */
  kernelChanges: number;
  /** Re-reads because the kernel's notifications were lost or cut. */
  kernelResyncs: number;
  /** Kernel notification messages dropped as malformed. */
  kernelMalformed: number;
}

/** Options of {@link AfPacketRingDriver.memoryPair}. */
export interface AfPacketMemoryPairOptions {
  /** MTU of both ends (their slots are sized for it as `open` would size them) [1500]. */
  mtu?: number;
  /** Frames carry a virtio_net_hdr (checksum and segmentation offloads) [true]. */
  vnetHdr?: boolean;
  /**
   * MTU-sized RX slots (copy mode) [as `open`: up to MTU 4096, or 9216 with the split
   * receive].
   */
  rxSmallSlots?: boolean;
  /**
   * The split receive, as `open`'s `rxSplit`: with MTU-sized slots, a second ring of 64 KiB
   * slots takes the frames too long for them [true, as `open`].
   */
  rxSplit?: boolean;
  /** TX slots [64]. */
  txFrames?: number;
}

/** RX slots of an in-memory end with super-frame slots (8 blocks of 15). */
const MEMORY_RX_BIG_SLOTS = 120;
/** TX slots of an in-memory end. */
const MEMORY_TX_FRAMES = 64;

/** An in-memory end: the link its rings hang on and which side it is. */
interface MemoryEnd {
  link: MemoryPacketLink;
  side: 0 | 1;
}

export {
  AF_PACKET_RING_V2_BLOCK_BYTES,
  AF_PACKET_RING_V2_FRAME_BYTES,
  AF_PACKET_RING_V2_FRAMES_PER_BLOCK,
} from "./af_packet_rx_ring.ts";
export { AF_PACKET_RING_GSO_SLOT_BYTES } from "./af_packet_tx_ring.ts";
export {
  AF_PACKET_RING_DEFAULT_RX_BLOCK_BYTES,
  AF_PACKET_RING_DEFAULT_RX_BLOCKS,
  AF_PACKET_RING_DEFAULT_RX_FRAMES,
  AF_PACKET_RING_DEFAULT_RX_RETIRE_MS,
  AF_PACKET_RING_DEFAULT_RX_RING,
  AF_PACKET_RING_DEFAULT_RX_SMALL_BLOCKS,
  AF_PACKET_RING_DEFAULT_TX_FRAMES,
  AF_PACKET_RING_DEFAULT_TX_KICK,
  AF_PACKET_RING_DEFAULT_TX_KICK_BYTES,
  AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES,
  AF_PACKET_RING_MIN_RX_BLOCK_BYTES,
  AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES,
  AF_PACKET_RING_SMALL_SLOT_MAX_MTU,
  AF_PACKET_RING_SPLIT_SMALL_SLOT_MAX_MTU,
  type AfPacketRingOptions,
  type AfPacketRxRingVersion,
  type AfPacketTxKick,
  type KernelRxDrop,
} from "./af_packet_ring_setup.ts";

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
  /** Frames too big for a slot read whole from the socket queue (V2 copy mode). */
  rxCopied = 0;
  /** Frames the kernel dropped because no block or slot was free (also counted in rxDropped). */
  rxKernelDrops = 0;
  /**
   * Frames the kernel marked TP_STATUS_CSUMNOTREADY: a checksum left unfinished (a local
   * sender's CHECKSUM_PARTIAL, e.g. a veth peer), taken as valid.
   */
  rxCsumPartialFrames = 0;
  /** Frames the kernel marked TP_STATUS_CSUM_VALID (the device checked it), taken as valid. */
  rxCsumValidFrames = 0;
  /** Frames longer than one MTU-sized frame handed up as GRO/GSO super-frames (RX_GSO). */
  rxGsoFrames = 0;
  /** Split receive (`rxSplit`): frames taken from the ring of MTU-sized slots. */
  rxSmallRingFrames = 0;
  /** Split receive: frames taken from the ring of 64 KiB slots (GRO/GSO super-frames). */
  rxLargeRingFrames = 0;
  /** Split receive: the kernel's drops on the ring of 64 KiB slots (also in rxKernelDrops). */
  rxLargeRingKernelDrops = 0;
  /** Times the kernel found the whole V3 RX ring in user hands (`tp_freeze_q_cnt`). */
  rxRingFreezes = 0;
  /** Frames refused for exceeding the MTU or, with GSO, maxGsoBytes (also in txDropped). */
  txOversize = 0;
  /** Frames refused for asking an offload the driver does not do (also in txDropped). */
  txOffloadRefused = 0;
  /** Kicks that failed with an error other than EAGAIN/ENOBUFS (either thread). */
  txKickErrors = 0;
  /** Kicks handed to the kicker thread (`txKick` "thread"/"auto"; its kicks are in txKicks). */
  txKickHandoffs = 0;
  /**
   * Handoffs that had to wake the sleeping kicker (one futex wake each); `txKick` "uring": the
   * polling thread's wake-ups (`io_uring_enter`, one syscall each, also in `syscalls`).
   */
  txKickWakes = 0;
  /** `txKick` "uring": kicks asked for while a send was in flight, merged into it. */
  txKickMerges = 0;
  /** Long frames copied into TX slots through a view the ring's table held (no allocation). */
  txFrameViewHits = 0;
  /** Long frames whose copy made a view (one allocation each; bounded by `TX_FRAME_VIEWS`). */
  txFrameViewMisses = 0;
  /** Views the ring's table let go to hold a new one (its bound refusing to grow). */
  txFrameViewReplaced = 0;
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
  /** Always `"af_packet"`: the `--driver` name that opens it (the default driver). */
  readonly kind = "af_packet";
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
  /**
   * Which received frames a tcx program keeps from the host kernel's own protocols: `"all"`
   * (`kernelRx: false`), `"own"` (frames to the stack's addresses: `kernelRxDropTo`,
   * `kernelRxDropTo6`, then each {@link AfPacketRingDriver.setKernelRxDropTo}), `"none"`.
   */
  get kernelRxDrop(): KernelRxDrop {
    if (this.#kernelRxAll) return "all";
    return this.#kernelRxFilter?.attached === true ? "own" : "none";
  }

  /**
   * The address program's counters (null without one: `kernelRx` set, or neither
   * `kernelRxDropTo` option given): programs loaded, updates the kernel refused, addresses of
   * the last set beyond the program's room, and the addresses in it now.
   */
  get kernelRxFilter(): KernelRxFilterStats | null {
    const f = this.#kernelRxFilter;
    if (f === null) return null;
    return {
      loads: f.loads,
      failures: f.failures,
      leftOut: f.leftOut,
      v4: f.v4,
      v6: f.v6,
      kernelWatch: f.kernelWatch?.open === true,
      kernelChanges: f.kernelChanges,
      kernelResyncs: f.kernelResyncs,
      kernelMalformed: f.kernelWatch?.malformed ?? 0,
    };
  }

  /**
   * Follow the kernel's own address changes: read its address notifications that arrived
   * since the last call and, when the kernel gained or gave up an address of the program's
   * set (or notifications were lost), re-read its addresses and reload the program as
   * {@link setKernelRxDropTo} would. Returns true when it re-read. Meant for a low fixed rate
   * (the runtime calls it every 500 ms: `stack/kernel_rx_follow.ts`), not per tick: nothing
   * pending costs one `recvfrom` (`EAGAIN`) and allocates nothing. False, without a system
   * call, without the address program or once closed. Never throws.
   */
  checkKernelAddresses(): boolean {
    if (this.#closed || this.#kernelRxFilter === null) return false;
    return this.#kernelRxFilter.checkKernel();
  }

  /**
   * Keep the host kernel off the frames to `addrs` from now on — the stack's whole address set,
   * in place of the one before (`kernelRxDropTo`/`kernelRxDropTo6` at open, or the last call):
   * a new program is swapped in when the set differs, the link made or closed as needed.
   * Returns true while a program is attached. Does nothing (false) without the address
   * program. Set-up path: a `BPF_PROG_LOAD` when the set changed; never throws a SyscallError
   * (a refusal leaves the program as it was, counted in {@link kernelRxFilter}).
   */
  setKernelRxDropTo(addrs: KernelRxOwnAddresses): boolean {
    if (this.#closed || this.#kernelRxFilter === null) return false;
    return this.#kernelRxFilter.update(addrs);
  }
  /** The TPACKET version of both rings: `"v2"` or `"v3"`. */
  readonly rxRing: AfPacketRxRingVersion;
  /** Bytes per RX block (V2: 1 MiB of {@link AF_PACKET_RING_V2_FRAMES_PER_BLOCK} slots). */
  readonly rxBlockBytes: number;
  /** Number of RX blocks. */
  readonly rxBlocks: number;
  /** V2: number of RX frame slots; V3: 0 (a block holds as many frames as fit). */
  readonly rxFrames: number;
  /**
   * V2: PACKET_COPY_THRESH is on (MTU-sized slots; bigger frames are read whole from the
   * socket queue, one recvfrom each, counted in `rxCopied`).
   */
  readonly rxCopyMode: boolean;
  /**
   * V2: bytes per RX frame slot (68 KiB, more with `rxLargeFrameBytes`, or MTU-sized in copy
   * mode); V3: 0.
   */
  readonly rxFrameBytes: number;
  /**
   * True when the receive is split over two sockets (`rxSplit`): frames that fit the MTU-sized
   * slots in this ring, longer ones in a second ring of {@link rxLargeFrames} slots of
   * {@link rxLargeFrameBytes} bytes.
   */
  readonly rxSplit: boolean;
  /** Split receive: slots of the second ring; 0 without. */
  readonly rxLargeFrames: number;
  /** Split receive: bytes per slot of the second ring (68 KiB by default); 0 without. */
  readonly rxLargeFrameBytes: number;
  /** V3: RX block retire timeout (ms); V2: 0 (no timer: frames are handed over at once). */
  readonly rxRetireMs: number;
  /** Number of TX slots. */
  readonly txFrames: number;
  /** The TX ring is kicked once this many frame bytes are queued (0: at flush only). */
  readonly txKickBytes: number;
  /**
   * Where the TX ring's kicks run ("sync" also when a kicker was asked for on one CPU or could
   * not start: its worker needs read permission for the package's files).
   */
  readonly txKick: AfPacketTxKick;
  /** Bytes per TX slot (frame header, vnet header and frame). */
  readonly txFrameBytes: number;
  /** Largest Ethernet frame `transmit` takes with a GSO offload (0 without vnetHdr). */
  readonly maxGsoBytes: number;
  /** Bytes of the whole mapping (RX ring, then TX ring). */
  readonly ringBytes: number;
  /**
   * Pages of the kernel's mappings written once at open, value unchanged: those holding an RX
   * slot's or block's status word (the split receive's ring too) and the TX ring's; 0 in
   * memory. The first write to a clean page costs ~12 µs under this machine's hypervisor
   * (`drivers/ring_page_touch.ts`).
   */
  readonly ringPagesTouched: number;
  /** Milliseconds that took. */
  readonly ringTouchMs: number;

  #fd: number;
  /** What the event loop polls: #fd, or an epoll fd over both sockets (split receive). */
  #pollFd: number;
  /** The split receive's second socket, or -1. */
  readonly #largeFd: number;
  /** Its ring's mapping (detached at close). */
  #largeBuffer: ArrayBuffer | null;
  #closed = false;
  readonly #resources: ResourceStack;
  readonly #kernelRxAll: boolean;
  readonly #kernelRxFilter: KernelRxOwnFilter | null;
  #mapBuffer: ArrayBuffer;
  readonly #rx: RxWalker;
  readonly #tx: TxRing;
  readonly #kicker: TxKicker | null;
  readonly #uring: UringTxKick | null;
  readonly #vnetBytes: number;
  readonly #usoAllowed: boolean;
  readonly #ufoAllowed: boolean;
  /** Frames longer than this (Ethernet bytes) are GSO super-frames. */
  readonly #gsoAbove: number;
  readonly #statsCells = packetStatisticsCells();
  /** In memory ({@link AfPacketRingDriver.memoryPair}): the link the rings hang on. */
  readonly #memory: MemoryEnd | null;

  private constructor(
    o: OpenedPacketRing,
    resources: ResourceStack,
    buffer: ArrayBuffer,
    memory: MemoryEnd | null,
    largeBuffer: ArrayBuffer | null = null,
  ) {
    const g = o.geometry;
    const link = o.link;
    this.#fd = o.fd;
    this.#pollFd = o.pollFd;
    this.#largeFd = o.large === null ? -1 : o.large.fd;
    this.#largeBuffer = largeBuffer;
    this.#resources = resources;
    this.name = link.ifname;
    this.ifindex = link.ifindex;
    this.mac = link.mac;
    this.linkMtu = link.linkMtu;
    this.mtu = link.mtu;
    this.vnetHdr = o.vnetHdr;
    this.qdiscBypass = o.qdiscBypass;
    this.ignoresOutgoing = o.ignoresOutgoing;
    this.#kernelRxAll = o.kernelRxDrop === "all";
    this.#kernelRxFilter = o.kernelRxFilter;
    this.rxRing = g.rxRing;
    this.rxBlockBytes = g.rxBlockBytes;
    this.rxBlocks = g.rxBlocks;
    this.rxFrames = g.rxFrames;
    this.rxFrameBytes = g.rxFrameBytes;
    this.rxCopyMode = g.rxCopyMode;
    this.rxRetireMs = g.rxRetireMs;
    this.rxSplit = largeBuffer !== null;
    this.rxLargeFrameBytes = largeBuffer === null ? 0 : g.rxLargeSlotBytes;
    this.rxLargeFrames = largeBuffer === null
      ? 0
      : (largeBuffer.byteLength / AF_PACKET_RING_V2_BLOCK_BYTES) *
        Math.floor(AF_PACKET_RING_V2_BLOCK_BYTES / g.rxLargeSlotBytes);
    this.txFrameBytes = g.tx.frameBytes;
    this.txFrames = g.tx.framesPerBlock * g.tx.blocks;
    this.ringBytes = o.mapBytes;
    this.#vnetBytes = o.vnetHdr ? VIRTIO_NET_HDR_LEN : 0;
    this.#usoAllowed = o.vnetHdr && o.uso;
    this.#ufoAllowed = o.vnetHdr && o.ufo;
    const layout = g.rxRing === "v2" ? TX_SLOT_V2 : TX_SLOT_V3;
    this.maxGsoBytes = o.vnetHdr ? g.tx.frameBytes - layout.data - VIRTIO_NET_HDR_LEN : 0;
    this.capabilities = o.vnetHdr
      ? linkCapabilities({
        txChecksumOffload: true,
        tcpSegmentationOffload: true,
        udpSegmentationOffload: o.uso,
        udpFragmentationOffload: o.ufo,
        maxGsoBytes: this.maxGsoBytes,
      })
      : NO_OFFLOADS;
    this.#gsoAbove = link.mtu + ETH_HLEN;

    this.#mapBuffer = buffer;
    this.#memory = memory;
    // The one view of the mapping: every RxBatch.buf entry is this object.
    const ring = new Uint8Array(this.#mapBuffer);
    const words = new Uint32Array(this.#mapBuffer);
    const fd = o.fd;
    const rxSetup = {
      ring,
      words,
      stats: this.stats,
      frameBytes: g.rxFrameBytes,
      // Copy mode: the whole frame waits on the socket queue, in ring order.
      readCopy: !g.rxCopyMode
        ? null
        : memory !== null
        ? (buf: Uint8Array) => memory.link.readCopy(memory.side, buf)
        // MSG_TRUNC: the frame's real length, so a longer one (BIG TCP) is seen cut short.
        : (buf: Uint8Array) => recvfrom(fd, buf, buf.length, MSG_DONTWAIT | MSG_TRUNC, null, null),
      vnetBytes: this.#vnetBytes,
      gsoAbove: this.#gsoAbove,
      blockBytes: g.rxBlockBytes,
      blocks: g.rxBlocks,
    };
    if (largeBuffer !== null) {
      // Split receive: the second socket's ring of large slots, merged in the kernel's order.
      const large = new RxRingV2({
        ...rxSetup,
        ring: new Uint8Array(largeBuffer),
        words: new Uint32Array(largeBuffer),
        frameBytes: g.rxLargeSlotBytes,
        readCopy: null,
        blocks: largeBuffer.byteLength / AF_PACKET_RING_V2_BLOCK_BYTES,
      });
      this.#rx = new RxRingMerge(new RxRingV2(rxSetup), large, this.stats);
    } else {
      this.#rx = g.rxRing === "v2" ? new RxRingV2(rxSetup) : new RxRingV3(rxSetup);
    }
    // A kernel mapping's pages start clean: write the ones we write into once now (the RX
    // rings' status words, the TX ring), not one by one on the first lap.
    const t0 = performance.now();
    this.ringPagesTouched = memory !== null ? 0 : this.#rx.touchStatusPages() +
      touchRingPages(words, g.rxBlockBytes * g.rxBlocks, buffer.byteLength);
    this.ringTouchMs = performance.now() - t0;
    const k = o.txKick;
    // Last: nothing after it can fail, so a kicker is never left running by a failed open.
    // No kicker where its worker cannot load (no read permission): kicks stay synchronous.
    // "auto" starts its kicker with the first bulk batch (TxRingSetup.startKicker): a stack
    // that only ever sends small batches never makes the worker.
    const lazy = k.txKick === "auto" && TxKicker.canStart();
    // A kicker started later must not drop the code optimised by then (a Runtime primed this
    // already; a driver opened without one is primed here).
    if (lazy) primeNodeWorkerStart();
    this.#kicker = k.txKick === "thread" ? TxKicker.tryStart(o.fd, k.txKickSpinUs) : null;
    this.#uring = k.txKick === "uring" && memory === null
      ? UringTxKick.tryOpen(o.fd, {
        idleMs: k.txKickUringIdleMs,
        cpu: k.txKickUringCpu,
      })
      : null;
    this.txKick = this.#kicker === null && this.#uring === null && !lazy ? "sync" : k.txKick;
    this.#tx = new TxRing({
      fd: o.fd,
      ring,
      words,
      base: g.rxBlockBytes * g.rxBlocks,
      geometry: g.tx,
      layout,
      vnetBytes: this.#vnetBytes,
      stats: this.stats,
      kickBytes: o.txKickBytes,
      kicker: this.#kicker,
      startKicker: lazy ? () => TxKicker.tryStart(o.fd, k.txKickSpinUs) : undefined,
      kickPolicy: k.txKick === "auto" ? "auto" : "thread",
      threadBytes: k.txKickThreadBytes,
      send: memory === null ? undefined : () => memory.link.kick(memory.side),
      uring: this.#uring,
    });
    this.txKickBytes = o.txKickBytes;
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
    const sizes = packetRingSizes(opts);
    const o = {
      driver: "AfPacketRingDriver",
      netns: opts.netns,
      mtu: opts.mtu,
      capabilities: AF_PACKET_CAPABILITIES,
    };
    return openOnInterface(
      o,
      (res) => {
        const o = openPacketRing(res, opts, sizes);
        const buffer = Deno.UnsafePointerView.getArrayBuffer(o.map!, o.mapBytes);
        const large = o.large === null
          ? null
          : Deno.UnsafePointerView.getArrayBuffer(o.large.map, o.large.mapBytes);
        return new AfPacketRingDriver(o, res, buffer, null, large);
      },
    );
  }

  /**
   * Two drivers whose rings are joined in memory as if by a veth pair, with no socket and no
   * interface (`drivers/af_packet_memory.ts`): what one transmits, the other receives. The
   * same class, ring walkers and slot layout (TPACKET_V2) as {@link AfPacketRingDriver.open}'s,
   * sized as it would size them for `opts.mtu` but with fewer slots; kicks are synchronous
   * and `fd` is -1 (nothing to poll: the stack using them must busy-poll). For the connection
   * warm-up, which runs the real driver's code before the first real frame.
   *
   * @example
   * ```ts
   * const [a, b] = AfPacketRingDriver.memoryPair({ mtu: 1500 });
   * // a.transmit(frame, 0, frame.length, null); a.flush(); then b.receive(batch, 64) has it
   * a.close();
   * b.close();
   * ```
   */
  static memoryPair(
    opts: AfPacketMemoryPairOptions = {},
  ): [AfPacketRingDriver, AfPacketRingDriver] {
    const mtu = opts.mtu ?? 1500;
    const vnetHdr = opts.vnetHdr ?? true;
    // As packetRingGeometry sizes `open`'s ring (the real driver's defaults, same walkers).
    const splitAsked = opts.rxSplit ?? AF_PACKET_RING_DEFAULT_RX_SPLIT;
    const small = opts.rxSmallSlots ?? (mtu <= AF_PACKET_RING_SMALL_SLOT_MAX_MTU ||
      (splitAsked && mtu <= AF_PACKET_RING_SPLIT_SMALL_SLOT_MAX_MTU));
    const split = splitAsked && small;
    const sizes = packetRingSizes({
      ifname: "memory",
      rxRing: "v2",
      rxSmallSlots: small,
      rxSplit: split,
      // One 1 MiB block of MTU-sized slots (~650 at MTU 1500), or 120 super-frame slots.
      rxFrames: small ? 1 : MEMORY_RX_BIG_SLOTS,
      txFrames: opts.txFrames ?? MEMORY_TX_FRAMES,
      txKick: "sync",
    });
    const g = packetRingGeometry(mtu, mtu, vnetHdr, sizes);
    const rxBytes = g.rxBlockBytes * g.rxBlocks;
    const mapBytes = rxBytes + g.tx.blockBytes * g.tx.blocks;
    const link = new MemoryPacketLink();
    const end = (side: 0 | 1): AfPacketRingDriver => {
      const mac = new Uint8Array([0x02, 0x00, 0x5e, 0xff, 0xfe, side + 1]);
      const buffer = new ArrayBuffer(mapBytes);
      const o: OpenedPacketRing = {
        fd: -1,
        link: { ifname: `memory${side}`, ifindex: side + 1, mac, linkMtu: mtu, mtu },
        vnetHdr,
        qdiscBypass: false,
        ignoresOutgoing: true,
        uso: vnetHdr,
        ufo: false, // the in-memory link fragments nothing
        kernelRxDrop: "none",
        kernelRxFilter: null,
        geometry: g,
        txKickBytes: sizes.txKickBytes,
        txKick: {
          txKick: "sync",
          txKickSpinUs: 0,
          txKickThreadBytes: sizes.txKickThreadBytes,
          txKickUringIdleMs: sizes.txKickUringIdleMs,
          txKickUringCpu: sizes.txKickUringCpu,
        },
        map: null,
        mapBytes,
        large: null,
        pollFd: -1,
      };
      // The split receive's ring of large slots as `open` sizes it (packetRingGeometry's
      // rxLargeBlocks: 240 slots of 68 KiB by default); with 120, 32 connections fetching
      // 100 KB each overran it.
      const largeBuffer = split
        ? new ArrayBuffer(g.rxLargeBlocks * AF_PACKET_RING_V2_BLOCK_BYTES)
        : null;
      const d = new AfPacketRingDriver(o, new ResourceStack(), buffer, { link, side }, largeBuffer);
      const perBlock = Math.floor(g.rxBlockBytes / g.rxFrameBytes);
      const largePerBlock = Math.floor(AF_PACKET_RING_V2_BLOCK_BYTES / g.rxLargeSlotBytes);
      link.attach(side, {
        ring: new Uint8Array(buffer),
        words: new Uint32Array(buffer),
        rxSlots: tpacketFrameOffsets(0, g.rxFrames, perBlock, g.rxBlockBytes, g.rxFrameBytes),
        rxFrameBytes: g.rxFrameBytes,
        rxCopyMode: g.rxCopyMode,
        txSlots: tpacketFrameOffsets(
          rxBytes,
          g.tx.framesPerBlock * g.tx.blocks,
          g.tx.framesPerBlock,
          g.tx.blockBytes,
          g.tx.frameBytes,
        ),
        vnetBytes: vnetHdr ? VIRTIO_NET_HDR_LEN : 0,
        ifindex: side + 1,
        mac,
        large: largeBuffer === null ? null : {
          ring: new Uint8Array(largeBuffer),
          words: new Uint32Array(largeBuffer),
          slots: tpacketFrameOffsets(
            0,
            largePerBlock * g.rxLargeBlocks,
            largePerBlock,
            AF_PACKET_RING_V2_BLOCK_BYTES,
            g.rxLargeSlotBytes,
          ),
          frameBytes: g.rxLargeSlotBytes,
          above: rxSplitLimit(mtu),
        },
      });
      return d;
    };
    return [end(0), end(1)];
  }

  /**
   * The fd that polls readable when RX frames wait: the socket, or with the split receive an
   * epoll fd over both sockets; -1 once closed.
   */
  get fd(): number {
    return this.#pollFd;
  }

  /** Frames queued in the TX ring since the last kick. */
  get txPending(): number {
    return this.#tx.pending;
  }

  /**
   * True while a kicker thread serves the TX ring's kicks (`txKick` "thread", or "auto" once
   * its kicker started). A kicker starts in the background: until it runs, the driver kicks
   * by itself (on a loaded machine its start took longer than a 20-MB echo).
   */
  get txKickerRunning(): boolean {
    return (this.#kicker ?? this.#tx.kicker)?.running === true;
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
    // "uring": a kick merged into a send that has completed since goes now (the busy poll
    // receives without ticking).
    if (this.#uring !== null) this.#tx.serviceKick();
    if (rx.lossSeen) {
      rx.lossSeen = false;
      this.refreshStats();
    }
    return n;
  }

  /**
   * The kernel's receive time (epoch ms, CLOCK_REALTIME) of the first frame of the last batch
   * that had any, from the ring's frame header; NaN before the first.
   */
  rxStampMs(): number {
    const rx = this.#rx;
    return rx.stampSec === 0 ? NaN : rx.stampSec * 1000 + rx.stampNsec / 1e6;
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
    if (!this.#accepts(frame, off, len, 0, offload)) return false;
    return this.#tx.put(frame, off, len, offload, null, 0, 0);
  }

  /**
   * {@link AfPacketRingDriver.transmit} of a frame in two pieces: `len` bytes of `frame` at
   * `off` (the headers), then `payloadLength` bytes of `payload` from `payloadOffset`, both
   * copied straight into the TX slot — a TCP segment's payload goes from its send ring to the
   * slot in one copy. Refused like `transmit`, and when `payload` holds fewer bytes.
   */
  transmitGather(
    frame: Uint8Array,
    off: number,
    len: number,
    payload: PayloadSource,
    payloadOffset: number,
    payloadLength: number,
    offload: TxOffload | null,
  ): boolean {
    if (this.#closed) throw closedError("AfPacketRingDriver", "transmit");
    if (!this.#accepts(frame, off, len, payloadLength, offload)) return false;
    return this.#tx.put(frame, off, len, offload, payload, payloadOffset, payloadLength);
  }

  /**
   * The checks of a frame of `len` bytes of `frame` at `off` and `extra` more (a gathered
   * payload): in bounds, not over the size limit, an offload this socket can do. False
   * (counted) to refuse.
   */
  #accepts(
    frame: Uint8Array,
    off: number,
    len: number,
    extra: number,
    offload: TxOffload | null,
  ): boolean {
    const stats = this.stats;
    if (!txFrameInBounds(frame, off, len) || !(extra >= 0)) {
      stats.txDropped++;
      return false;
    }
    let limit = this.#gsoAbove;
    if (offload !== null && asksOffload(offload)) {
      if (
        this.#vnetBytes === 0 || (offload.gsoType === GSO_UDP_L4 && !this.#usoAllowed) ||
        (offload.gsoType === GSO_UDP && !this.#ufoAllowed)
      ) {
        stats.txOffloadRefused++;
        stats.txDropped++;
        return false;
      }
      if (offload.gsoType !== GSO_NONE) limit = this.maxGsoBytes;
    }
    if (len + extra > limit) {
      stats.txOversize++;
      stats.txDropped++;
      return false;
    }
    return true;
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
    const memory = this.#memory;
    if (memory !== null) {
      const lost = memory.link.takeDrops(memory.side);
      this.stats.rxKernelDrops += lost;
      this.stats.rxDropped += lost;
      return;
    }
    const r = readPacketStatistics(this.#fd, this.#statsCells);
    this.stats.syscalls++;
    if (r < 0) return;
    const s = this.#statsCells.stats;
    const drops = s[STATS_DROPS >>> 2];
    this.stats.rxKernelDrops += drops;
    this.stats.rxDropped += drops;
    this.stats.rxRingFreezes += s[STATS_FREEZE_Q_CNT >>> 2];
    if (this.#largeFd < 0) return;
    this.stats.syscalls++;
    if (readPacketStatistics(this.#largeFd, this.#statsCells) < 0) return;
    const largeDrops = s[STATS_DROPS >>> 2];
    this.stats.rxLargeRingKernelDrops += largeDrops;
    this.stats.rxKernelDrops += largeDrops;
    this.stats.rxDropped += largeDrops;
  }

  /**
   * Unmap the rings and close the socket. Views handed out by `receive` become empty (their
   * memory is gone). A second close throws EBADF.
   */
  close(): void {
    if (this.#closed) throw closedError("AfPacketRingDriver", "close");
    // Join the kicker first: no sendto of its may run once the ring and socket go.
    try {
      (this.#kicker ?? this.#tx.kicker)?.close();
    } catch { /* it was terminated anyway */ }
    // The same for the io_uring: its send in flight completes, then its ring (and with it the
    // polling thread) goes, before the TX ring is unmapped and the socket closed.
    try {
      this.#uring?.close(this.stats);
    } catch { /* the kernel holds the socket until the send ends */ }
    this.refreshStats();
    this.#closed = true;
    this.#fd = -1;
    this.#pollFd = -1;
    this.#tx.abandon();
    // An in-memory peer stops writing into this ring before its memory goes.
    this.#memory?.link.detach(this.#memory.side);
    // Detach first so every view over the mapping reads as empty instead of faulting. Not the
    // memory pair's rings, plain JS memory that nothing unmaps: the process's first detach
    // invalidates V8's ArrayBufferDetaching protector and with it all the code compiled so
    // far — at the end of the warm-up's part on these rings, the real driver's code compiled
    // there (bench/README.md, "conn9m").
    const buffer = this.#mapBuffer;
    this.#mapBuffer = new ArrayBuffer(0);
    if (this.#memory === null) {
      buffer.transfer(0);
      this.#largeBuffer?.transfer(0);
    }
    this.#largeBuffer = null;
    this.#resources.close(); // munmap, then close the socket
  }
}
