/**
 * The single-producer/single-consumer rings an AF_XDP socket shares with the kernel, from the
 * side this process holds: it *produces* into the fill and TX rings and *consumes* from the RX
 * and completion rings.
 *
 * A ring is `size` entries (a power of two) after a producer and a consumer index, each a u32
 * that only grows (wrapping at 2^32); entry `i` is at `i & (size - 1)`. Each side keeps its own
 * index in a field and publishes it with `Atomics.store` (release), and reads the other side's
 * with `Atomics.load` (acquire): the kernel sees an entry only after its producer index moved
 * past it, and may reuse one only after the consumer index did. Entries are u64 UMEM addresses
 * (fill, completion) or `xdp_desc` (RX, TX), read and written as u32 words through one
 * `Uint32Array` over the mapping, made at open. Nothing here allocates after that.
 *
 * @module
 */

import { MAP_POPULATE, MAP_SHARED, PROT_READ, PROT_WRITE } from "../ffi/constants.ts";
import {
  XDP_ADDR_ENTRY_SIZE,
  XDP_DESC_ADDR_HI_WORD,
  XDP_DESC_ADDR_LO_WORD,
  XDP_DESC_LEN_WORD,
  XDP_DESC_OPTIONS_WORD,
  XDP_DESC_SIZE,
  type XdpRingOffsets,
} from "../ffi/if_xdp.ts";
import { mmap } from "../ffi/syscalls.ts";
import type { ResourceStack } from "./resource_stack.ts";

/** What a ring's entries are: a UMEM address (fill, completion) or an `xdp_desc` (RX, TX). */
export type XdpRingEntry = "addr" | "desc";

/**
 * One mapped ring: its words and where its fields are, as word indices. Made by
 * {@link mapXdpRing}; read and written through an {@link XdpProducerRing} or
 * {@link XdpConsumerRing}.
 */
export class XdpRingMapping {
  /** The mapping as u32 words. */
  readonly words: Uint32Array;
  /** Word index of the producer index. */
  readonly producerWord: number;
  /** Word index of the consumer index. */
  readonly consumerWord: number;
  /** Word index of entry 0. */
  readonly descWord: number;
  /** u32 words per entry: 2 for an address, 4 for a descriptor. */
  readonly entryWords: number;
  /** Entries (a power of two). */
  readonly size: number;
  /** `size - 1`. */
  readonly mask: number;

  /** The ring of `size` `entryBytes`-byte entries mapped as `words`, at `offsets`. */
  constructor(words: Uint32Array, offsets: XdpRingOffsets, size: number, entryBytes: number) {
    this.words = words;
    this.producerWord = offsets.producer >>> 2;
    this.consumerWord = offsets.consumer >>> 2;
    this.descWord = offsets.desc >>> 2;
    this.entryWords = entryBytes >>> 2;
    this.size = size;
    this.mask = size - 1;
  }

  /** Word index of entry `index` (any u32 index; wrapped by the mask). */
  entry(index: number): number {
    return this.descWord + (index & this.mask) * this.entryWords;
  }
}

/**
 * Map the ring of `size` entries at page offset `pgoff` of XDP socket `fd`, its fields at
 * `offsets` (from `XDP_MMAP_OFFSETS`); the mapping goes on `res`. Set-up only.
 *
 * @example
 * ```ts
 * const rx = new XdpConsumerRing(mapXdpRing(res, fd, off.rx, XDP_PGOFF_RX_RING, 2048, "desc"));
 * ```
 */
export function mapXdpRing(
  res: ResourceStack,
  fd: number,
  offsets: XdpRingOffsets,
  pgoff: bigint,
  size: number,
  entry: XdpRingEntry,
): XdpRingMapping {
  const entryBytes = entry === "desc" ? XDP_DESC_SIZE : XDP_ADDR_ENTRY_SIZE;
  const bytes = offsets.desc + size * entryBytes;
  const ptr = res.mapping(
    mmap(bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff),
    bytes,
  );
  const words = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, bytes));
  return new XdpRingMapping(words, offsets, size, entryBytes);
}

/**
 * The side of a ring this process produces into (fill, TX): entries are written at
 * {@link head} onwards and handed to the kernel by {@link publish}.
 *
 * @example
 * ```ts
 * const fill = new XdpProducerRing(
 *   mapXdpRing(res, fd, offsets.fill, XDP_UMEM_PGOFF_FILL_RING, 2048, "addr"),
 * );
 * fill.setAddr(fill.head, chunk);
 * fill.advance(1);
 * fill.publish();
 * ```
 */
