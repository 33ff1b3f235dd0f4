/**
 * The AF_PACKET frame pump: a raw packet socket bound to one interface, batched with
 * `recvmmsg`/`sendmmsg`.
 *
 * Receive: one `recvmmsg(MSG_DONTWAIT)` per {@link AfPacketDriver.receive} into preallocated
 * 64 KiB slots (a kernel peer's GRO super-frames arrive whole, far above the MTU), each with
 * its own `sockaddr_ll` and control buffer; the `PACKET_AUXDATA` cmsg says whether the kernel
 * left the checksum unfinished or verified it. Transmit: frames are copied into preallocated
 * staging slots and {@link AfPacketDriver.flush} hands them all to one `sendmmsg`.
 *
 * All `msghdr`/`iovec` structures are built once in {@link AfPacketDriver.open}; the hot path
 * only reads lengths out of them and writes lengths into them.
 *
 * @module
 */

import {
  DriverStats,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  RX_CSUM_PARTIAL,
  RX_CSUM_VALID,
  RX_GSO,
  type RxBatch,
  type TxOffload,
} from "../link/driver.ts";
import {
  ETH_HLEN,
  MSG_DONTWAIT,
  MSG_TRUNC,
  PACKET_AUXDATA,
  PACKET_OUTGOING,
  SOL_PACKET,
  TP_STATUS_CSUM_VALID,
  TP_STATUS_CSUMNOTREADY,
} from "../ffi/constants.ts";
import { EAGAIN, EINVAL, EMSGSIZE, ENOBUFS } from "../ffi/errno.ts";
import {
  addressOf,
  allocStruct,
  CMSG_LEN_OFF,
  CMSG_LEVEL,
  CMSG_TYPE,
  cmsgAlign,
  CMSGHDR_SIZE,
  IOV_BASE,
  IOV_LEN,
  IOVEC_SIZE,
  MMSG_LEN,
  MMSGHDR_SIZE,
  MSG_CONTROL,
  MSG_CONTROLLEN,
  MSG_FLAGS,
  MSG_IOV,
  MSG_IOVLEN,
  MSG_NAME,
  MSG_NAMELEN,
  SLL_PKTTYPE,
  SOCKADDR_LL_SIZE,
  TP_AUX_STATUS,
  TPACKET_AUXDATA_SIZE,
} from "../ffi/structs.ts";
import { recvmmsg, sendmmsg, setsockoptInt } from "../ffi/syscalls.ts";
import { copyBytes } from "../core/copy_bytes.ts";
import {
  closedError,
  intOption,
  putRxFrame,
  roundUp,
  rxWant,
  slotViews,
  txFrameInBounds,
} from "./driver_util.ts";
import { type LinkInfo, openOnInterface, queryLink } from "./interface_open.ts";
import {
  AF_PACKET_CAPABILITIES,
  bindPacketSocket,
  ignoreOutgoing,
  openPacketSocket,
} from "./packet_socket.ts";
import type { ResourceStack } from "./resource_stack.ts";
import { joinFanoutGroup } from "./packet_fanout.ts";

/**
 * Bytes of one receive slot at least: the largest IP packet (65,535 B) plus link header and
 * room for a VLAN tag. Larger frames arrive truncated and are dropped (`rxTruncated`).
 */
export const AF_PACKET_RX_SLOT_BYTES = 65_600;
/** Smallest transmit staging slot: a full 1500-MTU frame fits with room to spare. */
export const AF_PACKET_TX_SLOT_MIN_BYTES = 2048;
/** Default receive batch (slots, and the most frames one `receive` returns). */
export const AF_PACKET_DEFAULT_RX_BATCH = 64;
/** Default transmit staging queue length (frames per `sendmmsg`). */
export const AF_PACKET_DEFAULT_TX_QUEUE = 64;
/** Largest accepted `rxBatch`/`txQueue` (the kernel caps one `*mmsg` call at 1024). */
export const AF_PACKET_MAX_BATCH = 1024;
const MAX = AF_PACKET_MAX_BATCH;

/** Stride of a `sockaddr_ll` in the receive metadata (20 bytes rounded up to 8). */
const RX_NAME_STRIDE = 24;
/** Control buffer per receive slot: one `tpacket_auxdata` cmsg (40 B) with room to spare. */
const RX_CONTROL_BYTES = 64;

