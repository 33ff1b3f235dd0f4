/**
 * The TAP frame pump: a character device (`/dev/net/tun`) attached to a TAP interface. Every
 * frame the kernel sends out of the TAP is a `read()` here; every `write()` here is a frame the
 * kernel receives on it. The kernel's side of the TAP is the peer: it has its own MAC and IP
 * address, and the stack uses a second MAC of its own on the same wire.
 *
 * Receive: {@link TapDriver.receive} loops `read()` into preallocated 64 KiB slots until EAGAIN
 * or the batch is full. Transmit: frames are copied into preallocated staging slots and
 * {@link TapDriver.flush} writes them — one `write()` per frame, which is inherent to TAP (it
 * has no batch call): `stats.syscalls` counts every read (the final EAGAIN one too) and write.
 *
 * With `vnetHdr`, every frame carries a 10-byte `virtio_net_hdr` in front (IFF_VNET_HDR) and
 * the kernel is told we accept partial checksums and TCP super-frames (TUNSETOFFLOAD): received
 * frames report NEEDS_CSUM / DATA_VALID / GSO as `RX_*` flags, and a {@link TxOffload} turns
 * into header fields, so the kernel finishes checksums and segments for the stack.
 *
 * @module
 */

import {
  DriverStats,
  GSO_NONE,
  type LinkCapabilities,
  linkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  RX_CSUM_PARTIAL,
  RX_GSO,
  type RxBatch,
  type TxOffload,
} from "../link/driver.ts";
import {
  ETH_HLEN,
  IFF_NO_PI,
  IFF_TAP,
  IFF_UP,
  IFF_VNET_HDR,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  SIOCGIFFLAGS,
  SIOCSIFFLAGS,
  SIOCSIFMTU,
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  TUNSETIFF,
  TUNSETOFFLOAD,
} from "../ffi/constants.ts";
import { VIRTIO_NET_HDR_LEN } from "../ffi/virtio_net.ts";
import { EAGAIN, ENOBUFS, ENODEV, SyscallError } from "../ffi/errno.ts";
import { rawSyscall, SYS_IOCTL } from "../ffi/raw_syscall.ts";
import { allocStruct, IFR_NAME, IFR_UNION, ifreq } from "../ffi/structs.ts";
import { interfaceIndex, ioctl, open, read, write } from "../ffi/syscalls.ts";
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
import { type LinkInfo, openOnInterface, queryLink, withControlSocket } from "./interface_open.ts";
import type { ResourceStack } from "./resource_stack.ts";
import { vnetRxFlags, writeVnetHeader } from "./vnet_header.ts";

// --- sizes ----------------------------------------------------------------------------------------

/**
 * Bytes of one receive slot: a 64 KiB super-frame (the largest IP packet plus link header) plus
 * the vnet header, with room to spare.
 */
export const TAP_RX_SLOT_BYTES = 65_600;
/** Largest frame with segmentation offload: a 65,535-byte IP packet plus Ethernet header. */
export const TAP_MAX_GSO_FRAME_BYTES: number = 65_535 + ETH_HLEN;
/** Smallest transmit staging slot. */
const TAP_TX_SLOT_MIN_BYTES = 2048;
/** Default receive batch (slots, and the most frames one `receive` returns). */
export const TAP_DEFAULT_RX_BATCH = 64;
/** Default transmit staging queue length (frames per flush). */
export const TAP_DEFAULT_TX_QUEUE = 64;
/** Largest accepted `rxBatch`/`txQueue`. */
export const TAP_MAX_BATCH = 1024;
/** What the TAP driver needs, named in the message of an EPERM/EACCES at open. */
const TAP_CAPABILITIES = "TAP devices need CAP_NET_ADMIN (run as root or grant the capability)";

/** Options of {@link TapDriver.open}. */
export interface TapOptions {
  /** TAP interface name (≤ 15 bytes), e.g. `"tap0"`. */
  name: string;
  /**
   * Create the TAP when there is none (default true): a TAP made here is not persistent and
   * disappears when the driver closes. With false, attach to an existing TAP (`ip tuntap add`)
   * only, and fail with ENODEV when there is none.
   */
  create?: boolean;
  /** Named network namespace (`ip netns`) to create or find the TAP in; default: the current. */
  netns?: string;
  /** Prepend a `virtio_net_hdr` (IFF_VNET_HDR) and offer checksum/TSO offloads; default false. */
  vnetHdr?: boolean;
  /**
   * MTU (bytes of IP per frame). A TAP created here gets it as its link MTU; for an attached
   * TAP it must not exceed the link's. Default: the link's MTU (1500 for a new TAP).
   */
  mtu?: number;
  /** The stack's MAC; default: a random locally administered unicast address. */
  mac?: Uint8Array;
  /** Receive slots, the most frames one `receive` returns; default 64, at most 1024. */
  rxBatch?: number;
  /** Transmit staging slots, frames per flush; default 64, at most 1024. */
  txQueue?: number;
}

