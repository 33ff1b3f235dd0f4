/**
 * Opening the AF_PACKET ring driver: its options and defaults, the ring sizes they give, and
 * the set-up itself — packet socket → TPACKET version, vnet header, loss mode, qdisc bypass →
 * RX and TX rings → send buffer → one mapping → bind. Everything acquired goes on the caller's
 * {@link ResourceStack}; the driver (`drivers/af_packet_ring.ts`) closes it.
 *
 * @module
 */

import { attachKernelRxDrop } from "./kernel_rx_drop.ts";
import { KernelRxOwnFilter } from "./kernel_rx_own_filter.ts";
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
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  SOL_PACKET,
  SOL_SOCKET,
  TPACKET_V2,
  TPACKET_V3,
} from "../ffi/constants.ts";
import { netdevFeatures } from "../ffi/ethtool.ts";
import { allocStruct } from "../ffi/structs.ts";
import { epollReadable, type Ipv6Words, mmap, setsockopt, setsockoptInt } from "../ffi/syscalls.ts";
import { setClassicProgram, SO_ATTACH_FILTER } from "../ffi/classic_bpf.ts";
import { frameLengthFilter } from "./frame_length_steering.ts";
import { PACKET_COPY_THRESH, PACKET_LOSS, tpacketReq, tpacketReq3 } from "../ffi/tpacket.ts";
import {
  AF_PACKET_RING_V2_BLOCK_BYTES,
  AF_PACKET_RING_V2_FRAME_BYTES,
  AF_PACKET_RING_V2_FRAMES_PER_BLOCK,
} from "./af_packet_rx_ring.ts";
import {
  TX_KICK_DEFAULT_THREAD_BYTES,
  TX_SLOT_V2,
  TX_SLOT_V3,
  type TxRingGeometry,
  txRingGeometry,
} from "./af_packet_tx_ring.ts";
import { intOption } from "./driver_util.ts";
import { URING_KICK_DEFAULT_IDLE_MS } from "./tx_kick_uring.ts";
import { type LinkInfo, queryLink } from "./interface_open.ts";
import { linkSizeLimits } from "../ffi/rtnetlink_link.ts";
import { bindPacketSocket, ignoreOutgoing, openPacketSocket } from "./packet_socket.ts";
import { joinFanoutGroup } from "./packet_fanout.ts";
import type { ResourceStack } from "./resource_stack.ts";

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
/**
 * Links with an MTU up to this get MTU-sized V2 slots (PACKET_COPY_THRESH takes the rare
 * super-frame through the socket queue); larger MTUs keep the 68 KiB slots unless the split
 * receive is on ({@link AF_PACKET_RING_SPLIT_SMALL_SLOT_MAX_MTU}).
 */
export const AF_PACKET_RING_SMALL_SLOT_MAX_MTU = 4096;
/**
 * With the split receive (the default outside a fanout group), links with an MTU up to this —
 * jumbo frames — get MTU-sized V2 slots too: super-frames take the second ring, so a slot
 * need not hold 64 KB. At MTU 9000 the default 32 MiB then holds 3,680 frames instead of 525
 * in 35 MiB, ~25 ms of 8,900-byte datagrams at line rate instead of ~3.5 ms. Measured
 * (bench/README.md, "UDP at MTU 9000: slots for frames, not for super-frames", branch
 * udp13c): kernel → ustack 8,900-byte datagrams, 2 s runs, the 525 slots lost 2.4–4.6 % of
 * the frames on a quiet machine and 25–27 % with one CPU hog running, the MTU-sized slots
 * 0 % and 0–0.3 %; kernel → ustack TCP unchanged.
 */
export const AF_PACKET_RING_SPLIT_SMALL_SLOT_MAX_MTU = 9216;
/**
 * Default memory of a V2 RX ring of MTU-sized slots, in 1 MiB blocks: 32 (at MTU 1500, 655
 * slots of 1,600 bytes per block: 20,960 slots, against 525 of 68 KiB in 35 MiB). Measured
 * ustack↔ustack, 8,900-byte datagrams at MTU 1500 (7 fragments each) for 2 s: 525 slots
 * dropped 42,710 of 137,547 fragments; MTU-sized slots none, at three times the rate.
 */
export const AF_PACKET_RING_DEFAULT_RX_SMALL_BLOCKS = 32;
/**
 * Default of {@link AfPacketRingOptions.rxSplit}: with MTU-sized V2 slots, a second packet
 * socket with a ring of 64 KiB slots takes the frames too long for a slot.
 */
export const AF_PACKET_RING_DEFAULT_RX_SPLIT = true;
/**
 * Blocks (1 MiB, 15 slots of 68 KiB each) of the split receive's ring of super-frame slots: 16
 * (240 slots, 16 MiB), four times what a 4 MiB TCP receive window of 64 KB super-frames holds.
 */
