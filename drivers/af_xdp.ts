/**
 * The AF_XDP frame pump: an XDP socket bound to one queue of one interface, fed by ustack's own
 * redirect program (`drivers/xdp_program.ts`).
 *
 * Memory: one anonymous mapping holds the UMEM — `frames` chunks of `frameBytes`, registered
 * with `XDP_UMEM_REG` — followed (multi-buffer only) by staging slots where frames that span
 * several chunks are reassembled. Half the chunks (at most `ringSize`) belong to receive and
 * circulate fill ring → RX ring → stack → fill ring; the rest belong to transmit and circulate
 * free list → TX ring → completion ring → free list. The four rings are mapped at the kernel's
 * page offsets with the field offsets of `XDP_MMAP_OFFSETS`; their producer/consumer words are
 * read and written with `Atomics` through `Uint32Array` views made once in
 * {@link AfXdpDriver.open}. Nothing is allocated per frame.
 *
 * Receive is syscall-free: the kernel fills the RX ring, {@link AfXdpDriver.receive} lends the
 * stack views of the UMEM, {@link AfXdpDriver.release} hands the chunks back through the fill
 * ring (masked back to the chunk base: the kernel places data 256 bytes into a chunk).
 * Transmit copies frames into free chunks and publishes them on the TX ring;
 * {@link AfXdpDriver.flush} kicks the kernel with `sendto` (copy mode sends at most 32
 * descriptors per kick and says EAGAIN: we kick again, bounded) and recycles completed chunks.
 *
 * @module
 */

import {
  DriverStats,
  type LinkCapabilities,
  type LinkDriver,
  NO_OFFLOADS,
  RX_CSUM_MAYBE_PARTIAL,
  RX_GSO,
  type RxBatch,
  type TxOffload,
} from "../link/driver.ts";
import {
  AF_XDP,
  ETH_HLEN,
  MAP_ANONYMOUS,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MSG_DONTWAIT,
  PAGE_BYTES,
  PROT_READ,
  PROT_WRITE,
  SOCK_CLOEXEC,
  SOCK_RAW,
  SOL_XDP,
} from "../ffi/constants.ts";
import { EAGAIN, EBUSY, ENOBUFS, EOPNOTSUPP, SyscallError } from "../ffi/errno.ts";
import {
  sockaddrXdp,
  XDP_ADDR_ENTRY_SIZE,
  XDP_COPY,
  XDP_DESC_ADDR_LO_WORD,
  XDP_DESC_LEN_WORD,
  XDP_DESC_OPTIONS_WORD,
  XDP_DESC_SIZE,
  XDP_OPTIONS_ZEROCOPY,
  XDP_PACKET_HEADROOM,
  XDP_PGOFF_RX_RING,
  XDP_PGOFF_TX_RING,
  XDP_PKT_CONTD,
  XDP_RX_RING,
  XDP_TX_RING,
  XDP_UMEM_COMPLETION_RING,
  XDP_UMEM_FILL_RING,
  XDP_UMEM_PGOFF_COMPLETION_RING,
  XDP_UMEM_PGOFF_FILL_RING,
  XDP_UMEM_REG,
  XDP_USE_SG,
  XDP_ZEROCOPY,
  type XdpKernelStats,
  xdpMmapOffsets,
  xdpOptionFlags,
  type XdpRingOffsets,
  xdpStatistics,
  xdpUmemReg,
} from "../ffi/if_xdp.ts";
import { allocStruct } from "../ffi/structs.ts";
import { bind, mmap, sendto, setsockopt, setsockoptInt, socket } from "../ffi/syscalls.ts";
import { type XdpAttachMode, XdpRedirectProgram } from "./xdp_program.ts";
import {
  closedError,
  copyBytes,
  intOption,
  roundUp,
  rxWant,
  txFrameInBounds,
} from "./driver_util.ts";
import { type LinkInfo, openOnInterface, queryLink } from "./interface_open.ts";
import type { ResourceStack } from "./resource_stack.ts";

/** `xdp_desc` as u32 words. */
const DESC_WORDS = XDP_DESC_SIZE >>> 2;
/** Fill/completion ring entries (one u64 address) as u32 words. */
const ADDR_WORDS = XDP_ADDR_ENTRY_SIZE >>> 2;