/**
 * {@link DriverStats} plus the TAP driver's own counters. `syscalls` counts every `read` (the
 * one that ends a receive with EAGAIN included) and every `write`; `txKicks` the writes (one
 * per frame: TAP has no batched write).
 */
export class TapStats extends DriverStats {
  /** Received frames the kernel left with a partial checksum (NEEDS_CSUM). */
  rxCsumPartial = 0;
  /** Received super-frames (vnet `gso_type` set, or longer than the MTU). */
  rxGso = 0;
  /** Transmitted frames whose checksum the kernel finishes (NEEDS_CSUM). */
  txCsumOffload = 0;
  /** Transmitted super-frames the kernel segments (vnet `gso_type` set). */
  txGso = 0;
  /** Frames refused by `transmit` for being too large (also in txDropped). */
  txOversize = 0;
}

/** What `open` set up, handed to the constructor. */
interface OpenedTap {
  fd: number;
  resources: ResourceStack;
  /** The TAP as the kernel sees it (`mac` is the kernel side's). */
  link: LinkInfo;
  created: boolean;
}

/**
 * A {@link LinkDriver} over a TAP device. Needs CAP_NET_ADMIN (root).
 *
 * @example
 * ```ts
 * const tap = TapDriver.open({ name: "ustap0", netns: "ustk-1-s", vnetHdr: true });
 * // in that namespace: ip addr add 198.18.0.1/24 dev ustap0; the stack uses 198.18.0.2
 * const batch = new RxBatch(64);
 * tap.receive(batch, 64);
 * tap.release(batch);
 * tap.close(); // a TAP the driver created is gone
 * ```
 */
export class TapDriver implements LinkDriver {
  /** Interface name (as the kernel confirmed it). */
  readonly name: string;
  /** Always `"tap"`. */
  readonly kind = "tap";
  /** The stack's MAC address (not the TAP's: the kernel side has its own, {@link kernelMac}). */
  readonly mac: Uint8Array;
  /** The kernel side's MAC address (the TAP interface's own). */
  readonly kernelMac: Uint8Array;
  /** The MTU in use. */
  readonly mtu: number;
  /** The TAP interface's MTU. */
  readonly linkMtu: number;
  /** The interface index. */
  readonly ifindex: number;
  /** True when the driver created the TAP (it disappears on close). */
  readonly created: boolean;
  /** True when frames carry a `virtio_net_hdr`. */
  readonly vnetHdr: boolean;
  /** With vnetHdr: checksum and TCP segmentation offload; otherwise none. */
  readonly capabilities: LinkCapabilities;
  /** Counters. */
  readonly stats: TapStats = new TapStats();
  /** Receive slots. */
  readonly rxSlots: number;
  /** Transmit staging slots. */
  readonly txSlots: number;
  /** Bytes per staging slot (vnet header included). */
  readonly txSlotBytes: number;
  /** Largest frame `transmit` takes without segmentation offload (MTU + Ethernet header). */
  readonly maxFrameBytes: number;
  /** errno of the last failed read/write other than EAGAIN, or 0. */
  lastErrno = 0;

  #fd: number;
  #closed = false;
  /** The TAP fd, closed by `close()`. */
  readonly #resources: ResourceStack;
  readonly #hdrBytes: number;
  readonly #rxViews: Uint8Array[];
  readonly #txViews: Uint8Array[];
  readonly #txLen: Int32Array;
  #staged = 0;