export const AF_PACKET_RING_DEFAULT_RX_LARGE_BLOCKS = 16;
/**
 * Shortest `rxLargeFrameBytes` and its default: what a 68 KiB slot
 * ({@link AF_PACKET_RING_V2_FRAME_BYTES}) holds after the kernel's 76 bytes in front of the
 * frame — a 64 KB super-frame, its Ethernet header and a VLAN tag.
 */
export const AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES: number = AF_PACKET_RING_V2_FRAME_BYTES - 76;
/**
 * Longest `rxLargeFrameBytes`: 512 KiB, above veth's `tso_max_size` (524,280), the largest
 * BIG TCP super-frame Linux makes on it; one such slot fills most of a 1 MiB block.
 */
export const AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES = 512 * 1024;

/**
 * The split receive's steering length for a link of `linkMtu`: frames up to this many Ethernet
 * bytes (the MTU, the header and a VLAN tag) take the ring of MTU-sized slots, longer ones
 * (GRO/GSO super-frames) the ring of large slots.
 *
 * @example
 * ```ts
 * rxSplitLimit(1500); // 1,518
 * ```
 */
export function rxSplitLimit(linkMtu: number): number {
  return linkMtu + ETH_HLEN + VLAN_TAG_BYTES;
}

/**
 * Bytes of a V2 slot that holds a frame of `frameBytes` (Ethernet bytes) whole: the kernel's
 * 76 bytes in front of it (frame header, sockaddr, vnet header), 16-aligned; at least
 * {@link AF_PACKET_RING_V2_FRAME_BYTES}.
 *
 * @example
 * ```ts
 * rxLargeSlotBytes(185_000); // 185,088: five slots per 1 MiB block
 * ```
 */
export function rxLargeSlotBytes(frameBytes: number): number {
  return Math.max(AF_PACKET_RING_V2_FRAME_BYTES, Math.ceil((76 + frameBytes) / 16) * 16);
}

/**
 * Fewest slots of the split receive's second ring: 64. Its default 16 blocks hold 240 slots of
 * 68 KiB, or 80 of BIG TCP's 185 KB; with one 512 KB slot per block they held 16, and a kernel
 * sender at 524,280 bytes overran them (0.3–1 % of its super-frames dropped in the ring,
 * bench/README.md, branch big13): the ring grows to 64 blocks then.
 */
export const AF_PACKET_RING_MIN_RX_LARGE_SLOTS = 64;

/**
 * Blocks of the split receive's second ring for slots of `slotBytes`: the default 16 (16 MiB),
 * more when that holds fewer than {@link AF_PACKET_RING_MIN_RX_LARGE_SLOTS} slots.
 */
function rxLargeBlocks(slotBytes: number): number {
  const perBlock = Math.floor(AF_PACKET_RING_V2_BLOCK_BYTES / slotBytes);
  return Math.max(
    AF_PACKET_RING_DEFAULT_RX_LARGE_BLOCKS,
    Math.ceil(AF_PACKET_RING_MIN_RX_LARGE_SLOTS / perBlock),
  );
}

/** Socket receive buffer for frames queued whole in copy mode (SO_RCVBUFFORCE). */
const COPY_MODE_RCVBUF_BYTES = 16 << 20;
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
/**
 * Default burst bound of the TX ring: kick once this many frame bytes are queued. A kernel
 * receiver's UDP socket holds ~416 KB by default (`rmem_default` doubled for overhead), and
 * it is filled in the kick itself (veth delivers in the sender's context) while the
 * application drains it on another CPU: one kick per tick's output (64 datagrams of 8,900 B
 * from `uperf`, 570 KB) overran it. 256 KiB is ~29 datagrams of 8,900 B (0.034 kicks per
 * 9000-byte wire packet). TCP super-segments do not count: TCP is clocked by its ACKs.
 */
export const AF_PACKET_RING_DEFAULT_TX_KICK_BYTES = 256 * 1024;
/** Bytes of an 802.1Q tag a frame may carry besides the MTU (the small slots have room). */
const VLAN_TAG_BYTES = 4;
/** The driver's class name, for messages. */
const DRIVER = "AfPacketRingDriver";
/** `tp_frame_size` declared for the V3 RX ring (V3 frames are variable; only checked). */
const RX_V3_DECLARED_FRAME_BYTES = 2048;