// --- defaults -------------------------------------------------------------------------------------

/** Default UMEM chunk size (one page). */
export const AF_XDP_DEFAULT_FRAME_BYTES = 4096;
/** Default UMEM chunks (16 MiB at 4 KiB). */
export const AF_XDP_DEFAULT_FRAMES = 4096;
/** Default entries of each of the four rings. */
export const AF_XDP_DEFAULT_RING_SIZE = 2048;
/** Default most frames one `receive` returns (also the multi-buffer staging slots). */
export const AF_XDP_DEFAULT_RX_BATCH = 64;
/** The driver's class name, for messages. */
const DRIVER = "AfXdpDriver";
/** What the AF_XDP driver needs, named in the message of an EPERM/EACCES at open. */
const AF_XDP_CAPABILITIES = "AF_XDP needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (run as root)";
/** Copy-mode kernels send at most this many descriptors per `sendto` kick (TX_BATCH_SIZE). */
const KICK_DESCS = 32;
/** Extra kicks allowed per flush beyond the descriptors' share (EAGAIN without progress). */
const KICK_SLACK = 4;

/** Options of {@link AfXdpDriver.open}. */
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

/**
 * {@link DriverStats} plus the AF_XDP driver's own counters. `syscalls` counts the `sendto`
 * kicks (the only syscalls on the data path: receive needs none); `txRingFull` counts the
 * times transmit found no TX-ring slot or no free chunk.
 */
export class AfXdpStats extends DriverStats {
  /** RX descriptors consumed (a multi-buffer frame takes several). */
  rxDescs = 0;
  /** Frames that spanned several descriptors and were reassembled in a staging slot. */
  rxMultiBuffer = 0;
  /** Frames larger than a staging slot (dropped; also in rxDropped). */
  rxOversize = 0;
  /** Chunks handed back to the kernel through the fill ring. */
  fillRefills = 0;
  /** TX descriptors published. */
  txDescs = 0;
  /** Chunks the kernel reported sent through the completion ring. */
  txCompleted = 0;
  /** Kicks that came back EAGAIN (more to send, or the completion ring was full). */
  txKickEagain = 0;
  /** Frames refused for not fitting (above MTU, or several chunks without multi-buffer). */
  txOversize = 0;
  /** Flushes that ran out of kick budget with descriptors still unsent (sent next flush). */
  txKickBudgetExhausted = 0;
}

export type { XdpKernelStats } from "../ffi/if_xdp.ts";

/** A mapped ring: its memory, a word view, and the word indices of its fields. */
interface Ring {
  ptr: Deno.PointerObject;
  bytes: number;
  words: Uint32Array;
  producer: number;
  consumer: number;
  desc: number;
  mask: number;
}

/** The validated numbers {@link AfXdpDriver.open} works with. */
interface Geometry {
  queue: number;
  frameBytes: number;
  frames: number;
  ringSize: number;
  rxFrames: number;
  txFrames: number;
  rxBatch: number;
}

/** Everything acquired by the set-up, handed to the constructor. */
interface Opened {
  fd: number;
  /** UMEM, socket, rings and program, released by `close()`. */
  resources: ResourceStack;
  link: LinkInfo;
  geometry: Geometry;
  umemPtr: Deno.PointerObject;
  mapBytes: number;
  umemBytes: number;
  stagingSlotBytes: number;
  rings: { rx: Ring; tx: Ring; fill: Ring; completion: Ring };
  zeroCopy: boolean;
  zeroCopyFallback: string | null;
  multiBuffer: boolean;
  program: XdpRedirectProgram;
}

/**
 * A {@link LinkDriver} over an AF_XDP socket. Needs CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (or
 * root). While it is open the interface's traffic on its queue goes to the stack, not the
 * kernel; {@link AfXdpDriver.close} detaches the program and the kernel sees it again.
 *
 * @example
 * ```ts
 * const driver = AfXdpDriver.open({ ifname: "us0", netns: "ustk-1-s" });
 * const batch = new RxBatch(64);
 * driver.receive(batch, 64);
 * driver.release(batch);
 * driver.transmit(frame, 0, frame.length, null);
 * driver.flush();
 * driver.close();
 * ```
 */