  private constructor(t: OpenedTap, vnetHdr: boolean, mac: Uint8Array, rx: number, tx: number) {
    const link = t.link;
    this.#fd = t.fd;
    this.#resources = t.resources;
    this.name = link.ifname;
    this.ifindex = link.ifindex;
    this.kernelMac = link.mac;
    this.linkMtu = link.linkMtu;
    this.mtu = link.mtu;
    this.created = t.created;
    this.vnetHdr = vnetHdr;
    this.mac = mac;
    this.#hdrBytes = vnetHdr ? VIRTIO_NET_HDR_LEN : 0;
    this.maxFrameBytes = link.mtu + ETH_HLEN;
    this.capabilities = vnetHdr
      ? linkCapabilities({
        txChecksumOffload: true,
        tcpSegmentationOffload: true,
        udpSegmentationOffload: false,
        maxGsoBytes: TAP_MAX_GSO_FRAME_BYTES,
      })
      : NO_OFFLOADS;
    this.rxSlots = rx;
    this.txSlots = tx;
    const rxSlotBytes = roundUp(Math.max(TAP_RX_SLOT_BYTES, link.linkMtu + ETH_HLEN + 4), 8);
    this.#rxViews = slotViews(rx, rxSlotBytes);
    const largest = vnetHdr ? TAP_MAX_GSO_FRAME_BYTES : this.maxFrameBytes;
    this.txSlotBytes = roundUp(Math.max(largest + this.#hdrBytes, TAP_TX_SLOT_MIN_BYTES), 8);
    this.#txViews = slotViews(tx, this.txSlotBytes);
    this.#txLen = new Int32Array(tx);
  }

  /**
   * Create or attach the TAP `opts.name` (inside `opts.netns` when given) and bring it up.
   * Throws SyscallError: EPERM/EACCES (message names CAP_NET_ADMIN), ENODEV when `create` is
   * false and there is no such interface, EINVAL when the name belongs to a non-TAP interface
   * or `mtu` is above an attached TAP's MTU; RangeError for bad options.
   *
   * @example
   * ```ts
   * const tap = TapDriver.open({ name: "ustap0", mtu: 9000 });
   * ```
   */
  static open(opts: TapOptions): TapDriver {
    const driver = "TapDriver";
    const max = TAP_MAX_BATCH;
    const rx = intOption(driver, "rxBatch", opts.rxBatch, TAP_DEFAULT_RX_BATCH, 1, max);
    const tx = intOption(driver, "txQueue", opts.txQueue, TAP_DEFAULT_TX_QUEUE, 1, max);
    if (opts.mac !== undefined && (opts.mac.length !== 6 || (opts.mac[0] & 1) !== 0)) {
      throw new RangeError("TapDriver: mac must be 6 bytes of a unicast address");
    }
    ifreq(opts.name); // validates the name before anything is created
    const vnetHdr = opts.vnetHdr ?? false;
    const o = { driver, netns: opts.netns, mtu: opts.mtu, capabilities: TAP_CAPABILITIES };
    return openOnInterface(o, (resources) => {
      const t = openTap(resources, opts.name, opts.create ?? true, vnetHdr, opts.mtu);
      return new TapDriver(t, vnetHdr, stackMac(opts.mac, t.link.mac), rx, tx);
    });
  }

  /** The TAP fd (non-blocking; polls readable when frames wait), or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Frames staged for the next flush. */
  get txPending(): number {
    return this.#staged;
  }

  /**
   * Read frames until EAGAIN or `max` (≤ batch capacity, ≤ rxSlots); returns how many (also
   * `batch.count`). Frames stay valid until the next `receive`.
   */
  receive(batch: RxBatch, max: number): number {
    if (this.#closed) throw closedError("TapDriver", "receive");
    batch.count = 0;
    const want = rxWant(batch, max, this.rxSlots);
    const stats = this.stats;
    const hdr = this.#hdrBytes;
    const gsoAbove = this.maxFrameBytes;
    let n = 0;
    while (n < want) {
      const slot = this.#rxViews[n];
      const r = read(this.#fd, slot, slot.length);
      stats.syscalls++;
      if (r < 0) {
        if (r !== -EAGAIN) this.lastErrno = -r;
        break;
      }
      const len = r - hdr;
      if (len < ETH_HLEN) {
        stats.rxDropped++;
        continue;
      }
      let flags = len > gsoAbove ? RX_GSO : 0;
      if (hdr !== 0) {
        flags |= vnetRxFlags(slot, 0);
        if ((flags & RX_CSUM_PARTIAL) !== 0) stats.rxCsumPartial++;
      }
      if ((flags & RX_GSO) !== 0) stats.rxGso++;
      putRxFrame(batch, n++, slot, hdr, len, flags);
      stats.rxFrames++;
      stats.rxBytes += len;
    }
    batch.count = n;
    return n;
  }

  /** Nothing to return (slots are reused by the next `receive`); empties `batch`. */
  release(batch: RxBatch): void {
    batch.count = 0;
  }

  /**
   * Copy a frame into the next staging slot (flushing first when the queue is full), with its
   * vnet header built from `offload` when the TAP has one. Refuses (false, counted) frames
   * shorter than an Ethernet header, longer than MTU + 14 without GSO, or than the staging
   * slot; offloads are refused without vnetHdr.
   */
  transmit(frame: Uint8Array, off: number, len: number, offload: TxOffload | null): boolean {
    if (this.#closed) throw closedError("TapDriver", "transmit");
    const stats = this.stats;
    if (!txFrameInBounds(frame, off, len)) {
      stats.txDropped++;
      return false;
    }
    const hdr = this.#hdrBytes;
    const gso = offload !== null && offload.gsoType !== GSO_NONE;
    const csum = offload !== null && offload.needsCsum;
    if ((gso || csum) && hdr === 0) {
      stats.txDropped++; // the stack asked for an offload this TAP did not offer
      return false;
    }
    if ((len > this.maxFrameBytes && !gso) || len + hdr > this.txSlotBytes) {
      stats.txOversize++;
      stats.txDropped++;
      return false;
    }
    if (this.#staged === this.txSlots) this.flush();
    const slot = this.#staged++;
    const view = this.#txViews[slot];
    if (hdr !== 0) writeVnetHeader(view, 0, offload);
    copyBytes(frame, off, view, hdr, len);
    this.#txLen[slot] = hdr + len;
    if (csum) stats.txCsumOffload++;
    if (gso) stats.txGso++;
    stats.txFrames++;
    stats.txBytes += len;
    return true;
  }

  /**
   * Write every staged frame, one `write()` each. EAGAIN/ENOBUFS count `txRingFull` and drop
   * the rest; another error drops that frame only (counted, `lastErrno`).
   */
  flush(): void {
    if (this.#closed) throw closedError("TapDriver", "flush");
    const staged = this.#staged;
    if (staged === 0) return;
    const stats = this.stats;
    for (let i = 0; i < staged; i++) {
      const r = write(this.#fd, this.#txViews[i], this.#txLen[i]);
      stats.syscalls++;
      stats.txKicks++;
      if (r >= 0) continue;
      if (r === -EAGAIN || r === -ENOBUFS) {
        stats.txRingFull++;
        stats.txDropped += staged - i;
        break;
      }
      this.lastErrno = -r;
      stats.txDropped++;
    }
    this.#staged = 0;
  }

  /** Close the fd (a TAP the driver created disappears); a second close throws EBADF. */
  close(): void {
    if (this.#closed) throw closedError("TapDriver", "close");
    this.#closed = true;
    this.#fd = -1;
    this.#staged = 0;
    this.#resources.close();
  }
}

/**
 * Open /dev/net/tun (held by `res`), attach it to the TAP `name` (creating it when allowed),
 * configure it and bring it up, in the current namespace.
 */
function openTap(
  res: ResourceStack,
  name: string,
  create: boolean,
  vnetHdr: boolean,
  mtu: number | undefined,
): OpenedTap {
  let existed = true;
  try {
    interfaceIndex(name);
  } catch (e) {
    if (!(e instanceof SyscallError && e.errno === ENODEV)) throw e;
    existed = false;
  }
  if (!existed && !create) {
    throw new SyscallError("TapDriver.open", ENODEV, `no interface "${name}" (create: false)`);
  }
  const fd = res.fd(open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  const req = ifreq(name);
  new DataView(req.buffer).setInt16(
    IFR_UNION,
    IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0),
    true,
  );
  ioctl(fd, TUNSETIFF, req);
  const end = req.indexOf(0, IFR_NAME);
  const actual = new TextDecoder().decode(req.subarray(IFR_NAME, end < 0 ? 16 : end));
  if (vnetHdr) {
    // The argument is the flag word itself, not a pointer: through syscall(2).
    const r = rawSyscall(SYS_IOCTL, fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
    if (r < 0) throw new SyscallError("ioctl", -r, "TUNSETOFFLOAD");
  }
  withControlSocket((ctl) => {
    // A TAP made here takes the MTU asked for as its link MTU; an attached one keeps its own.
    if (!existed && mtu !== undefined) {
      const mreq = ifreq(actual);
      new DataView(mreq.buffer).setInt32(IFR_UNION, mtu, true);
      ioctl(ctl, SIOCSIFMTU, mreq);
    }
    const freq = ifreq(actual);
    ioctl(ctl, SIOCGIFFLAGS, freq);
    const fv = new DataView(freq.buffer);
    const flags = fv.getUint16(IFR_UNION, true);
    if ((flags & IFF_UP) === 0) {
      fv.setUint16(IFR_UNION, flags | IFF_UP, true);
      ioctl(ctl, SIOCSIFFLAGS, freq);
    }
  });
  return { fd, resources: res, link: queryLink("TapDriver", actual, mtu), created: !existed };
}

/** The stack's MAC: the one given, or a random locally administered unicast one ≠ the TAP's. */
function stackMac(given: Uint8Array | undefined, kernelMac: Uint8Array): Uint8Array {
  if (given !== undefined) return given.slice();
  const mac = allocStruct(6);
  do {
    crypto.getRandomValues(mac);
    // IEEE 802 §8.2.2: bit 0 of the first octet = group, bit 1 = locally administered.
    mac[0] = (mac[0] & 0xfc) | 0x02;
  } while (mac.every((b, i) => b === kernelMac[i]));
  return mac;
}
