/**
 * Opening the AF_XDP driver: its options and defaults, the geometry they give (chunks, rings,
 * the receive/transmit split), and the set-up itself — socket → UMEM registration → ring sizes
 * → ring mappings → fill ring primed → bind (falling back to copy mode where zero-copy is
 * refused) → redirect program attached. Everything acquired goes on the caller's
 * {@link ResourceStack}; the driver (`drivers/af_xdp.ts`) closes it.
 *
 * @module
 */

import { AF_XDP, ETH_HLEN, SOCK_CLOEXEC, SOCK_RAW, SOL_XDP } from "../ffi/constants.ts";
import { EOPNOTSUPP, SyscallError } from "../ffi/errno.ts";
import {
  sockaddrXdp,
  XDP_COPY,
  XDP_OPTIONS_ZEROCOPY,
  XDP_PACKET_HEADROOM,
  XDP_PGOFF_RX_RING,
  XDP_PGOFF_TX_RING,
  XDP_RX_RING,
  XDP_TX_RING,
  XDP_UMEM_COMPLETION_RING,
  XDP_UMEM_FILL_RING,
  XDP_UMEM_PGOFF_COMPLETION_RING,
  XDP_UMEM_PGOFF_FILL_RING,
  XDP_USE_SG,
  XDP_ZEROCOPY,
  xdpMmapOffsets,
  xdpOptionFlags,
  type XdpRingOffsets,
} from "../ffi/if_xdp.ts";
import { bind, setsockoptInt, socket } from "../ffi/syscalls.ts";
import { intOption, roundUp } from "./driver_util.ts";
import { type LinkInfo, queryLink } from "./interface_open.ts";
import type { ResourceStack } from "./resource_stack.ts";
import { type XdpAttachMode, XdpRedirectProgram } from "./xdp_program.ts";
import { mapXdpRing, XdpConsumerRing, XdpProducerRing, type XdpRingEntry } from "./xdp_ring.ts";
import { XdpUmem } from "./xdp_umem.ts";

/** Default UMEM chunk size (one page). */
export const AF_XDP_DEFAULT_FRAME_BYTES = 4096;
/** Default UMEM chunks (16 MiB at 4 KiB). */
export const AF_XDP_DEFAULT_FRAMES = 4096;
/** Default entries of each of the four rings. */
export const AF_XDP_DEFAULT_RING_SIZE = 2048;
/** Default most frames one `receive` returns (also the multi-buffer staging slots). */
export const AF_XDP_DEFAULT_RX_BATCH = 64;
/** What the AF_XDP driver needs, named in the message of an EPERM/EACCES at open. */
export const AF_XDP_CAPABILITIES =
  "AF_XDP needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (run as root)";
/** The driver's class name, for messages. */
const DRIVER = "AfXdpDriver";

/** Options of `AfXdpDriver.open`. */
export interface AfXdpOptions {
  /** Interface to bind (e.g. `"us0"`). */
  ifname: string;
  /** Named network namespace (`ip netns`) the interface lives in; default: the current one. */
  netns?: string;
  /** Device queue to bind and redirect; default 0. */
  queue?: number;
  /** Use a smaller MTU than the link's (bytes of IP per frame); default: the link's MTU. */
  mtu?: number;
  /** UMEM chunk size, 2048 or 4096; default 4096. */
  frameBytes?: number;
  /** UMEM chunks, split between receive and transmit; default 4096. */
  frames?: number;
  /** Entries of each ring (a power of two); default 2048. */
  ringSize?: number;
  /** Ask for zero-copy; where the driver cannot (veth: EOPNOTSUPP) fall back to copy mode. */
  zeroCopy?: boolean;
  /**
   * Multi-buffer frames (XDP_USE_SG + BPF_F_XDP_HAS_FRAGS); default: on when a link-MTU frame
   * does not fit one chunk after the kernel's 256-byte headroom (MTU 9000 at 4 KiB chunks).
   */
  multiBuffer?: boolean;
  /** How the redirect program is attached; default "auto" (native where the driver has it). */
  attachMode?: XdpAttachMode;
  /** Most frames one `receive` returns; default 64. */
  rxBatch?: number;
}