export class AfXdpDriver implements LinkDriver {
  /** Interface name. */
  readonly name: string;
  /** Always `"af_xdp"`. */
  readonly kind = "af_xdp";
  /** The interface's MAC address. */
  readonly mac: Uint8Array;
  /** The MTU in use (the link's, or the smaller one asked for). */
  readonly mtu: number;
  /** The link's own MTU. */
  readonly linkMtu: number;
  /** The interface index. */
  readonly ifindex: number;
  /** The bound queue. */
  readonly queue: number;
  /** No offloads: checksums and segmentation are done by the stack. */
  readonly capabilities: LinkCapabilities = NO_OFFLOADS;
  /** Counters. */
  readonly stats: AfXdpStats = new AfXdpStats();
  /** True when the socket runs zero-copy (confirmed with `XDP_OPTIONS`). */
  readonly zeroCopy: boolean;
  /** Why zero-copy was asked for and not used (e.g. `"EOPNOTSUPP"`), or null. */
  readonly zeroCopyFallback: string | null;
  /** True when frames may span several chunks (XDP_USE_SG, BPF_F_XDP_HAS_FRAGS). */
  readonly multiBuffer: boolean;
  /** UMEM chunk size. */
  readonly frameBytes: number;
  /** Chunks owned by receive (in the fill ring, the RX ring or lent to the stack). */
  readonly rxFrames: number;
  /** Chunks owned by transmit. */
  readonly txFrames: number;
  /** Entries per ring. */
  readonly ringSize: number;
  /** Largest frame `transmit` takes (MTU + Ethernet header). */
  readonly maxFrameBytes: number;
  /** The attached redirect program. */
  readonly program: XdpRedirectProgram;
  /** errno of the last failed kick other than EAGAIN, or 0. */
  lastErrno = 0;

  #fd: number;
  #closed = false;
  readonly #resources: ResourceStack;
  /** The whole mapping: UMEM chunks, then the staging slots. */
  readonly #mem: Uint8Array;
  readonly #umemBytes: number;
  readonly #stagingSlotBytes: number;
  readonly #rxBatch: number;
  readonly #chunkMask: number;
  readonly #rx: Ring;
  readonly #tx: Ring;
  readonly #fill: Ring;
  readonly #completion: Ring;
  /** Local copies of the indices this side owns (the kernel only reads them). */
  #rxCons = 0;
  #fillProd = 0;
  #txProd = 0;
  #completionCons = 0;
  /** Last TX consumer index seen (the kernel's), to count free TX-ring slots. */
  #txConsSeen = 0;
  /** Chunks taken off the RX ring since the last release (lent or dropped). */
  readonly #held: Uint32Array;
  #heldCount = 0;
  /** Free transmit chunks (a stack of chunk addresses). */
  readonly #txFree: Uint32Array;
  #txFreeCount = 0;
  /** Descriptors published on the TX ring since the last complete kick. */
  #txUnsent = 0;
  readonly #kickBuf = allocStruct(8);

  private constructor(o: Opened) {
    this.#fd = o.fd;
    this.name = o.link.ifname;
    this.ifindex = o.link.ifindex;
    this.mac = o.link.mac;
    this.linkMtu = o.link.linkMtu;
    this.mtu = o.link.mtu;
    this.queue = o.geometry.queue;
    this.zeroCopy = o.zeroCopy;
    this.zeroCopyFallback = o.zeroCopyFallback;
    this.multiBuffer = o.multiBuffer;
    this.frameBytes = o.geometry.frameBytes;
    this.rxFrames = o.geometry.rxFrames;
    this.txFrames = o.geometry.txFrames;
    this.ringSize = o.geometry.ringSize;
    this.maxFrameBytes = o.link.mtu + ETH_HLEN;
    this.program = o.program;
    this.#resources = o.resources;
    this.#mem = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(o.umemPtr, o.mapBytes));
    this.#umemBytes = o.umemBytes;
    this.#stagingSlotBytes = o.stagingSlotBytes;
    this.#rxBatch = o.geometry.rxBatch;
    this.#chunkMask = ~(o.geometry.frameBytes - 1);
    this.#rx = o.rings.rx;
    this.#tx = o.rings.tx;
    this.#fill = o.rings.fill;
    this.#completion = o.rings.completion;
    this.#held = new Uint32Array(o.geometry.rxFrames);
    this.#txFree = new Uint32Array(o.geometry.txFrames);
    // The fill ring was primed with chunks 0..rxFrames-1; transmit owns the rest.
    this.#fillProd = o.geometry.rxFrames;
    for (let i = 0; i < o.geometry.txFrames; i++) {
      this.#txFree[i] = (o.geometry.rxFrames + i) * o.geometry.frameBytes;
    }
    this.#txFreeCount = o.geometry.txFrames;
  }