/** Options of {@link AfPacketDriver.open}. */
export interface AfPacketOptions {
  /** Interface to bind (e.g. `"veth0"`). */
  ifname: string;
  /** Named network namespace (`ip netns`) the interface lives in; default: the current one. */
  netns?: string;
  /** Use a smaller MTU than the link's (bytes of IP per frame); default: the link's MTU. */
  mtu?: number;
  /** Receive slots, the most frames one `receive` returns; default 64, at most 1024. */
  rxBatch?: number;
  /** Transmit staging slots, frames per `sendmmsg`; default 64, at most 1024. */
  txQueue?: number;
  /** Join this AF_PACKET fanout group once bound (`drivers/packet_fanout.ts`). */
  fanoutGroup?: number;
}

/**
 * {@link DriverStats} plus the AF_PACKET driver's own counters. `syscalls` counts every
 * `recvmmsg` and `sendmmsg` (set-up and close are not counted); `txKicks` the `sendmmsg`s.
 */
export class AfPacketStats extends DriverStats {
  /** Looped-back copies of our own transmissions skipped (PACKET_OUTGOING). */
  rxOutgoingSkipped = 0;
  /** Frames longer than a receive slot (arrived truncated; also counted in rxDropped). */
  rxTruncated = 0;
  /** Frames refused by `transmit` for not fitting a staging slot (also in txDropped). */
  txOversize = 0;
}

/** What `open` set up, handed to the constructor. */
interface OpenedSocket {
  fd: number;
  resources: ResourceStack;
  link: LinkInfo;
  ignoresOutgoing: boolean;
}

/**
 * A {@link LinkDriver} over an AF_PACKET raw socket. Needs CAP_NET_RAW.
 *
 * @example
 * ```ts
 * const driver = AfPacketDriver.open({ ifname: "us0", netns: "ustk-1-s" });
 * const batch = new RxBatch(64);
 * const n = driver.receive(batch, 64);
 * driver.release(batch);
 * driver.transmit(frame, 0, frame.length, null);
 * driver.flush();
 * driver.close();
 * ```
 */
export class AfPacketDriver implements LinkDriver {
  /** Interface name. */
  readonly name: string;
  /** Always `"af_packet_mmsg"`: the `--driver` name that opens it. */
  readonly kind = "af_packet_mmsg";
  /** The interface's MAC address. */
  readonly mac: Uint8Array;
  /** The MTU in use (the link's, or the smaller one asked for). */
  readonly mtu: number;
  /** The link's own MTU. */
  readonly linkMtu: number;
  /** The interface index. */
  readonly ifindex: number;
  /** No offloads yet: checksums and segmentation are done by the stack. */
  readonly capabilities: LinkCapabilities = NO_OFFLOADS;
  /** Counters. */
  readonly stats: AfPacketStats = new AfPacketStats();
  /** True when the kernel drops our own frames for us (PACKET_IGNORE_OUTGOING took). */
  readonly ignoresOutgoing: boolean;
  /** Receive slots (the most frames one `receive` can return). */
  readonly rxSlots: number;
  /** Bytes per receive slot. */
  readonly rxSlotBytes: number;
  /** Transmit staging slots. */
  readonly txSlots: number;
  /** Bytes per staging slot: the largest frame `transmit` accepts. */
  readonly txSlotBytes: number;
  /** errno of the last failed receive/flush call other than EAGAIN/ENOBUFS, or 0. */
  lastErrno = 0;

  #fd: number;
  #closed = false;
  /** The socket, closed by `close()`. */
  readonly #resources: ResourceStack;

  // Receive: one view per slot over one block of memory, and the mmsghdr/iovec/sockaddr_ll/
  // control areas in one metadata block read through `#rxMetaView`.
  readonly #rxViews: Uint8Array[];
  readonly #rxMeta: Uint8Array;
  readonly #rxMetaView: DataView;
  readonly #rxNameBase: number;
  readonly #rxControlBase: number;
  /** Slots the kernel filled in the last call: their in-out fields need re-arming. */
  #rxDirty = 0;