/** Options of `AfPacketRingDriver.open`. */
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
   * Join this AF_PACKET fanout group once the rings exist (`drivers/packet_fanout.ts`): the
   * socket then gets only the frames the group's program steers to it.
   */
  fanoutGroup?: number;
  /**
   * Let the host kernel's own protocols receive the interface's frames too; default true.
   * false attaches `drivers/kernel_rx_drop.ts`'s tcx program (Linux ≥ 6.6, root): the socket
   * still gets every frame, the kernel's IP layer none — for an interface the stack owns, it
   * saves the kernel's receive path per frame (route lookup and drop).
   */
  kernelRx?: boolean;
  /**
   * With `kernelRx` not false: IPv4 addresses (numbers, `0xc6120002` for 198.18.0.2) whose
   * frames the host kernel should not receive — the stack's own. Where it can (Linux ≥ 6.6,
   * root), the driver attaches `drivers/kernel_rx_drop.ts`'s address program: untagged IPv4
   * frames to these addresses are dropped after the packet socket has its copy, every other
   * frame still reaches the kernel. An address the kernel holds itself (on any interface of
   * the namespace, `SIOCGIFCONF`) is left out: its frames stay the kernel's. For the others the
   * kernel has no use for them (without the address it looks up a route, finds none and drops
   * each one, in the sender's context on a veth). Where
   * the program cannot be attached the kernel receives them as before
   * ({@link OpenedPacketRing.kernelRxDrop} says which). Default none; at most
   * `KERNEL_RX_OWN_DROP_MAX_ADDRESSES` (64) (the rest reach the kernel, counted). Given (even
   * empty), the driver keeps the program in step with later address sets
   * (`AfPacketRingDriver.setKernelRxDropTo`).
   */
  kernelRxDropTo?: readonly number[];
  /**
   * As `kernelRxDropTo`, for the stack's unicast IPv6 addresses (four words each,
   * `[0xfd000000, 0, 0, 2]` for fd00::2): untagged IPv6 frames to them are dropped after the
   * packet socket's copy; frames to multicast groups (NDP) and to the kernel's own addresses
   * (`/proc/net/if_inet6` of the namespace) still reach the kernel. At most
   * `KERNEL_RX_OWN_DROP_MAX_IPV6_ADDRESSES` (64).
   */
  kernelRxDropTo6?: readonly Ipv6Words[];
  /**
   * Transmit straight to the device, bypassing the qdisc (PACKET_QDISC_BYPASS); default true.
   * With vnetHdr it is only turned on when the device does TCP segmentation itself (see
   * `AfPacketRingDriver.qdiscBypass`).
   */
  qdiscBypass?: boolean;
  /**
   * Offer UDP fragmentation offload (UFO, `gso_type` 3) when vnetHdr is on: an IPv4 datagram
   * longer than the MTU goes into the ring as one frame and the kernel fragments it in
   * software, as it does its own sockets' datagrams — one ring slot, one socket buffer and
   * one JS copy per datagram instead of one per fragment. The kernel does that only on the
   * qdisc path, so this turns PACKET_QDISC_BYPASS off. Default
   * {@link AF_PACKET_RING_DEFAULT_UFO}.
   */
  udpFragmentationOffload?: boolean;
  /**
   * RX ring version; default `"v2"`: each frame is handed over the moment the kernel wrote it.
   * `"v3"` packs frames into blocks handed over when full or after `rxRetireMs` — denser, but
   * a lone frame waits for the timer. The TX ring takes the same version (one per socket).
   */
  rxRing?: AfPacketRxRingVersion;
  /**
   * V2 only: RX frame slots, at least (rounded up to whole blocks; 1..65535); default 512 (525
   * slots of 68 KiB, 35 MiB) or, with MTU-sized slots, as many as
   * {@link AF_PACKET_RING_DEFAULT_RX_SMALL_BLOCKS} blocks hold.
   */
  rxFrames?: number;
  /**
   * V2 only: MTU-sized slots and PACKET_COPY_THRESH for larger frames (true), or 68 KiB slots
   * that hold a 64 KB super-frame (false); default: true when the MTU is at most
   * {@link AF_PACKET_RING_SMALL_SLOT_MAX_MTU}, or at most
   * {@link AF_PACKET_RING_SPLIT_SMALL_SLOT_MAX_MTU} with the split receive.
   */
  rxSmallSlots?: boolean;
  /**
   * V2 with MTU-sized slots only: a second packet socket on the interface, with an RX ring of
   * 64 KiB slots, takes the frames too long for a slot (a kernel peer's GRO/GSO super-frames);
   * a classic filter on each socket steers by length (`drivers/frame_length_steering.ts`) and
   * the driver merges both rings in the kernel's order (`drivers/af_packet_rx_merge.ts`). Its
   * `fd` is then an epoll fd over both sockets. Default
   * {@link AF_PACKET_RING_DEFAULT_RX_SPLIT} with MTU-sized slots; never with `fanoutGroup`
   * (asking for both is a RangeError) or 64 KiB slots.
   */
  rxSplit?: boolean;
  /**
   * V2 only: the longest frame (Ethernet bytes, vnet header not counted) a large slot — the
   * split receive's second ring, or the one ring of large slots — holds whole
   * ({@link AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES}..{@link AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES});
   * default: the interface's GRO limits (`gro_max_size`, `gro_ipv4_max_size`, read over
   * rtnetlink at open) plus 18 when above 65,536, else the minimum, a 64 KB super-frame. A
   * kernel peer with BIG TCP (`gso_max_size` / `gso_ipv4_max_size` above 65,536 on its device)
   * sends longer ones; a frame longer than its slot is cut short and dropped (`rxTruncated`).
   * Each 1 MiB block holds as many slots as fit, so the large ring keeps its memory (the split
   * receive's at least 64 slots) and holds fewer frames.
   */
  rxLargeFrameBytes?: number;
  /** V3 only: bytes per RX block, a multiple of 4096, at least 128 KiB; default 256 KiB. */
  rxBlockBytes?: number;
  /** V3 only: number of RX blocks (2..65536); default 32. */
  rxBlocks?: number;
  /** V3 only: hand a partly filled RX block over after this many ms (1..1000); default 1. */
  rxRetireMs?: number;
  /** TX slots, at least (rounded up to whole blocks; 1..65536); default 128. */
  txFrames?: number;
  /**
   * Kick the kernel as soon as this many frame bytes are queued (0: only at the end of a tick
   * or when the ring is full); default {@link AF_PACKET_RING_DEFAULT_TX_KICK_BYTES}.
   */
  txKickBytes?: number;
  /**
   * Where the TX ring's kicks (`sendto`) run: `"sync"` on the stack's thread; `"thread"` on a
   * kicker thread (`drivers/tx_kicker.ts`), so the kernel's work behind the frames
   * (on veth: segmentation, filtering, the peer's receive) runs beside the stack; `"auto"` on
   * the kicker for a tick's batch of at least `txKickThreadBytes`, while the kicker is still
   * awake or while a kick asked of it is still pending, synchronously otherwise (ACKs, request/response). A full ring's kick and the burst
   * bound's (`txKickBytes`) are always synchronous. `"auto"` starts its kicker thread with the
   * first such batch (a stack that never sends one makes no worker); `"thread"` at open. With one CPU
   * (`navigator.hardwareConcurrency` ≤ 1) always `"sync"`. Default
   * {@link AF_PACKET_RING_DEFAULT_TX_KICK}. The kicker thread does not keep the process alive;
   * `close()` joins it.
   */
  txKick?: AfPacketTxKick;
  /** `"thread"`/`"auto"`: µs the kicker spins before it sleeps (0..1000000); default 0. */
  txKickSpinUs?: number;
  /**
   * `"uring"`: ms the io_uring's submission-queue polling thread spins after its last send
   * before it sleeps (1..60000); default 1 (`drivers/tx_kick_uring.ts`).
   */
  txKickUringIdleMs?: number;
  /** `"uring"`: pin the polling thread to this CPU (-1: not pinned); default -1. */
  txKickUringCpu?: number;
  /** `"auto"`: hand a tick's kick to the kicker from this many frame bytes; default 48 KiB. */
  txKickThreadBytes?: number;
  /**
   * Offer UDP segmentation offload (`gso_type` 5, Linux ≥ 6.2) when vnetHdr is on; default
   * true (reported only if the qdisc is not bypassed or the device does USO itself). Set false
   * for older kernels.
   */
  udpSegmentationOffload?: boolean;
}

