/**
 * The contract between frame pumps (`drivers/`, the in-memory wire) and the stack.
 *
 * A driver moves whole Ethernet frames. Receive is batched into a reusable {@link RxBatch}
 * (parallel arrays, no object per frame); transmit copies a frame out of stack memory into the
 * driver's own queue (ring slot or staging buffer) and {@link LinkDriver.flush} pushes the queue
 * to the kernel once per tick. A driver with slots of its own may also take a frame in two
 * pieces ({@link LinkDriver.transmitGather}): the headers from a packet buffer and the payload
 * from where it lies (a TCP send ring), so the payload is copied once, into the slot.
 *
 * @module
 */

import type { PayloadSource } from "../core/packet_buffer.ts";
import { DOUBLE_ZERO } from "../core/v8_shapes.ts";

/** RX flag: the frame's L4 checksum was verified by the kernel/device (DATA_VALID). */
export const RX_CSUM_VALID = 1;
/**
 * RX flag: the frame's L4 checksum is unfinished (CHECKSUM_PARTIAL / NEEDS_CSUM /
 * TP_STATUS_CSUMNOTREADY): the field holds only the pseudo-header sum. The frame came from a
 * local kernel peer, so its payload is trusted; treat the checksum as good.
 */
export const RX_CSUM_PARTIAL = 2;
/** RX flag: the frame is a GRO super-frame, possibly larger than the MTU. */
export const RX_GSO = 4;
/**
 * RX flag: the driver cannot tell whether the kernel left the L4 checksum partial (AF_XDP
 * copies the bytes of a CHECKSUM_PARTIAL skb from a local veth peer and carries no metadata).
 * A checksum that fails to verify is then accepted only if the field holds exactly the
 * pseudo-header sum — the one value a partial checksum can have ({@link isPartialChecksum}).
 */
export const RX_CSUM_MAYBE_PARTIAL = 8;
/**
 * RX flag set by the NIC (a driver's own value is replaced): the frame was not addressed to
 * our MAC — a link-layer broadcast or multicast, or another host's frame seen in promiscuous
 * mode (Linux `pkt_type != PACKET_HOST`). No ICMP error answers such a frame (RFC 1122
 * §3.2.2, RFC 1812 §4.3.2.7, RFC 4443 §2.4 (e.3, e.4)).
 */
export const RX_LINK_NOT_HOST = 16;

/**
 * True if a transport checksum `field` is what a sender that offloads checksumming leaves in
 * it: the folded, *uncomplemented* pseudo-header sum (`pseudoFolded`).
 */
export function isPartialChecksum(field: number, pseudoFolded: number): boolean {
  // Ones' complement has two zeros (0x0000 and 0xffff): compare them as equal.
  return (field === 0xffff ? 0 : field) === (pseudoFolded === 0xffff ? 0 : pseudoFolded);
}

/** GSO types, numerically equal to `virtio_net_hdr.gso_type`. */
export const GSO_NONE = 0;
/** TCP over IPv4 segmentation. */
export const GSO_TCPV4 = 1;
/**
 * UDP fragmentation offload (UFO): one IPv4 datagram longer than the MTU, sent as fragments
 * of gsoSize payload bytes (Linux fragments it in software on the qdisc path).
 */
export const GSO_UDP = 3;
/** TCP over IPv6 segmentation. */
export const GSO_TCPV6 = 4;
/** UDP segmentation (USO, `gso_type` 5). */
export const GSO_UDP_L4 = 5;

/** What a driver can offload; the stack is correct with every flag off. */
export interface LinkCapabilities {
  /** The driver takes frames whose L4 checksum is left partial (see {@link TxOffload}). */
  txChecksumOffload: boolean;
  /** The driver takes TCP super-segments (up to `maxGsoBytes`) and segments them by gsoSize. */
  tcpSegmentationOffload: boolean;
  /** The driver takes UDP super-datagrams segmented by gsoSize (USO). */
  udpSegmentationOffload: boolean;
  /**
   * The driver takes an IPv4 UDP datagram longer than the MTU as one frame ({@link GSO_UDP},
   * up to `maxGsoBytes`) and has it sent as IP fragments of gsoSize payload bytes each [false
   * when absent].
   */
  udpFragmentationOffload?: boolean;
  /** Largest frame the driver takes with segmentation offload (bytes, incl. Ethernet header). */
  maxGsoBytes: number;
}