  /**
   * Open an AF_XDP socket on `opts.ifname` queue `opts.queue` (inside `opts.netns` when given)
   * and attach the redirect program. Throws SyscallError: EPERM (message names the
   * capabilities), ENODEV for an unknown interface, EINVAL for an MTU above the link's, EBUSY
   * when another XDP program is attached; RangeError for bad geometry options.
   *
   * @example
   * ```ts
   * const driver = AfXdpDriver.open({ ifname: "us0", netns: "ustk-1-s", zeroCopy: true });
   * console.log(driver.zeroCopy, driver.zeroCopyFallback); // false "EOPNOTSUPP" on veth
   * ```
   */
  static open(opts: AfXdpOptions): AfXdpDriver {
    const geometry = validate(opts);
    const o = {
      driver: DRIVER,
      netns: opts.netns,
      mtu: opts.mtu,
      capabilities: AF_XDP_CAPABILITIES,
    };
    return openOnInterface(o, (res) => new AfXdpDriver(openSocket(res, opts, geometry)));
  }

  /** The XDP socket fd (polls readable when the RX ring has frames), or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  /** Frames' descriptors published on the TX ring and not yet taken by the kernel. */
  get txPending(): number {
    return this.#txUnsent;
  }

  /** Transmit chunks currently free. */
  get txFreeFrames(): number {
    return this.#txFreeCount;
  }