/**
 * Default {@link AfPacketRingOptions.udpFragmentationOffload}: on. Measured on veth, MTU 1500,
 * 8,900-byte datagrams into a kernel socket (`bench/udp_ab.ts`, interleaved): the stack sent
 * 4.6–6.3 Gbit/s without it and 9.1–10.3 with it (kicks on the stack's thread), received
 * 8.7–9.6; TCP ustack→kernel on the qdisc path instead of the bypass: 1.10× and 0.90× of the
 * bypass's rate at MTU 1500 and 9000 (medians of 3 rounds, `bench/tx_ab.ts`) — no cost seen.
 */
export const AF_PACKET_RING_DEFAULT_UFO = true;

/**
 * Where the TX ring's kicks run ({@link AfPacketRingOptions.txKick}); `"uring"`: the end of a
 * tick's kick is an io_uring send picked up by the kernel's submission-queue polling thread,
 * no syscall of ours (`drivers/tx_kick_uring.ts`; opt-in).
 */
export type AfPacketTxKick = "sync" | "thread" | "auto" | "uring";

/**
 * Default {@link AfPacketRingOptions.txKick}: `"auto"` — measured (bench/README.md, "The TX-ring
 * kick on a thread"): bulk TCP sends (BBR under 1 % loss 1.1–1.3×) gain from the kicker; ACKs,
 * request/response and the UDP burst bound stay synchronous, where a thread hop costs.
 */
export const AF_PACKET_RING_DEFAULT_TX_KICK: AfPacketTxKick = "auto";

