/**
 * The UMEM of the AF_XDP driver: one anonymous mapping of `frames` chunks of `frameBytes`,
 * registered with the socket (`XDP_UMEM_REG`), followed — multi-buffer only — by staging slots
 * where received frames that span several chunks are put back together.
 *
 * The chunks are split once: the first `rxFrames` belong to receive (they circulate fill ring →
 * RX ring → stack → fill ring, tracked by the driver), the next `txFrames` to transmit (free
 * list → TX ring → completion ring → free list, tracked here). Chunk addresses are byte offsets
 * into the UMEM; the UMEM stays below 4 GiB so they fit a u32.
 *
 * @module
 */

import {
  MAP_ANONYMOUS,
  MAP_POPULATE,
  MAP_PRIVATE,
  PAGE_BYTES,
  PROT_READ,
  PROT_WRITE,
  SOL_XDP,
} from "../ffi/constants.ts";
import { XDP_UMEM_REG, xdpUmemReg } from "../ffi/if_xdp.ts";
import { mmap, setsockopt } from "../ffi/syscalls.ts";
import { roundUp } from "./driver_util.ts";
import type { ResourceStack } from "./resource_stack.ts";

/** How {@link XdpUmem.map} lays the UMEM out. */
export interface XdpUmemLayout {
  /** Chunk size (2048 or 4096). */
  frameBytes: number;
  /** Chunks owned by receive (the first ones). */
  rxFrames: number;
  /** Chunks owned by transmit (right after the receive ones). */
  txFrames: number;
  /** Chunks in all (at least rxFrames + txFrames). */
  frames: number;
  /** Staging slots after the chunks (0 without multi-buffer). */
  stagingSlots: number;
  /** Bytes per staging slot. */
  stagingSlotBytes: number;
}

/**
 * The UMEM mapping, its view, and the free list of transmit chunks.
 *
 * @example
 * ```ts
 * const umem = XdpUmem.map(res, layout);
 * umem.register(fd);
 * const chunk = umem.takeTxChunk(); // copy a frame to umem.mem[chunk..]
 * umem.returnTxChunk(umem.chunkBase(completedAddr));
 * ```
 */
export class XdpUmem {
  /** The whole mapping, chunks then staging slots: `RxBatch.buf` of every received frame. */
  readonly mem: Uint8Array;
  /** Start of the mapping. */
  readonly ptr: Deno.PointerObject;
  /** Chunk size. */
  readonly frameBytes: number;
  /** Bytes of the chunks (what is registered): `frames × frameBytes`. */
  readonly chunkBytes: number;
  /** Bytes per staging slot (0 without multi-buffer). */
  readonly stagingSlotBytes: number;
  /** Chunks owned by receive. */
  readonly rxFrames: number;
  readonly #chunkMask: number;
  /** Free transmit chunks: a stack of chunk addresses. */
  readonly #txFree: Uint32Array;
  #txFreeCount: number;

  private constructor(ptr: Deno.PointerObject, mapBytes: number, layout: XdpUmemLayout) {
    this.ptr = ptr;
    this.mem = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, mapBytes));
    this.frameBytes = layout.frameBytes;
    this.chunkBytes = layout.frames * layout.frameBytes;
    this.stagingSlotBytes = layout.stagingSlotBytes;
    this.rxFrames = layout.rxFrames;
    this.#chunkMask = ~(layout.frameBytes - 1);
    this.#txFree = new Uint32Array(layout.txFrames);
    for (let i = 0; i < layout.txFrames; i++) {
      this.#txFree[i] = (layout.rxFrames + i) * layout.frameBytes;
    }
    this.#txFreeCount = layout.txFrames;
  }

  /** Map a UMEM laid out as `layout` (the mapping goes on `res`). Set-up only. */
  static map(res: ResourceStack, layout: XdpUmemLayout): XdpUmem {
    const bytes = layout.frames * layout.frameBytes +
      layout.stagingSlots * layout.stagingSlotBytes;
    const mapBytes = roundUp(bytes, PAGE_BYTES);
    const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
    const ptr = res.mapping(mmap(mapBytes, PROT_READ | PROT_WRITE, flags, -1), mapBytes);
    return new XdpUmem(ptr, mapBytes, layout);
  }

  /** Register the chunks with XDP socket `fd` (`XDP_UMEM_REG`, no headroom). Set-up only. */
  register(fd: number): void {
    const reg = xdpUmemReg(Deno.UnsafePointer.value(this.ptr), this.chunkBytes, this.frameBytes);
    setsockopt(fd, SOL_XDP, XDP_UMEM_REG, reg);
  }

  /** Address of receive chunk `i` (0 ≤ i < rxFrames). */
  rxChunk(i: number): number {
    return i * this.frameBytes;
  }

  /**
   * The chunk an address lies in: the kernel hands out addresses into chunks (received data
   * starts `XDP_PACKET_HEADROOM` bytes in); the rings take chunk bases back.
   */
  chunkBase(addr: number): number {
    return (addr & this.#chunkMask) >>> 0;
  }

  /** Offset in {@link mem} of staging slot `slot`. */
  stagingOffset(slot: number): number {
    return this.chunkBytes + slot * this.stagingSlotBytes;
  }

  /** Transmit chunks free now. */
  get txFree(): number {
    return this.#txFreeCount;
  }

  /** Take a free transmit chunk; the caller checked {@link txFree} first. */
  takeTxChunk(): number {
    return this.#txFree[--this.#txFreeCount];
  }

  /** Give transmit chunk `base` (a chunk base, not any address in it) back to the free list. */
  returnTxChunk(base: number): void {
    this.#txFree[this.#txFreeCount++] = base;
  }
}