/** The validated numbers the driver works with. */
export interface XdpGeometry {
  /** Device queue. */
  queue: number;
  /** UMEM chunk size. */
  frameBytes: number;
  /** UMEM chunks. */
  frames: number;
  /** Entries per ring. */
  ringSize: number;
  /** Chunks owned by receive. */
  rxFrames: number;
  /** Chunks owned by transmit. */
  txFrames: number;
  /** Most frames one `receive` returns. */
  rxBatch: number;
}

/**
 * Validate the geometry options and derive the receive/transmit split. Throws RangeError.
 *
 * @example
 * ```ts
 * xdpGeometry({ ifname: "us0" }).rxFrames; // 2048: half the default 4096 chunks
 * ```
 */
export function xdpGeometry(opts: AfXdpOptions): XdpGeometry {
  const queue = intOption(DRIVER, "queue", opts.queue, 0, 0, 0xffff);
  const frameBytes = opts.frameBytes ?? AF_XDP_DEFAULT_FRAME_BYTES;
  if (frameBytes !== 2048 && frameBytes !== 4096) {
    throw new RangeError(`${DRIVER}: frameBytes must be 2048 or 4096, got ${frameBytes}`);
  }
  const ringSize = intOption(
    DRIVER,
    "ringSize",
    opts.ringSize,
    AF_XDP_DEFAULT_RING_SIZE,
    2,
    1 << 20,
  );
  if ((ringSize & (ringSize - 1)) !== 0) {
    throw new RangeError(`${DRIVER}: ringSize must be a power of two, got ${ringSize}`);
  }
  // Chunk addresses travel as u32 words: the UMEM stays below 4 GiB.
  const maxFrames = Math.floor(0xffff_f000 / frameBytes);
  const frames = intOption(DRIVER, "frames", opts.frames, AF_XDP_DEFAULT_FRAMES, 2, maxFrames);
  const rxBatch = intOption(DRIVER, "rxBatch", opts.rxBatch, AF_XDP_DEFAULT_RX_BATCH, 1, ringSize);
  // Receive gets half the chunks (the fill ring holds them all); transmit the rest, bounded by
  // the completion ring so every chunk in flight has a completion slot.
  const rxFrames = Math.min(ringSize, frames >>> 1);
  const txFrames = Math.min(ringSize, frames - rxFrames);
  return { queue, frameBytes, frames, ringSize, rxFrames, txFrames, rxBatch };
}

/** The four rings of a bound socket. */
export interface XdpRings {
  /** Received descriptors (kernel → us). */
  rx: XdpConsumerRing;
  /** Descriptors to send (us → kernel). */
  tx: XdpProducerRing;
  /** Receive chunks handed to the kernel (us → kernel). */
  fill: XdpProducerRing;
  /** Transmit chunks the kernel is done with (kernel → us). */
  completion: XdpConsumerRing;
}

/** What {@link openXdpSocket} set up, handed to the driver. */
export interface OpenedXdp {
  /** The bound XDP socket. */
  fd: number;
  /** The interface. */
  link: LinkInfo;
  /** The validated geometry. */
  geometry: XdpGeometry;
  /** The UMEM. */
  umem: XdpUmem;
  /** The rings (the fill ring already primed with every receive chunk). */
  rings: XdpRings;
  /** True when the socket runs zero-copy (confirmed with `XDP_OPTIONS`). */
  zeroCopy: boolean;
  /** Why zero-copy was asked for and not used, or null. */
  zeroCopyFallback: string | null;
  /** True when frames may span several chunks. */
  multiBuffer: boolean;
  /** The attached redirect program. */
  program: XdpRedirectProgram;
}

/**
 * Look the interface up, map the UMEM, make and bind the socket (falling back to copy mode
 * where zero-copy is refused) and attach the redirect program, in the current namespace;
 * everything acquired goes on `res`.
 *
 * @example
 * ```ts
 * const o = openOnInterface(opts, (res) => openXdpSocket(res, opts, xdpGeometry(opts)));
 * ```
 */