/** Sizes of both rings, derived from the options and the MTU. */
export interface PacketRingGeometry {
  /** TPACKET version of both rings. */
  rxRing: AfPacketRxRingVersion;
  /** Bytes per RX block. */
  rxBlockBytes: number;
  /** RX blocks. */
  rxBlocks: number;
  /** V2: slots; V3: 0 (frames are variable). */
  rxFrames: number;
  /** V2: bytes per slot; V3: 0. */
  rxFrameBytes: number;
  /** V2 with small slots: PACKET_COPY_THRESH is on. */
  rxCopyMode: boolean;
  /** V2 split receive: blocks of the second socket's ring of large slots; 0 without. */
  rxLargeBlocks: number;
  /** V2: bytes per large slot (the split receive's second ring, or the one ring's large slots). */
  rxLargeSlotBytes: number;
  /** V3: retire timeout; V2: 0. */
  rxRetireMs: number;
  /** The TX ring. */
  tx: TxRingGeometry;
}

/** Validated ring sizes asked for (the options with their defaults filled in). */
export interface PacketRingSizes {
  /** TPACKET version of both rings. */
  rxRing: AfPacketRxRingVersion;
  /** V2 RX slots asked for (undefined: the default for the slot size). */
  rxFrames: number | undefined;
  /** V2: small slots asked for (undefined: by MTU). */
  rxSmallSlots: boolean | undefined;
  /** V2: split receive asked for (undefined: the default with small slots). */
  rxSplit: boolean | undefined;
  /** V2: the longest frame a large slot holds (Ethernet bytes). */
  rxLargeFrameBytes: number;
  /** V3 bytes per RX block. */
  rxBlockBytes: number;
  /** V3 RX blocks. */
  rxBlocks: number;
  /** V3 retire timeout (ms). */
  rxRetireMs: number;
  /** TX slots asked for. */
  txFrames: number;
  /** Kick once this many frame bytes are queued (0: never early). */
  txKickBytes: number;
  /** Where kicks run (already "sync" on one CPU). */
  txKick: AfPacketTxKick;
  /** The kicker's spin before it sleeps (µs). */
  txKickSpinUs: number;
  /** "auto": batches of this many bytes go to the kicker. */
  txKickThreadBytes: number;
  /** "uring": the polling thread's idle ms before it sleeps. */
  txKickUringIdleMs: number;
  /** "uring": the polling thread's CPU (-1: not pinned). */
  txKickUringCpu: number;
}

/** What {@link openPacketRing} set up, handed to the driver. */
export interface OpenedPacketRing {
  /** The bound socket. */
  fd: number;
  /** The interface. */
  link: LinkInfo;
  /** True when frames carry a virtio_net_hdr. */
  vnetHdr: boolean;
  /** True when PACKET_QDISC_BYPASS is on. */
  qdiscBypass: boolean;
  /** True when PACKET_IGNORE_OUTGOING took. */
  ignoresOutgoing: boolean;
  /** True when UDP segmentation offload may be offered. */
  uso: boolean;
  /** True when UDP fragmentation offload may be offered (the qdisc is not bypassed). */
  ufo: boolean;
  /** Sizes of both rings. */
  geometry: PacketRingGeometry;
  /** Kick once this many frame bytes are queued (0: never early). */
  txKickBytes: number;
  /** Where kicks run, the kicker's spin and "auto"'s threshold, as validated. */
  txKick: Pick<
    PacketRingSizes,
    "txKick" | "txKickSpinUs" | "txKickThreadBytes" | "txKickUringIdleMs" | "txKickUringCpu"
  >;
  /**
   * The mapping: the RX ring's blocks, then the TX ring's (null: the rings live in memory,
   * `AfPacketRingDriver.memoryPair`).
   */
  map: Deno.PointerObject | null;
  /** Bytes of the mapping. */
  mapBytes: number;
  /** The split receive's second socket and its mapped ring of 64 KiB slots, or null. */
  large: { fd: number; map: Deno.PointerObject; mapBytes: number } | null;
  /** The fd the event loop polls: the socket, or an epoll fd over both sockets. */
  pollFd: number;
  /**
   * What the tcx program keeps from the host kernel: `"all"` (`kernelRx: false`), `"own"`
   * (IPv4 frames to `kernelRxDropTo`), `"none"` (no program: not asked for, or it could not be
   * attached).
   */
  kernelRxDrop: KernelRxDrop;
  /**
   * The address program's keeper when the options asked for one (`kernelRxDropTo` or
   * `kernelRxDropTo6`), attached or not; null otherwise.
   */
  kernelRxFilter: KernelRxOwnFilter | null;
}

/** {@link OpenedPacketRing.kernelRxDrop}: which received frames the host kernel is kept from. */
export type KernelRxDrop = "all" | "own" | "none";

/**
 * Validate the ring options and fill in the defaults. Throws RangeError, also for an option of
 * the other ring version.
 *
 * @example
 * ```ts
 * packetRingSizes({ ifname: "us0", rxRing: "v3" }).rxBlocks; // 32
 * ```
 */