  /**
   * Take up to `max` frames off the RX ring (no syscall). Single-chunk frames are lent in place
   * (`batch.buf[i]` is the UMEM); multi-buffer frames are copied into a staging slot. Frames
   * stay valid until {@link AfXdpDriver.release} (or the next `receive`, which releases first).
   */
  receive(batch: RxBatch, max: number): number {
    if (this.#closed) throw closedError("AfXdpDriver", "receive");
    if (this.#heldCount > 0) this.#refill();
    batch.count = 0;
    const want = rxWant(batch, max, this.#rxBatch);
    if (want <= 0) return 0;
    const rx = this.#rx;
    const words = rx.words;
    const mem = this.#mem;
    const stats = this.stats;
    const held = this.#held;
    const gsoAbove = this.maxFrameBytes;
    let cons = this.#rxCons;
    let avail = (Atomics.load(words, rx.producer) - cons) >>> 0;
    let n = 0;
    while (n < want && avail > 0) {
      let d = rx.desc + (cons & rx.mask) * DESC_WORDS;
      const addr = words[d + XDP_DESC_ADDR_LO_WORD];
      const len = words[d + XDP_DESC_LEN_WORD];
      if ((words[d + XDP_DESC_OPTIONS_WORD] & XDP_PKT_CONTD) === 0) {
        // The common case: the whole frame in one chunk, lent in place.
        held[this.#heldCount++] = addr;
        cons = (cons + 1) >>> 0;
        avail--;
        stats.rxDescs++;
        if (len < ETH_HLEN) {
          stats.rxDropped++;
          continue;
        }
        batch.buf[n] = mem;
        batch.off[n] = addr;
        batch.len[n] = len;
        batch.flags[n] = len > gsoAbove ? RX_GSO | RX_CSUM_MAYBE_PARTIAL : RX_CSUM_MAYBE_PARTIAL;
        n++;
        stats.rxFrames++;
        stats.rxBytes += len;
        continue;
      }
      // A multi-buffer frame: find its last descriptor (the kernel publishes whole frames; if
      // the last one is not there yet, leave the frame for the next call).
      let parts = 1;
      let total = len;
      while (parts < avail) {
        d = rx.desc + (((cons + parts) >>> 0) & rx.mask) * DESC_WORDS;
        total += words[d + XDP_DESC_LEN_WORD];
        parts++;
        if ((words[d + XDP_DESC_OPTIONS_WORD] & XDP_PKT_CONTD) === 0) break;
      }
      if ((words[d + XDP_DESC_OPTIONS_WORD] & XDP_PKT_CONTD) !== 0) break;
      const slotOff = this.#umemBytes + n * this.#stagingSlotBytes;
      const fits = total <= this.#stagingSlotBytes;
      let at = slotOff;
      for (let p = 0; p < parts; p++) {
        d = rx.desc + (((cons + p) >>> 0) & rx.mask) * DESC_WORDS;
        const partAddr = words[d + XDP_DESC_ADDR_LO_WORD];
        const partLen = words[d + XDP_DESC_LEN_WORD];
        if (fits) mem.copyWithin(at, partAddr, partAddr + partLen);
        at += partLen;
        held[this.#heldCount++] = partAddr;
      }
      cons = (cons + parts) >>> 0;
      avail -= parts;
      stats.rxDescs += parts;
      if (!fits) {
        stats.rxOversize++;
        stats.rxDropped++;
        continue;
      }
      stats.rxMultiBuffer++;
      batch.buf[n] = mem;
      batch.off[n] = slotOff;
      batch.len[n] = total;
      batch.flags[n] = total > gsoAbove ? RX_GSO | RX_CSUM_MAYBE_PARTIAL : RX_CSUM_MAYBE_PARTIAL;
      n++;
      stats.rxFrames++;
      stats.rxBytes += total;
    }
    if (cons !== this.#rxCons) {
      // The descriptors are read: the kernel may reuse those RX-ring slots (the chunks stay
      // ours until they go back through the fill ring).
      this.#rxCons = cons;
      Atomics.store(words, rx.consumer, cons);
    }
    batch.count = n;
    return n;
  }

  /** Hand the chunks of the last `receive` back to the kernel through the fill ring. */
  release(batch: RxBatch): void {
    batch.count = 0;
    if (this.#heldCount > 0) this.#refill();
  }

  /**
   * Copy a frame into free transmit chunks (several, flagged XDP_PKT_CONTD, for a multi-buffer
   * frame) and queue it on the TX ring; published and kicked by {@link AfXdpDriver.flush}.
   * When the ring or the chunks run out it flushes once and retries; still full, the frame is
   * refused (txRingFull, txDropped). `offload` is ignored: this driver has no offloads.
   */
  transmit(frame: Uint8Array, off: number, len: number, _offload: TxOffload | null): boolean {
    if (this.#closed) throw closedError("AfXdpDriver", "transmit");
    const stats = this.stats;
    if (!txFrameInBounds(frame, off, len)) {
      stats.txDropped++;
      return false;
    }
    const fb = this.frameBytes;
    const parts = len <= fb ? 1 : Math.ceil(len / fb);
    if (len > this.maxFrameBytes || (parts > 1 && !this.multiBuffer)) {
      stats.txOversize++;
      stats.txDropped++;
      return false;
    }
    if (!this.#txRoom(parts)) {
      this.flush();
      if (!this.#txRoom(parts)) {
        stats.txRingFull++;
        stats.txDropped++;
        return false;
      }
    }
    const tx = this.#tx;
    const words = tx.words;
    const mem = this.#mem;
    let prod = this.#txProd;
    let done = 0;
    for (let p = 0; p < parts; p++) {
      const addr = this.#txFree[--this.#txFreeCount];
      const partLen = len - done < fb ? len - done : fb;
      copyBytes(frame, off + done, mem, addr, partLen);
      done += partLen;
      const d = tx.desc + (prod & tx.mask) * DESC_WORDS;
      words[d + XDP_DESC_ADDR_LO_WORD] = addr;
      words[d + XDP_DESC_ADDR_LO_WORD + 1] = 0;
      words[d + XDP_DESC_LEN_WORD] = partLen;
      words[d + XDP_DESC_OPTIONS_WORD] = p + 1 < parts ? XDP_PKT_CONTD : 0;
      prod = (prod + 1) >>> 0;
    }
    this.#txProd = prod;
    this.#txUnsent += parts;
    stats.txDescs += parts;
    stats.txFrames++;
    stats.txBytes += len;
    return true;
  }

  /**
   * Publish the queued descriptors and kick the kernel with `sendto(MSG_DONTWAIT)`, again while
   * it answers EAGAIN and the TX ring is not drained (bounded: the descriptors' share of
   * 32-per-kick plus a little slack); then recycle completed chunks.
   */
  flush(): void {
    if (this.#closed) throw closedError("AfXdpDriver", "flush");
    if (this.#txUnsent > 0) this.#kick();
    this.#drainCompletions();
  }

  /** The kernel's counters for this socket (`getsockopt(XDP_STATISTICS)`; allocates). */
  kernelStats(): XdpKernelStats {
    if (this.#closed) throw closedError("AfXdpDriver", "kernelStats");
    return xdpStatistics(this.#fd);
  }

  /**
   * Detach the program (the kernel sees the interface's traffic again), close the socket and
   * unmap rings and UMEM. Unsent frames are discarded. A second close throws EBADF.
   */
  close(): void {
    if (this.#closed) throw closedError("AfXdpDriver", "close");
    this.#closed = true;
    this.#fd = -1;
    // Detach the program, unmap the rings, close the socket, unmap the UMEM.
    this.#resources.close();
  }

  /** Return the held chunks to the fill ring (masked back to their chunk base). */
  #refill(): void {
    const fill = this.#fill;
    const words = fill.words;
    const held = this.#held;
    const mask = this.#chunkMask;
    let prod = this.#fillProd;
    const count = this.#heldCount;
    for (let i = 0; i < count; i++) {
      const e = fill.desc + (prod & fill.mask) * ADDR_WORDS;
      // The kernel put the data XDP_PACKET_HEADROOM bytes into the chunk: give back the base.
      words[e] = (held[i] & mask) >>> 0;
      words[e + 1] = 0;
      prod = (prod + 1) >>> 0;
    }
    this.#fillProd = prod;
    this.#heldCount = 0;
    this.stats.fillRefills += count;
    Atomics.store(words, fill.producer, prod);
  }

  /** True when `parts` TX-ring slots and chunks are free (recycling completions if needed). */
  #txRoom(parts: number): boolean {
    if (this.#txFreeCount < parts) this.#drainCompletions();
    if (this.#txFreeCount < parts) return false;
    const tx = this.#tx;
    if (((this.#txProd - this.#txConsSeen) >>> 0) + parts > this.ringSize) {
      this.#txConsSeen = Atomics.load(tx.words, tx.consumer);
      if (((this.#txProd - this.#txConsSeen) >>> 0) + parts > this.ringSize) return false;
    }
    return true;
  }

  /** Publish the TX producer and kick until the kernel has taken every descriptor. */
  #kick(): void {
    const tx = this.#tx;
    const stats = this.stats;
    Atomics.store(tx.words, tx.producer, this.#txProd);
    let budget = Math.ceil(this.#txUnsent / KICK_DESCS) + KICK_SLACK;
    let seen = Atomics.load(tx.words, tx.consumer);
    for (;;) {
      const r = sendto(this.#fd, this.#kickBuf, 0, MSG_DONTWAIT, null);
      stats.syscalls++;
      stats.txKicks++;
      const cons = Atomics.load(tx.words, tx.consumer);
      this.#txConsSeen = cons;
      this.#txUnsent = (this.#txProd - cons) >>> 0;
      // EBUSY: the device dropped one frame (NET_XMIT_DROP); the rest go on.
      if (r === -EBUSY) stats.txDropped++;
      if (this.#txUnsent === 0) break;
      if (r >= 0) break; // copy mode sent what it could; zero-copy: the driver was woken
      if (r === -EAGAIN) {
        stats.txKickEagain++; // more than one kick's worth, or no completion-ring room
      } else if (r === -EBUSY) {
        // counted above
      } else if (r === -ENOBUFS) {
        stats.txRingFull++;
      } else {
        this.lastErrno = -r;
        break;
      }
      // No progress: the completion ring may be full of our own unread completions.
      if (cons === seen) this.#drainCompletions();
      seen = cons;
      if (--budget <= 0) {
        stats.txKickBudgetExhausted++;
        break;
      }
    }
  }

  /** Move completed transmit chunks back to the free list. */
  #drainCompletions(): void {
    const cq = this.#completion;
    const words = cq.words;
    const prod = Atomics.load(words, cq.producer);
    let cons = this.#completionCons;
    if (prod === cons) return;
    const mask = this.#chunkMask;
    const free = this.#txFree;
    let n = 0;
    while (cons !== prod) {
      const e = cq.desc + (cons & cq.mask) * ADDR_WORDS;
      free[this.#txFreeCount++] = (words[e] & mask) >>> 0;
      cons = (cons + 1) >>> 0;
      n++;
    }
    this.#completionCons = cons;
    this.stats.txCompleted += n;
    Atomics.store(words, cq.consumer, cons);
  }
}

/** Validate the geometry options and derive the receive/transmit split. */
function validate(opts: AfXdpOptions): Geometry {
  const queue = intOption(DRIVER, "queue", opts.queue, 0, 0, 0xffff);
  const frameBytes = opts.frameBytes ?? AF_XDP_DEFAULT_FRAME_BYTES;
  if (frameBytes !== 2048 && frameBytes !== 4096) {
    throw new RangeError(`AfXdpDriver: frameBytes must be 2048 or 4096, got ${frameBytes}`);
  }
  const ringSize = intOption(
    DRIVER,
    "ringSize",
    opts.ringSize,
    AF_XDP_DEFAULT_RING_SIZE,
    2,
    1 << 20,
  );
  if (!isPow2(ringSize)) {
    throw new RangeError(`AfXdpDriver: ringSize must be a power of two, got ${ringSize}`);
  }
  // Chunk addresses are u32 words on the rings: the UMEM stays below 4 GiB.
  const maxFrames = Math.floor(0xffff_f000 / frameBytes);
  const frames = intOption(DRIVER, "frames", opts.frames, AF_XDP_DEFAULT_FRAMES, 2, maxFrames);
  const rxBatch = intOption(DRIVER, "rxBatch", opts.rxBatch, AF_XDP_DEFAULT_RX_BATCH, 1, ringSize);
  // Receive gets half the chunks (the fill ring holds them all); transmit the rest, bounded by
  // the completion ring so every chunk in flight has a completion slot.
  const rxFrames = Math.min(ringSize, frames >>> 1);
  const txFrames = Math.min(ringSize, frames - rxFrames);
  return { queue, frameBytes, frames, ringSize, rxFrames, txFrames, rxBatch };
}

/**
 * Look the interface up, map the UMEM, make and bind the socket (falling back to copy mode
 * where zero-copy is refused) and attach the redirect program, in the current namespace;
 * everything acquired goes on `res`.
 */
function openSocket(res: ResourceStack, opts: AfXdpOptions, g: Geometry): Opened {
  const link = queryLink(DRIVER, opts.ifname, opts.mtu);
  // A link-MTU frame (plus a VLAN tag) must fit one chunk after the kernel's headroom.
  const multiBuffer = opts.multiBuffer ??
    (link.linkMtu + ETH_HLEN + 4 > g.frameBytes - XDP_PACKET_HEADROOM);
  const stagingSlotBytes = multiBuffer ? roundUp(link.linkMtu + ETH_HLEN + 4, 64) : 0;
  const umemBytes = g.frames * g.frameBytes;
  const mapBytes = roundUp(umemBytes + g.rxBatch * stagingSlotBytes, PAGE_BYTES);
  const umemPtr = res.mapping(
    mmap(mapBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1),
    mapBytes,
  );

  const wantZeroCopy = opts.zeroCopy ?? false;
  let zeroCopyFallback: string | null = null;
  const beforeSocket = res.size;
  let sock: BoundSocket;
  try {
    sock = bindSocket(res, umemPtr, umemBytes, link.ifindex, g, multiBuffer, wantZeroCopy);
  } catch (e) {
    if (!(wantZeroCopy && e instanceof SyscallError && e.errno === EOPNOTSUPP)) throw e;
    // The driver cannot do zero-copy (veth): start over in copy mode on a fresh socket.
    res.unwind(beforeSocket);
    zeroCopyFallback = e.code;
    sock = bindSocket(res, umemPtr, umemBytes, link.ifindex, g, multiBuffer, false);
  }
  const zeroCopy = (xdpOptionFlags(sock.fd) & XDP_OPTIONS_ZEROCOPY) !== 0;
  if (wantZeroCopy && !zeroCopy && zeroCopyFallback === null) zeroCopyFallback = "copy mode";

  const program = XdpRedirectProgram.attach({
    ifindex: link.ifindex,
    queue: g.queue,
    xskFd: sock.fd,
    multiBuffer,
    mode: opts.attachMode,
  });
  res.defer(() => program.close());
  return {
    fd: sock.fd,
    resources: res,
    link,
    geometry: g,
    umemPtr,
    mapBytes,
    umemBytes,
    stagingSlotBytes,
    rings: sock.rings,
    zeroCopy,
    zeroCopyFallback,
    multiBuffer,
    program,
  };
}

/** A bound XDP socket with its four rings mapped. */
interface BoundSocket {
  fd: number;
  rings: { rx: Ring; tx: Ring; fill: Ring; completion: Ring };
}

/**
 * socket → XDP_UMEM_REG → ring sizes → XDP_MMAP_OFFSETS → mmap the rings → prime the fill ring
 * → bind; the socket and the ring mappings go on `res`.
 */
function bindSocket(
  res: ResourceStack,
  umemPtr: Deno.PointerObject,
  umemBytes: number,
  ifindex: number,
  g: Geometry,
  multiBuffer: boolean,
  zeroCopy: boolean,
): BoundSocket {
  const fd = res.fd(socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0));
  const reg = xdpUmemReg(Deno.UnsafePointer.value(umemPtr), umemBytes, g.frameBytes);
  setsockopt(fd, SOL_XDP, XDP_UMEM_REG, reg);
  setsockoptInt(fd, SOL_XDP, XDP_UMEM_FILL_RING, g.ringSize);
  setsockoptInt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, g.ringSize);
  setsockoptInt(fd, SOL_XDP, XDP_RX_RING, g.ringSize);
  setsockoptInt(fd, SOL_XDP, XDP_TX_RING, g.ringSize);
  const offsets = xdpMmapOffsets(fd);
  const map = (off: XdpRingOffsets, pgoff: bigint, descBytes: number): Ring => {
    const bytes = off.desc + g.ringSize * descBytes;
    const ptr = res.mapping(
      mmap(bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff),
      bytes,
    );
    return {
      ptr,
      bytes,
      words: new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, bytes)),
      producer: off.producer >>> 2,
      consumer: off.consumer >>> 2,
      desc: off.desc >>> 2,
      mask: g.ringSize - 1,
    };
  };
  const rx = map(offsets.rx, XDP_PGOFF_RX_RING, XDP_DESC_SIZE);
  const tx = map(offsets.tx, XDP_PGOFF_TX_RING, XDP_DESC_SIZE);
  const fill = map(offsets.fill, XDP_UMEM_PGOFF_FILL_RING, XDP_ADDR_ENTRY_SIZE);
  const completion = map(
    offsets.completion,
    XDP_UMEM_PGOFF_COMPLETION_RING,
    XDP_ADDR_ENTRY_SIZE,
  );
  // Prime the fill ring with the receive chunks (0..rxFrames-1) before frames can arrive.
  for (let i = 0; i < g.rxFrames; i++) {
    const e = fill.desc + (i & fill.mask) * ADDR_WORDS;
    fill.words[e] = i * g.frameBytes;
    fill.words[e + 1] = 0;
  }
  Atomics.store(fill.words, fill.producer, g.rxFrames);

  const flags = (zeroCopy ? XDP_ZEROCOPY : XDP_COPY) | (multiBuffer ? XDP_USE_SG : 0);
  bind(fd, sockaddrXdp(ifindex, g.queue, flags));
  return { fd, rings: { rx, tx, fill, completion } };
}

/** True for powers of two. */
function isPow2(n: number): boolean {
  return (n & (n - 1)) === 0;
}