/**
 * A driver's capabilities record: `c` with every field present, in one order, frozen. Every
 * driver makes its record here, so all records share one V8 map: the transmit path compiled
 * on one driver's record (the warm-up's) is not deoptimised ("wrong map") by another's (the
 * real driver's, which had one field more) — bench/README.md, "warm9".
 *
 * @example
 * ```ts
 * const c = linkCapabilities({
 *   txChecksumOffload: true,
 *   tcpSegmentationOffload: true,
 *   udpSegmentationOffload: false,
 *   maxGsoBytes: 65_000,
 * });
 * c.udpFragmentationOffload; // false
 * ```
 */
export function linkCapabilities(c: LinkCapabilities): Readonly<LinkCapabilities> {
  return Object.freeze({
    txChecksumOffload: c.txChecksumOffload,
    tcpSegmentationOffload: c.tcpSegmentationOffload,
    udpSegmentationOffload: c.udpSegmentationOffload,
    udpFragmentationOffload: c.udpFragmentationOffload ?? false,
    maxGsoBytes: c.maxGsoBytes,
  });
}

/** Capabilities of a driver that offloads nothing. */
export const NO_OFFLOADS: Readonly<LinkCapabilities> = linkCapabilities({
  txChecksumOffload: false,
  tcpSegmentationOffload: false,
  udpSegmentationOffload: false,
  maxGsoBytes: 0,
});

/**
 * Offload request for one transmitted frame; one object is reused by the stack, never one per
 * frame. Offsets are from the start of the Ethernet frame.
 */
export class TxOffload {
  /** True when the L4 checksum is partial and must be finished by the driver/kernel. */
  needsCsum = false;
  /** Where checksumming starts (the L4 header offset). */
  csumStart = 0;
  /** Offset of the checksum field from csumStart (16 for TCP, 6 for UDP). */
  csumOffset = 0;
  /** One of the `GSO_*` constants. */
  gsoType: number = GSO_NONE;
  /** Segment payload size for GSO (the MSS for TCP). */
  gsoSize = 0;
  /** Length of all headers (Ethernet + IP + L4) in front of the GSO payload. */
  hdrLen = 0;
  /** Reset to "no offload". */
  clear(): void {
    this.needsCsum = false;
    this.csumStart = 0;
    this.csumOffset = 0;
    this.gsoType = GSO_NONE;
    this.gsoSize = 0;
    this.hdrLen = 0;
  }
}

/**
 * A reusable batch of received frames as parallel arrays. Frame i is
 * `buf[i].subarray(off[i], off[i] + len[i])` with flags `flags[i]` (`RX_*`). The bytes belong
 * to the driver until {@link LinkDriver.release}; the stack parses them in place and copies
 * what it keeps.
 */
export class RxBatch {
  /** Number of valid entries. */
  count = 0;
  /** Backing memory of each frame (a ring view or a receive buffer). */
  readonly buf: Uint8Array[];
  /** Start offset of each frame in its buffer. */
  readonly off: Int32Array;
  /** Length of each frame. */
  readonly len: Int32Array;
  /** `RX_*` flags of each frame. */
  readonly flags: Uint8Array;
  /** Room for `capacity` frames. */
  constructor(readonly capacity: number) {
    const empty = new Uint8Array(0);
    this.buf = new Array<Uint8Array>(capacity).fill(empty);
    this.off = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
    this.flags = new Uint8Array(capacity);
  }
}