export function packetRingSizes(opts: AfPacketRingOptions): PacketRingSizes {
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
  only("rxSmallSlots", "v2");
  only("rxSplit", "v2");
  only("rxLargeFrameBytes", "v2");
  if (opts.rxSplit === true && opts.rxSmallSlots === false) {
    throw new RangeError("AfPacketRingDriver: rxSplit needs MTU-sized slots (rxSmallSlots)");
  }
  if (opts.rxSplit === true && opts.fanoutGroup !== undefined) {
    throw new RangeError("AfPacketRingDriver: rxSplit does not join a fanout group");
  }
  only("rxBlockBytes", "v3");
  only("rxBlocks", "v3");
  only("rxRetireMs", "v3");
  const rxFrames = opts.rxFrames === undefined
    ? undefined
    : intOption(DRIVER, "rxFrames", opts.rxFrames, AF_PACKET_RING_DEFAULT_RX_FRAMES, 1, 65535);
  const rxLargeFrameBytes = intOption(
    DRIVER,
    "rxLargeFrameBytes",
    opts.rxLargeFrameBytes,
    AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES,
    AF_PACKET_RING_MIN_RX_LARGE_FRAME_BYTES,
    AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES,
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
  const txKickBytes = intOption(
    DRIVER,
    "txKickBytes",
    opts.txKickBytes,
    AF_PACKET_RING_DEFAULT_TX_KICK_BYTES,
    0,
    1 << 30,
  );
  const txKick = opts.txKick ?? AF_PACKET_RING_DEFAULT_TX_KICK;
  if (txKick !== "sync" && txKick !== "thread" && txKick !== "auto" && txKick !== "uring") {
    throw new RangeError(
      `AfPacketRingDriver: txKick must be sync, thread, auto or uring, got ${txKick}`,
    );
  }
  const txKickUringIdleMs = intOption(
    DRIVER,
    "txKickUringIdleMs",
    opts.txKickUringIdleMs,
    URING_KICK_DEFAULT_IDLE_MS,
    1,
    60_000,
  );
  const txKickUringCpu = intOption(DRIVER, "txKickUringCpu", opts.txKickUringCpu, -1, -1, 4095);
  const txKickSpinUs = intOption(DRIVER, "txKickSpinUs", opts.txKickSpinUs, 0, 0, 1_000_000);
  const txKickThreadBytes = intOption(
    DRIVER,
    "txKickThreadBytes",
    opts.txKickThreadBytes,
    TX_KICK_DEFAULT_THREAD_BYTES,
    0,
    1 << 30,
  );
  return {
    rxRing,
    rxFrames,
    rxSmallSlots: opts.rxSmallSlots,
    rxSplit: opts.fanoutGroup !== undefined ? false : opts.rxSplit,
    rxLargeFrameBytes,
    rxBlockBytes,
    rxBlocks,
    rxRetireMs,
    txFrames,
    txKickBytes,
    // A second thread only helps with a second CPU to run it.
    txKick: navigator.hardwareConcurrency > 1 ? txKick : "sync",
    txKickSpinUs,
    txKickThreadBytes,
    txKickUringIdleMs,
    txKickUringCpu,
  };
}

/**
 * Create the socket, configure it, set up and map both rings and bind, in the current
 * namespace; everything acquired goes on `res`.
 *
 * @example
 * ```ts
 * const opened = openOnInterface(o, (res) => openPacketRing(res, opts, packetRingSizes(opts)));
 * ```
 */
export function openPacketRing(
  res: ResourceStack,
  opts: AfPacketRingOptions,
  sizes: PacketRingSizes,
): OpenedPacketRing {
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
  let ignoresOutgoing = ignoreOutgoing(fd); // else receive() skips PACKET_OUTGOING itself
  // With the qdisc bypassed, the kernel drops any frame it would have to segment in
  // software (__dev_direct_xmit refuses a segmented skb): keep the bypass for super-segments
  // only when the device segments them itself, else the qdisc path segments them for us.
  const device = vnetHdr ? deviceOffloads(fd, link.ifname) : { tso: false, uso: false };
  const ufo = vnetHdr && (opts.udpFragmentationOffload ?? AF_PACKET_RING_DEFAULT_UFO);
  const bypass = qdiscBypass && (!vnetHdr || device.tso) && !ufo;
  if (bypass) setsockoptInt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1);

  const g = packetRingGeometry(
    link.mtu,
    link.linkMtu,
    vnetHdr,
    withDeviceLargeFrames(sizes, opts, link.ifindex),
  );
  if (g.rxCopyMode) {
    // Frames too big for a slot go to the socket queue whole: give it room for many.
    setsockoptInt(fd, SOL_PACKET, PACKET_COPY_THRESH, 1);
    raiseBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, COPY_MODE_RCVBUF_BYTES);
  }
  const rxReq = {
    blockSize: g.rxBlockBytes,
    blockNr: g.rxBlocks,
    frameSize: v2 ? g.rxFrameBytes : RX_V3_DECLARED_FRAME_BYTES,
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
  raiseBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, g.tx.blockBytes * g.tx.blocks);

  // One mapping: the RX ring's blocks, then the TX ring's.
  const mapBytes = g.rxBlockBytes * g.rxBlocks + g.tx.blockBytes * g.tx.blocks;
  const map = res.mapping(mmap(mapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd), mapBytes);
  let large: OpenedPacketRing["large"] = null;
  if (g.rxLargeBlocks > 0) {
    // The split receive: this socket keeps what fits its slots, a second one the rest. Both
    // filters are in place before either socket is bound (no frame reaches the wrong ring).
    const limit = rxSplitLimit(link.linkMtu);
    setClassicProgram(fd, SOL_SOCKET, SO_ATTACH_FILTER, frameLengthFilter(limit, "small"));
    large = openLargeRxSocket(res, vnetHdr, g.rxLargeBlocks, g.rxLargeSlotBytes, limit);
  }
  bindPacketSocket(fd, link.ifindex);
  if (large !== null) bindPacketSocket(large.fd, link.ifindex);
  // Joined last: resizing a ring takes a socket out of its fanout group. In a group, the
  // group's flag decides whether our own frames come back, not the socket's option.
  if (opts.fanoutGroup !== undefined) ignoresOutgoing = joinFanoutGroup(fd, opts.fanoutGroup);
  // Detached when the driver closes its resources (or the process dies).
  const { kernelRxDrop, kernelRxFilter } = attachKernelRxPrograms(res, link.ifindex, opts);
  return {
    fd,
    link,
    vnetHdr,
    qdiscBypass: bypass,
    ignoresOutgoing,
    uso: vnetHdr && (opts.udpSegmentationOffload ?? true) && (!bypass || device.uso),
    ufo,
    geometry: g,
    kernelRxDrop,
    kernelRxFilter,
    txKickBytes: sizes.txKickBytes,
    txKick: {
      txKick: sizes.txKick,
      txKickSpinUs: sizes.txKickSpinUs,
      txKickThreadBytes: sizes.txKickThreadBytes,
      txKickUringIdleMs: sizes.txKickUringIdleMs,
      txKickUringCpu: sizes.txKickUringCpu,
    },
    map,
    mapBytes,
    large,
    pollFd: large === null ? fd : res.fd(epollReadable([fd, large.fd])),
  };
}