  // Transmit: staging memory, its mmsghdr/iovec block, and one view per mmsghdr index so a
  // partial sendmmsg can resume at any index without making a view.
  readonly #txData: Uint8Array;
  readonly #txMetaView: DataView;
  readonly #txMsgFrom: Uint8Array[];
  readonly #txIovBase: number;
  #staged = 0;

  private constructor(s: OpenedSocket, rxSlots: number, txSlots: number) {
    const link = s.link;
    this.#fd = s.fd;
    this.#resources = s.resources;
    this.name = link.ifname;
    this.ifindex = link.ifindex;
    this.mac = link.mac;
    this.linkMtu = link.linkMtu;
    this.mtu = link.mtu;
    this.ignoresOutgoing = s.ignoresOutgoing;
    this.rxSlots = rxSlots;
    this.txSlots = txSlots;
    this.rxSlotBytes = roundUp(Math.max(AF_PACKET_RX_SLOT_BYTES, link.linkMtu + ETH_HLEN + 4), 8);
    this.txSlotBytes = roundUp(Math.max(link.mtu + ETH_HLEN, AF_PACKET_TX_SLOT_MIN_BYTES), 8);

    // --- receive structures ---
    this.#rxViews = slotViews(rxSlots, this.rxSlotBytes);
    const iovBase = rxSlots * MMSGHDR_SIZE;
    this.#rxNameBase = iovBase + rxSlots * IOVEC_SIZE;
    this.#rxControlBase = this.#rxNameBase + rxSlots * RX_NAME_STRIDE;
    this.#rxMeta = allocStruct(this.#rxControlBase + rxSlots * RX_CONTROL_BYTES);
    this.#rxMetaView = new DataView(this.#rxMeta.buffer);
    const rxMetaAddr = addressOf(this.#rxMeta);
    const rxDataAddr = addressOf(this.#rxViews[0]);
    const rv = this.#rxMetaView;
    for (let i = 0; i < rxSlots; i++) {
      const m = i * MMSGHDR_SIZE;
      const iov = iovBase + i * IOVEC_SIZE;
      rv.setBigUint64(iov + IOV_BASE, rxDataAddr + BigInt(i * this.rxSlotBytes), true);
      rv.setBigUint64(iov + IOV_LEN, BigInt(this.rxSlotBytes), true);
      rv.setBigUint64(
        m + MSG_NAME,
        rxMetaAddr + BigInt(this.#rxNameBase + i * RX_NAME_STRIDE),
        true,
      );
      rv.setBigUint64(m + MSG_IOV, rxMetaAddr + BigInt(iov), true);
      rv.setBigUint64(m + MSG_IOVLEN, 1n, true);
      rv.setBigUint64(
        m + MSG_CONTROL,
        rxMetaAddr + BigInt(this.#rxControlBase + i * RX_CONTROL_BYTES),
        true,
      );
    }
    this.#rxDirty = rxSlots;
    this.#rearmRx();

    // --- transmit structures ---
    this.#txData = allocStruct(txSlots * this.txSlotBytes);
    const txMeta = allocStruct(txSlots * (MMSGHDR_SIZE + IOVEC_SIZE));
    this.#txMetaView = new DataView(txMeta.buffer);
    this.#txIovBase = txSlots * MMSGHDR_SIZE;
    this.#txMsgFrom = new Array<Uint8Array>(txSlots);
    const txMetaAddr = addressOf(txMeta);
    const txDataAddr = addressOf(this.#txData);
    const tv = this.#txMetaView;
    for (let i = 0; i < txSlots; i++) {
      const m = i * MMSGHDR_SIZE;
      const iov = this.#txIovBase + i * IOVEC_SIZE;
      this.#txMsgFrom[i] = txMeta.subarray(m);
      tv.setBigUint64(iov + IOV_BASE, txDataAddr + BigInt(i * this.txSlotBytes), true);
      // msg_name stays NULL: a bound packet socket sends on its interface.
      tv.setBigUint64(m + MSG_IOV, txMetaAddr + BigInt(iov), true);
      tv.setBigUint64(m + MSG_IOVLEN, 1n, true);
    }
  }

  /**
   * Open a raw packet socket on `opts.ifname` (inside `opts.netns` when given). Throws
   * SyscallError: EPERM/EACCES (message names CAP_NET_RAW), ENODEV for an unknown interface,
   * EINVAL when `opts.mtu` is above the link's MTU.
   *
   * @example
   * ```ts
   * const driver = AfPacketDriver.open({ ifname: "us0", netns: "ustk-1-s", mtu: 1400 });
   * ```
   */
  static open(opts: AfPacketOptions): AfPacketDriver {
    const driver = "AfPacketDriver";
    const { rxBatch, txQueue } = opts;
    const rxSlots = intOption(driver, "rxBatch", rxBatch, AF_PACKET_DEFAULT_RX_BATCH, 1, MAX);
    const txSlots = intOption(driver, "txQueue", txQueue, AF_PACKET_DEFAULT_TX_QUEUE, 1, MAX);
    const o = { driver, netns: opts.netns, mtu: opts.mtu, capabilities: AF_PACKET_CAPABILITIES };
    return openOnInterface(o, (resources) => {
      const link = queryLink(driver, opts.ifname, opts.mtu);
      const fd = openPacketSocket(resources);
      setsockoptInt(fd, SOL_PACKET, PACKET_AUXDATA, 1);
      let ignoresOutgoing = ignoreOutgoing(fd); // else receive() skips PACKET_OUTGOING itself
      bindPacketSocket(fd, link.ifindex);
      // In a group, the group's flag decides whether our own frames come back.
      if (opts.fanoutGroup !== undefined) ignoresOutgoing = joinFanoutGroup(fd, opts.fanoutGroup);
      return new AfPacketDriver({ fd, resources, link, ignoresOutgoing }, rxSlots, txSlots);
    });
  }

  /** The socket fd (polls readable when frames wait), or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Frames staged for the next flush. */
  get txPending(): number {
    return this.#staged;
  }

  /**
   * Receive up to `max` frames with one `recvmmsg`; returns how many (also `batch.count`).
   * Frames stay valid until the next `receive`.
   */
  receive(batch: RxBatch, max: number): number {
    if (this.#closed) throw closedError("AfPacketDriver", "receive");
    batch.count = 0;
    const want = rxWant(batch, max, this.rxSlots);
    if (want <= 0) return 0;
    this.#rearmRx();
    const r = recvmmsg(this.#fd, this.#rxMeta, want, MSG_DONTWAIT);
    this.stats.syscalls++;
    if (r <= 0) {
      if (r < 0 && r !== -EAGAIN) this.lastErrno = -r;
      return 0;
    }
    this.#rxDirty = r;
    const view = this.#rxMetaView;
    const meta = this.#rxMeta;
    const stats = this.stats;
    const gsoAbove = this.mtu + ETH_HLEN;
    let n = 0;
    for (let i = 0; i < r; i++) {
      const m = i * MMSGHDR_SIZE;
      if (meta[this.#rxNameBase + i * RX_NAME_STRIDE + SLL_PKTTYPE] === PACKET_OUTGOING) {
        stats.rxOutgoingSkipped++;
        continue;
      }
      const len = view.getUint32(m + MMSG_LEN, true);
      if ((view.getInt32(m + MSG_FLAGS, true) & MSG_TRUNC) !== 0) {
        stats.rxTruncated++;
        stats.rxDropped++;
        continue;
      }
      if (len < ETH_HLEN) {
        stats.rxDropped++;
        continue;
      }
      const status = this.#auxStatus(i, view.getUint32(m + MSG_CONTROLLEN, true));
      let flags = 0;
      if ((status & TP_STATUS_CSUMNOTREADY) !== 0) flags |= RX_CSUM_PARTIAL;
      if ((status & TP_STATUS_CSUM_VALID) !== 0) flags |= RX_CSUM_VALID;
      if (len > gsoAbove) flags |= RX_GSO;
      putRxFrame(batch, n++, this.#rxViews[i], 0, len, flags);
      stats.rxFrames++;
      stats.rxBytes += len;
    }
    batch.count = n;
    return n;
  }

  /** Nothing to return to the kernel (slots are reused by the next `receive`); empties `batch`. */
  release(batch: RxBatch): void {
    batch.count = 0;
  }

  /**
   * Copy a frame into the next staging slot (flushing first when the queue is full). Refuses
   * (returns false, counted in txDropped) frames shorter than an Ethernet header or larger
   * than `txSlotBytes`. `offload` is ignored: this driver has no offloads.
   */
  transmit(frame: Uint8Array, off: number, len: number, _offload: TxOffload | null): boolean {
    if (this.#closed) throw closedError("AfPacketDriver", "transmit");
    if (len > this.txSlotBytes) {
      this.stats.txOversize++;
      this.stats.txDropped++;
      return false;
    }
    if (!txFrameInBounds(frame, off, len)) {
      this.stats.txDropped++;
      return false;
    }
    if (this.#staged === this.txSlots) this.flush();
    const slot = this.#staged++;
    copyBytes(frame, off, this.#txData, slot * this.txSlotBytes, len);
    // iov_len is a size_t; its upper half is always 0 here, so write the lower 32 bits only.
    this.#txMetaView.setUint32(this.#txIovBase + slot * IOVEC_SIZE + IOV_LEN, len, true);
    this.stats.txFrames++;
    this.stats.txBytes += len;
    return true;
  }

  /**
   * Send every staged frame with `sendmmsg` (repeated while the kernel takes part of the batch).
   * EAGAIN/ENOBUFS count `txRingFull` and drop the rest (counted in txDropped).
   */
  flush(): void {
    if (this.#closed) throw closedError("AfPacketDriver", "flush");
    const staged = this.#staged;
    if (staged === 0) return;
    const stats = this.stats;
    let sent = 0;
    while (sent < staged) {
      const r = sendmmsg(this.#fd, this.#txMsgFrom[sent], staged - sent, MSG_DONTWAIT);
      stats.syscalls++;
      stats.txKicks++;
      if (r > 0) {
        sent += r;
        continue;
      }
      if (r === -EAGAIN || r === -ENOBUFS) {
        stats.txRingFull++;
      } else if (r < 0) {
        this.lastErrno = -r;
        if (r === -EMSGSIZE || r === -EINVAL) {
          // Only this frame is bad: drop it and go on with the next.
          stats.txDropped++;
          sent++;
          continue;
        }
      }
      stats.txDropped += staged - sent;
      break;
    }
    this.#staged = 0;
  }

  /** Close the socket; unsent staged frames are discarded. A second close throws EBADF. */
  close(): void {
    if (this.#closed) throw closedError("AfPacketDriver", "close");
    this.#closed = true;
    this.#fd = -1;
    this.#staged = 0;
    this.#resources.close();
  }

  /** Re-arm the in-out fields (`msg_namelen`, `msg_controllen`) the last call overwrote. */
  #rearmRx(): void {
    const view = this.#rxMetaView;
    for (let i = 0; i < this.#rxDirty; i++) {
      const m = i * MMSGHDR_SIZE;
      view.setUint32(m + MSG_NAMELEN, SOCKADDR_LL_SIZE, true);
      // msg_controllen is a size_t: lower half the size, upper half zero.
      view.setUint32(m + MSG_CONTROLLEN, RX_CONTROL_BYTES, true);
      view.setUint32(m + MSG_CONTROLLEN + 4, 0, true);
    }
    this.#rxDirty = 0;
  }

  /** `tp_status` of slot `i`'s PACKET_AUXDATA cmsg, or 0 when there is none. */
  #auxStatus(i: number, controlLen: number): number {
    const view = this.#rxMetaView;
    const base = this.#rxControlBase + i * RX_CONTROL_BYTES;
    const end = controlLen < RX_CONTROL_BYTES ? controlLen : RX_CONTROL_BYTES;
    let o = 0;
    while (o + CMSGHDR_SIZE <= end) {
      const cmsgLen = view.getUint32(base + o + CMSG_LEN_OFF, true);
      if (cmsgLen < CMSGHDR_SIZE) break;
      if (
        view.getInt32(base + o + CMSG_LEVEL, true) === SOL_PACKET &&
        view.getInt32(base + o + CMSG_TYPE, true) === PACKET_AUXDATA &&
        cmsgLen >= CMSGHDR_SIZE + TPACKET_AUXDATA_SIZE && o + cmsgLen <= end
      ) {
        return view.getUint32(base + o + CMSGHDR_SIZE + TP_AUX_STATUS, true);
      }
      o += cmsgAlign(cmsgLen);
    }
    return 0;
  }
}