export function openXdpSocket(
  res: ResourceStack,
  opts: AfXdpOptions,
  g: XdpGeometry,
): OpenedXdp {
  const link = queryLink(DRIVER, opts.ifname, opts.mtu);
  // A link-MTU frame (plus a VLAN tag) must fit one chunk after the kernel's headroom.
  const largest = link.linkMtu + ETH_HLEN + 4;
  const multiBuffer = opts.multiBuffer ?? (largest > g.frameBytes - XDP_PACKET_HEADROOM);
  const umem = XdpUmem.map(res, {
    frameBytes: g.frameBytes,
    rxFrames: g.rxFrames,
    txFrames: g.txFrames,
    frames: g.frames,
    stagingSlots: multiBuffer ? g.rxBatch : 0,
    stagingSlotBytes: multiBuffer ? roundUp(largest, 64) : 0,
  });

  const wantZeroCopy = opts.zeroCopy ?? false;
  let zeroCopyFallback: string | null = null;
  const beforeSocket = res.size;
  let bound: { fd: number; rings: XdpRings };
  try {
    bound = bindSocket(res, umem, link.ifindex, g, multiBuffer, wantZeroCopy);
  } catch (e) {
    if (!(wantZeroCopy && e instanceof SyscallError && e.errno === EOPNOTSUPP)) throw e;
    // The driver cannot do zero-copy (veth): start over in copy mode on a fresh socket.
    res.unwind(beforeSocket);
    zeroCopyFallback = e.code;
    bound = bindSocket(res, umem, link.ifindex, g, multiBuffer, false);
  }
  const zeroCopy = (xdpOptionFlags(bound.fd) & XDP_OPTIONS_ZEROCOPY) !== 0;
  if (wantZeroCopy && !zeroCopy && zeroCopyFallback === null) zeroCopyFallback = "copy mode";

  const program = XdpRedirectProgram.attach({
    ifindex: link.ifindex,
    queue: g.queue,
    xskFd: bound.fd,
    multiBuffer,
    mode: opts.attachMode,
  });
  res.defer(() => program.close());
  return {
    fd: bound.fd,
    link,
    geometry: g,
    umem,
    rings: bound.rings,
    zeroCopy,
    zeroCopyFallback,
    multiBuffer,
    program,
  };
}

/**
 * socket → XDP_UMEM_REG → ring sizes → XDP_MMAP_OFFSETS → map the rings → prime the fill ring
 * → bind; the socket and the ring mappings go on `res`.
 */
function bindSocket(
  res: ResourceStack,
  umem: XdpUmem,
  ifindex: number,
  g: XdpGeometry,
  multiBuffer: boolean,
  zeroCopy: boolean,
): { fd: number; rings: XdpRings } {
  const fd = res.fd(socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0));
  umem.register(fd);
  const size = g.ringSize;
  setsockoptInt(fd, SOL_XDP, XDP_UMEM_FILL_RING, size);
  setsockoptInt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, size);
  setsockoptInt(fd, SOL_XDP, XDP_RX_RING, size);
  setsockoptInt(fd, SOL_XDP, XDP_TX_RING, size);
  const off = xdpMmapOffsets(fd);
  const map = (o: XdpRingOffsets, pgoff: bigint, entry: XdpRingEntry) =>
    mapXdpRing(res, fd, o, pgoff, size, entry);
  const rings: XdpRings = {
    rx: new XdpConsumerRing(map(off.rx, XDP_PGOFF_RX_RING, "desc")),
    tx: new XdpProducerRing(map(off.tx, XDP_PGOFF_TX_RING, "desc")),
    fill: new XdpProducerRing(map(off.fill, XDP_UMEM_PGOFF_FILL_RING, "addr")),
    completion: new XdpConsumerRing(map(off.completion, XDP_UMEM_PGOFF_COMPLETION_RING, "addr")),
  };
  // Prime the fill ring with every receive chunk before frames can arrive.
  const fill = rings.fill;
  for (let i = 0; i < g.rxFrames; i++) fill.setAddr(fill.head + i, umem.rxChunk(i));
  fill.advance(g.rxFrames);
  fill.publish();

  const flags = (zeroCopy ? XDP_ZEROCOPY : XDP_COPY) | (multiBuffer ? XDP_USE_SG : 0);
  bind(fd, sockaddrXdp(ifindex, g.queue, flags));
  return { fd, rings };
}