/**
 * The tcx program `opts` asks for, attached to `ifindex` with its link on `res`: every frame
 * for `kernelRx: false` (a failure throws: it was asked for), the IPv4 frames to
 * `kernelRxDropTo` otherwise — that one is a default, so a kernel or a process that cannot
 * attach it (no tcx, no CAP_BPF, a seccomp filter) just leaves the kernel receiving them.
 */
function attachKernelRxPrograms(
  res: ResourceStack,
  ifindex: number,
  opts: AfPacketRingOptions,
): { kernelRxDrop: KernelRxDrop; kernelRxFilter: KernelRxOwnFilter | null } {
  if (opts.kernelRx === false) {
    res.fd(attachKernelRxDrop(ifindex));
    return { kernelRxDrop: "all", kernelRxFilter: null };
  }
  if (opts.kernelRxDropTo === undefined && opts.kernelRxDropTo6 === undefined) {
    return { kernelRxDrop: "none", kernelRxFilter: null };
  }
  const filter = new KernelRxOwnFilter(ifindex, opts.netns);
  res.defer(() => filter.close());
  const on = filter.update({ v4: opts.kernelRxDropTo ?? [], v6: opts.kernelRxDropTo6 ?? [] });
  return { kernelRxDrop: on ? "own" : "none", kernelRxFilter: filter };
}

/**
 * `sizes` with the large slots sized for what the device may hand up, unless
 * `rxLargeFrameBytes` was given: its GRO limits (`gro_max_size`, `gro_ipv4_max_size`) above
 * 65,536 — BIG TCP — give slots for super-frames that long (plus Ethernet header and VLAN tag,
 * at most {@link AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES}).
 */
function withDeviceLargeFrames(
  sizes: PacketRingSizes,
  opts: AfPacketRingOptions,
  ifindex: number,
): PacketRingSizes {
  if (opts.rxLargeFrameBytes !== undefined || sizes.rxRing !== "v2") return sizes;
  const limits = linkSizeLimits(ifindex);
  if (limits === null) return sizes;
  const gro = Math.max(limits.groMaxSize, limits.groIpv4MaxSize);
  if (gro <= 65_536) return sizes;
  const frame = Math.min(gro + ETH_HLEN + VLAN_TAG_BYTES, AF_PACKET_RING_MAX_RX_LARGE_FRAME_BYTES);
  return { ...sizes, rxLargeFrameBytes: Math.max(frame, sizes.rxLargeFrameBytes) };
}