export class XdpProducerRing {
  readonly #ring: XdpRingMapping;
  readonly #words: Uint32Array;
  /** Next index to write: ours alone until {@link publish}. */
  #head = 0;
  /** The kernel's consumer index as last read. */
  #consumerSeen = 0;

  /** This side of the ring `ring` (from {@link mapXdpRing}). */
  constructor(ring: XdpRingMapping) {
    this.#ring = ring;
    this.#words = ring.words;
  }

  /** Entries in the ring. */
  get size(): number {
    return this.#ring.size;
  }

  /** The next index to write. */
  get head(): number {
    return this.#head;
  }

  /**
   * True when `count` more entries fit before the kernel has consumed any more; reads the
   * kernel's consumer index only when the last one seen says they do not.
   */
  hasRoom(count: number): boolean {
    const size = this.#ring.size;
    if (((this.#head - this.#consumerSeen) >>> 0) + count <= size) return true;
    this.#consumerSeen = Atomics.load(this.#words, this.#ring.consumerWord);
    return ((this.#head - this.#consumerSeen) >>> 0) + count <= size;
  }

  /** Write UMEM address `addr` (below 4 GiB) into entry `index` of an address ring. */
  setAddr(index: number, addr: number): void {
    const e = this.#ring.entry(index);
    this.#words[e] = addr;
    this.#words[e + 1] = 0;
  }

  /** Write descriptor {addr, len, options} into entry `index` of a descriptor ring. */
  setDesc(index: number, addr: number, len: number, options: number): void {
    const words = this.#words;
    const e = this.#ring.entry(index);
    words[e + XDP_DESC_ADDR_LO_WORD] = addr;
    words[e + XDP_DESC_ADDR_HI_WORD] = 0;
    words[e + XDP_DESC_LEN_WORD] = len;
    words[e + XDP_DESC_OPTIONS_WORD] = options;
  }

  /** Move the head past `count` written entries (not yet visible to the kernel). */
  advance(count: number): void {
    this.#head = (this.#head + count) >>> 0;
  }

  /** Hand every entry before the head to the kernel. */
  publish(): void {
    Atomics.store(this.#words, this.#ring.producerWord, this.#head);
  }

  /** Entries published or written and not yet consumed by the kernel (reads its index). */
  unconsumed(): number {
    this.#consumerSeen = Atomics.load(this.#words, this.#ring.consumerWord);
    return (this.#head - this.#consumerSeen) >>> 0;
  }

  /** The kernel's consumer index as last read by {@link hasRoom} or {@link unconsumed}. */
  get consumerSeen(): number {
    return this.#consumerSeen;
  }
}

/**
 * The side of a ring this process consumes from (RX, completion): entries the kernel
 * published are read at {@link tail} onwards and given back by {@link release}.
 *
 * @example
 * ```ts
 * const n = cq.available();
 * for (let i = 0; i < n; i++) freeChunk(cq.addrAt(cq.tail + i));
 * cq.release(n);
 * ```
 */
export class XdpConsumerRing {
  readonly #ring: XdpRingMapping;
  readonly #words: Uint32Array;
  /** Next index to read: ours alone until {@link release}. */
  #tail = 0;

  /** This side of the ring `ring` (from {@link mapXdpRing}). */
  constructor(ring: XdpRingMapping) {
    this.#ring = ring;
    this.#words = ring.words;
  }

  /** The next index to read. */
  get tail(): number {
    return this.#tail;
  }

  /** Entries the kernel has published past the tail (reads its producer index). */
  available(): number {
    return (Atomics.load(this.#words, this.#ring.producerWord) - this.#tail) >>> 0;
  }

  /** The UMEM address in entry `index` of an address ring. */
  addrAt(index: number): number {
    return this.#words[this.#ring.entry(index)];
  }

  /** The `addr` of descriptor `index` (UMEM offsets stay below 4 GiB: the low word). */
  descAddr(index: number): number {
    return this.#words[this.#ring.entry(index) + XDP_DESC_ADDR_LO_WORD];
  }

  /** The `len` of descriptor `index`. */
  descLen(index: number): number {
    return this.#words[this.#ring.entry(index) + XDP_DESC_LEN_WORD];
  }

  /** The `options` of descriptor `index` (`XDP_PKT_CONTD`). */
  descOptions(index: number): number {
    return this.#words[this.#ring.entry(index) + XDP_DESC_OPTIONS_WORD];
  }

  /** Give `count` entries past the tail back to the kernel: it may reuse their slots. */
  release(count: number): void {
    if (count === 0) return;
    this.#tail = (this.#tail + count) >>> 0;
    Atomics.store(this.#words, this.#ring.consumerWord, this.#tail);
  }
}