/** Counters every driver keeps (names follow `ip -s link` where they can). */
export class DriverStats {
  /** Frames received and handed to the stack. */
  rxFrames = 0;
  /** Bytes received and handed to the stack. */
  rxBytes: number = DOUBLE_ZERO;
  /** Frames the driver dropped on receive (too big, ring overrun reported by the kernel, …). */
  rxDropped = 0;
  /** Frames queued for transmit. */
  txFrames = 0;
  /** Bytes queued for transmit. */
  txBytes: number = DOUBLE_ZERO;
  /** Frames refused on transmit (queue/ring full, kernel error). */
  txDropped = 0;
  /** Times the TX ring or queue was found full. */
  txRingFull = 0;
  /** Kicks (sendto/flush syscalls) issued for transmit. */
  txKicks = 0;
  /** Every syscall the driver made (receive, transmit, poll excluded). */
  syscalls = 0;

  /**
   * The byte totals start as doubles (then +0): at 10–20 Gbit/s they pass 2^31 (the end of
   * this V8's small integers; 2^30 where it compresses pointers) within a second, and that
   * change of field turned V8's map of every driver's counters over mid-run — the receive path's
   * optimised code thrown away with it ("wrong map": bench/README.md, "rx13h").
   */
  constructor() {
    this.rxBytes = 0;
    this.txBytes = 0;
  }
}

/**
 * A frame pump. Implemented by `drivers/af_packet_ring.ts`, `drivers/af_packet.ts`,
 * `drivers/af_xdp.ts`, `drivers/tap.ts`, `drivers/loopback.ts` and the in-memory wire of
 * `link/sim_wire.ts`.
 */
export interface LinkDriver {
  /** Interface name (`veth0`, `tap0`, `lo-sim`, …). */
  readonly name: string;
  /**
   * Kind of driver: `af_packet`, `af_packet_mmsg`, `af_xdp`, `tap`, `loopback` — the
   * `--driver` name that opens it — or `sim`.
   */
  readonly kind: string;
  /** The link's 6-byte MAC address. */
  readonly mac: Uint8Array;
  /** Link MTU (IP bytes per frame, without the 14-byte Ethernet header). */
  readonly mtu: number;
  /** Offloads this driver performs. */
  readonly capabilities: LinkCapabilities;
  /** A file descriptor that polls readable when frames wait, or -1 (simulated links). */
  readonly fd: number;
  /** Counters. */
  readonly stats: DriverStats;
  /**
   * Fill `batch` with up to `max` frames (≤ batch.capacity) without blocking; returns the
   * count (also stored in `batch.count`). The previous batch must have been released.
   */
  receive(batch: RxBatch, max: number): number;
  /** Give the frames of the last `receive` back to the driver (ring slots are returned). */
  release(batch: RxBatch): void;
  /**
   * The kernel's receive time (epoch ms, CLOCK_REALTIME) of the first frame of the last
   * non-empty batch, NaN when unknown; drivers that cannot tell leave it out. For latency
   * traces: how long a frame waited between the kernel and the stack.
   */
  rxStampMs?(): number;
  /**
   * Queue one frame for transmit, copying `len` bytes from `frame` at `off`. `offload` describes
   * a partial checksum or GSO super-frame, or is null. Returns false when refused (counted).
   */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean;
  /**
   * Optional gather transmit: queue one frame of `len + payloadLength` bytes — `len` bytes of
   * `frame` at `off` (the headers), then `payloadLength` bytes of `payload` from
   * `payloadOffset` — copying both straight into the driver's queue (one copy of the
   * payload). Otherwise as {@link LinkDriver.transmit}; also refused (false, counted) when
   * `payload` holds fewer bytes. Drivers without it get the payload copied behind the headers
   * first.
   */
  transmitGather?(
    frame: Uint8Array,
    off: number,
    len: number,
    payload: PayloadSource,
    payloadOffset: number,
    payloadLength: number,
    offload: TxOffload | null,
  ): boolean;
  /** Push queued frames to the kernel (one kick per tick). */
  flush(): void;
  /** Release every resource; further calls throw. */
  close(): void;
}