/**
 * The split receive's second packet socket: TPACKET_V2, the vnet header as on the first, an RX
 * ring of `blocks` blocks of `slotBytes` slots (no TX ring), a filter keeping frames longer
 * than `limit`, mapped; not bound yet.
 */
function openLargeRxSocket(
  res: ResourceStack,
  vnetHdr: boolean,
  blocks: number,
  slotBytes: number,
  limit: number,
): { fd: number; map: Deno.PointerObject; mapBytes: number } {
  const fd = openPacketSocket(res);
  setsockoptInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2);
  if (vnetHdr) setsockoptInt(fd, SOL_PACKET, PACKET_VNET_HDR, 1);
  ignoreOutgoing(fd);
  setClassicProgram(fd, SOL_SOCKET, SO_ATTACH_FILTER, frameLengthFilter(limit, "large"));
  setsockopt(
    fd,
    SOL_PACKET,
    PACKET_RX_RING,
    tpacketReq({
      blockSize: AF_PACKET_RING_V2_BLOCK_BYTES,
      blockNr: blocks,
      frameSize: slotBytes,
      frameNr: blocks * Math.floor(AF_PACKET_RING_V2_BLOCK_BYTES / slotBytes),
    }),
  );
  const mapBytes = blocks * AF_PACKET_RING_V2_BLOCK_BYTES;
  const map = res.mapping(mmap(mapBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd), mapBytes);
  return { fd, map, mapBytes };
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
 *
 * @example
 * ```ts
 * packetRingGeometry(1500, 1500, true, packetRingSizes({ ifname: "us0" })).rxCopyMode; // true
 * ```
 */
export function packetRingGeometry(
  mtu: number,
  linkMtu: number,
  vnetHdr: boolean,
  sizes: PacketRingSizes,
): PacketRingGeometry {
  const tx = txRingGeometry(
    sizes.rxRing === "v2" ? TX_SLOT_V2 : TX_SLOT_V3,
    mtu,
    vnetHdr,
    sizes.txFrames,
  );
  if (sizes.rxRing === "v2") {
    // Slots hold what the link may deliver (its own MTU), whatever smaller MTU we send with.
    const split = sizes.rxSplit ?? AF_PACKET_RING_DEFAULT_RX_SPLIT;
    const small = sizes.rxSmallSlots ?? (linkMtu <= AF_PACKET_RING_SMALL_SLOT_MAX_MTU ||
      (split && linkMtu <= AF_PACKET_RING_SPLIT_SMALL_SLOT_MAX_MTU));
    // tp_mac is 76 with a vnet header (66 without), then the frame, a VLAN tag, 16-aligned.
    const largeSlot = rxLargeSlotBytes(sizes.rxLargeFrameBytes);
    const frameBytes = small ? Math.ceil((76 + ETH_HLEN + 4 + linkMtu) / 16) * 16 : largeSlot;
    const perBlock = Math.floor(AF_PACKET_RING_V2_BLOCK_BYTES / frameBytes);
    const blocks = sizes.rxFrames !== undefined
      ? Math.ceil(sizes.rxFrames / perBlock)
      : small
      ? AF_PACKET_RING_DEFAULT_RX_SMALL_BLOCKS
      // The memory of the default 68 KiB slots (35 MiB), whatever their size: larger slots
      // hold fewer frames, not more bytes.
      : Math.ceil(AF_PACKET_RING_DEFAULT_RX_FRAMES / AF_PACKET_RING_V2_FRAMES_PER_BLOCK);
    return {
      rxRing: "v2",
      rxBlockBytes: AF_PACKET_RING_V2_BLOCK_BYTES,
      rxBlocks: blocks,
      rxFrames: blocks * perBlock,
      rxFrameBytes: frameBytes,
      rxCopyMode: small,
      rxLargeBlocks: small && split ? rxLargeBlocks(largeSlot) : 0,
      rxLargeSlotBytes: largeSlot,
      rxRetireMs: 0,
      tx,
    };
  }
  return {
    rxRing: "v3",
    rxBlockBytes: sizes.rxBlockBytes,
    rxBlocks: sizes.rxBlocks,
    rxFrames: 0,
    rxFrameBytes: 0,
    rxCopyMode: false,
    rxLargeBlocks: 0,
    rxLargeSlotBytes: 0,
    rxRetireMs: sizes.rxRetireMs,
    tx,
  };
}

/** Ask for a socket buffer of `bytes` (the FORCE option, else the plain one up to its max). */
function raiseBuffer(fd: number, force: number, plain: number, bytes: number): void {
  const value = allocStruct(4);
  new DataView(value.buffer).setInt32(0, Math.min(bytes, 0x3fffffff), true);
  try {
    setsockopt(fd, SOL_SOCKET, force, value);
  } catch {
    try {
      setsockopt(fd, SOL_SOCKET, plain, value);
    } catch { /* keep the default: kicks send what fits, copies wait for room */ }
  }
}
