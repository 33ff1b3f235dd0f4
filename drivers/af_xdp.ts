/**
 * The AF_XDP frame pump: an XDP socket bound to one queue of one interface, fed by ustack's own
 * redirect program (`drivers/xdp_program.ts`).
 *
 * Memory (`drivers/xdp_umem.ts`): one anonymous mapping holds the UMEM — `frames` chunks of
 * `frameBytes`, registered with `XDP_UMEM_REG` — followed (multi-buffer only) by staging slots
 * where frames that span several chunks are reassembled. Half the chunks (at most `ringSize`)
 * belong to receive and circulate fill ring → RX ring → stack → fill ring; the rest belong to
 * transmit and circulate free list → TX ring → completion ring → free list. The four rings
 * (`drivers/xdp_ring.ts`) are mapped at the kernel's page offsets with the field offsets of
 * `XDP_MMAP_OFFSETS`. Set-up is in `drivers/af_xdp_setup.ts`. Nothing is allocated per frame.
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
import { ETH_HLEN, MSG_DONTWAIT } from "../ffi/constants.ts";
import { EAGAIN, EBUSY, ENOBUFS } from "../ffi/errno.ts";
import { XDP_PKT_CONTD, type XdpKernelStats, xdpStatistics } from "../ffi/if_xdp.ts";
import { allocStruct } from "../ffi/structs.ts";
import { sendto } from "../ffi/syscalls.ts";
import { copyBytes } from "../core/copy_bytes.ts";
import { closedError, putRxFrame, rxWant, txFrameInBounds } from "./driver_util.ts";
import { openOnInterface } from "./interface_open.ts";
import type { ResourceStack } from "./resource_stack.ts";
import {
  AF_XDP_CAPABILITIES,
  type AfXdpOptions,
  type OpenedXdp,
  openXdpSocket,
  xdpGeometry,
} from "./af_xdp_setup.ts";
import type { XdpRedirectProgram } from "./xdp_program.ts";
import type { XdpConsumerRing, XdpProducerRing } from "./xdp_ring.ts";
import type { XdpUmem } from "./xdp_umem.ts";

export {
  AF_XDP_DEFAULT_FRAME_BYTES,
  AF_XDP_DEFAULT_FRAMES,
  AF_XDP_DEFAULT_RING_SIZE,
  AF_XDP_DEFAULT_RX_BATCH,
  type AfXdpOptions,
} from "./af_xdp_setup.ts";
export type { XdpKernelStats } from "../ffi/if_xdp.ts";

/** Copy-mode kernels send at most this many descriptors per `sendto` kick (TX_BATCH_SIZE). */
const KICK_DESCS = 32;
/** Extra kicks allowed per flush beyond the descriptors' share (EAGAIN without progress). */
const KICK_SLACK = 4;

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
  /** UMEM, socket, rings and program, released by `close()`. */
  readonly #resources: ResourceStack;
  readonly #umem: XdpUmem;
  readonly #rxBatch: number;
  readonly #rx: XdpConsumerRing;
  readonly #tx: XdpProducerRing;
  readonly #fill: XdpProducerRing;
  readonly #completion: XdpConsumerRing;
  /** Chunks taken off the RX ring since the last release (lent or dropped). */
  readonly #held: Uint32Array;
  #heldCount = 0;
  /** Descriptors published on the TX ring since the last complete kick. */
  #txUnsent = 0;
  readonly #kickBuf = allocStruct(8);

  private constructor(o: OpenedXdp, resources: ResourceStack) {
    const g = o.geometry;
    this.#fd = o.fd;
    this.#resources = resources;
    this.name = o.link.ifname;
    this.ifindex = o.link.ifindex;
    this.mac = o.link.mac;
    this.linkMtu = o.link.linkMtu;
    this.mtu = o.link.mtu;
    this.queue = g.queue;
    this.zeroCopy = o.zeroCopy;
    this.zeroCopyFallback = o.zeroCopyFallback;
    this.multiBuffer = o.multiBuffer;
    this.frameBytes = g.frameBytes;
    this.rxFrames = g.rxFrames;
    this.txFrames = g.txFrames;
    this.ringSize = g.ringSize;
    this.maxFrameBytes = o.link.mtu + ETH_HLEN;
    this.program = o.program;
    this.#umem = o.umem;
    this.#rxBatch = g.rxBatch;
    this.#rx = o.rings.rx;
    this.#tx = o.rings.tx;
    this.#fill = o.rings.fill;
    this.#completion = o.rings.completion;
    this.#held = new Uint32Array(g.rxFrames);
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
    const geometry = xdpGeometry(opts);
    const o = {
      driver: "AfXdpDriver",
      netns: opts.netns,
      mtu: opts.mtu,
      capabilities: AF_XDP_CAPABILITIES,
    };
    return openOnInterface(
      o,
      (res) => new AfXdpDriver(openXdpSocket(res, opts, geometry), res),
    );
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
    return this.#umem.txFree;
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
    const umem = this.#umem;
    const mem = umem.mem;
    const stats = this.stats;
    const held = this.#held;
    const gsoAbove = this.maxFrameBytes;
    const first = rx.tail;
    let cons = first;
    let avail = rx.available();
    let n = 0;
    while (n < want && avail > 0) {
      const addr = rx.descAddr(cons);
      const len = rx.descLen(cons);
      if ((rx.descOptions(cons) & XDP_PKT_CONTD) === 0) {
        // The common case: the whole frame in one chunk, lent in place.
        held[this.#heldCount++] = addr;
        cons = (cons + 1) >>> 0;
        avail--;
        stats.rxDescs++;
        if (len < ETH_HLEN) {
          stats.rxDropped++;
          continue;
        }
        // AF_XDP carries no checksum metadata: RX_CSUM_MAYBE_PARTIAL lets the stack decide.
        const flags = len > gsoAbove ? RX_GSO | RX_CSUM_MAYBE_PARTIAL : RX_CSUM_MAYBE_PARTIAL;
        putRxFrame(batch, n++, mem, addr, len, flags);
        stats.rxFrames++;
        stats.rxBytes += len;
        continue;
      }
      // A multi-buffer frame: find its last descriptor (the kernel publishes whole frames; if
      // the last one is not there yet, leave the frame for the next call).
      let parts = 1;
      let total = len;
      let last = cons;
      while (parts < avail) {
        last = (cons + parts) >>> 0;
        total += rx.descLen(last);
        parts++;
        if ((rx.descOptions(last) & XDP_PKT_CONTD) === 0) break;
      }
      if ((rx.descOptions(last) & XDP_PKT_CONTD) !== 0) break;
      const slotOff = umem.stagingOffset(n);
      const fits = total <= umem.stagingSlotBytes;
      let at = slotOff;
      for (let p = 0; p < parts; p++) {
        const d = (cons + p) >>> 0;
        const partAddr = rx.descAddr(d);
        const partLen = rx.descLen(d);
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
      const flags = total > gsoAbove ? RX_GSO | RX_CSUM_MAYBE_PARTIAL : RX_CSUM_MAYBE_PARTIAL;
      putRxFrame(batch, n++, mem, slotOff, total, flags);
      stats.rxFrames++;
      stats.rxBytes += total;
    }
    // The descriptors are read: the kernel may reuse those RX-ring slots (the chunks stay ours
    // until they go back through the fill ring).
    rx.release((cons - first) >>> 0);
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
    const umem = this.#umem;
    const mem = umem.mem;
    let index = tx.head;
    let done = 0;
    for (let p = 0; p < parts; p++) {
      const addr = umem.takeTxChunk();
      const partLen = len - done < fb ? len - done : fb;
      copyBytes(frame, off + done, mem, addr, partLen);
      done += partLen;
      tx.setDesc(index, addr, partLen, p + 1 < parts ? XDP_PKT_CONTD : 0);
      index = (index + 1) >>> 0;
    }
    tx.advance(parts);
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
   * Detach the program (the kernel sees the interface's traffic again), unmap the rings, close
   * the socket and unmap the UMEM. Unsent frames are discarded. A second close throws EBADF.
   */
  close(): void {
    if (this.#closed) throw closedError("AfXdpDriver", "close");
    this.#closed = true;
    this.#fd = -1;
    this.#resources.close();
  }

  /** Return the held chunks to the fill ring (masked back to their chunk base). */
  #refill(): void {
    const fill = this.#fill;
    const umem = this.#umem;
    const held = this.#held;
    const count = this.#heldCount;
    let index = fill.head;
    for (let i = 0; i < count; i++) {
      // The kernel put the data XDP_PACKET_HEADROOM bytes into the chunk: give back the base.
      fill.setAddr(index, umem.chunkBase(held[i]));
      index = (index + 1) >>> 0;
    }
    fill.advance(count);
    fill.publish();
    this.#heldCount = 0;
    this.stats.fillRefills += count;
  }

  /** True when `parts` TX-ring slots and chunks are free (recycling completions if needed). */
  #txRoom(parts: number): boolean {
    if (this.#umem.txFree < parts) this.#drainCompletions();
    if (this.#umem.txFree < parts) return false;
    return this.#tx.hasRoom(parts);
  }

  /** Publish the TX producer and kick until the kernel has taken every descriptor. */
  #kick(): void {
    const tx = this.#tx;
    const stats = this.stats;
    tx.publish();
    let budget = Math.ceil(this.#txUnsent / KICK_DESCS) + KICK_SLACK;
    let before = tx.unconsumed();
    for (;;) {
      const r = sendto(this.#fd, this.#kickBuf, 0, MSG_DONTWAIT, null);
      stats.syscalls++;
      stats.txKicks++;
      const unsent = tx.unconsumed();
      this.#txUnsent = unsent;
      // EBUSY: the device dropped one frame (NET_XMIT_DROP); the rest go on.
      if (r === -EBUSY) stats.txDropped++;
      if (unsent === 0) break;
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
      if (unsent === before) this.#drainCompletions();
      before = unsent;
      if (--budget <= 0) {
        stats.txKickBudgetExhausted++;
        break;
      }
    }
  }

  /** Move completed transmit chunks back to the free list. */
  #drainCompletions(): void {
    const cq = this.#completion;
    const n = cq.available();
    if (n === 0) return;
    const umem = this.#umem;
    let index = cq.tail;
    for (let i = 0; i < n; i++) {
      umem.returnTxChunk(umem.chunkBase(cq.addrAt(index)));
      index = (index + 1) >>> 0;
    }
    cq.release(n);
    this.stats.txCompleted += n;
  }
}
