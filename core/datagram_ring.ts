/**
 * A ring of whole records (datagrams) in one contiguous byte buffer, each record stored in one
 * piece so it can be lent out in place: a reader may copy the oldest record out ({@link
 * DatagramRing.take}) or borrow it ({@link DatagramRing.lend}) — read it where it lies, with no
 * copy — and hand it back later ({@link DatagramRing.giveBack}). Space is reclaimed in FIFO
 * order as soon as the oldest records are done, whatever order they are handed back in.
 *
 * A record that does not fit between the write position and the end of the buffer starts again
 * at offset 0 (the few bytes skipped at the end are reclaimed when the reader passes them), so
 * usable space is at least `capacity − largest record`. Every record takes at least one byte, so
 * empty records queue too. Nothing allocates after construction except {@link
 * DatagramRing.grow}.
 *
 * Records live in slots `0 .. maxRecords − 1`; a slot plus its generation (a counter that
 * changes each time the slot is filled) names one record, so a stale or double give-back is
 * recognised and refused.
 *
 * @module
 */

import type { SubarrayCache } from "./subarray_cache.ts";

/** Slot state: queued, not yet taken. */
const QUEUED = 0;
/** Slot state: lent out, not yet given back. */
const LENT = 1;
/** Slot state: done (taken or given back), waiting for the records before it. */
const DONE = 2;

/**
 * Whole records in one buffer, FIFO, each contiguous.
 *
 * @example
 * ```ts
 * import { DatagramRing } from "./datagram_ring.ts";
 * const ring = new DatagramRing(1024, 16);
 * ring.push(new Uint8Array([1, 2, 3]), 0, 3);
 * const slot = ring.lend(); // borrow the oldest record in place
 * ring.data.subarray(ring.offsetOf(slot), ring.offsetOf(slot) + ring.lengthOf(slot)); // 1, 2, 3
 * ring.giveBack(slot, ring.generationOf(slot)); // true: its space is free again
 * ```
 */
export class DatagramRing {
  /** Most records held at once. */
  readonly maxRecords: number;
  #data: Uint8Array;
  readonly #off: Int32Array;
  readonly #len: Int32Array;
  readonly #gen: Uint32Array;
  readonly #state: Uint8Array;
  /** Slot of the oldest record held. */
  #first = 0;
  /** Records held (queued + lent + done-but-not-reclaimed). */
  #count = 0;
  /** Records queued (the newest `#queued` records held). */
  #queued = 0;
  /** Records lent out. */
  #lent = 0;
  /** Payload bytes held. */
  #bytes = 0;
  /** Where the next record goes. */
  #tail = 0;
  #nextGen = 1;

  /** A ring of `capacity` bytes holding at most `maxRecords` records. */
  constructor(capacity: number, maxRecords: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new RangeError(`DatagramRing: capacity ${capacity} must be a positive integer`);
    }
    if (!(Number.isInteger(maxRecords) && maxRecords >= 1)) {
      throw new RangeError(`DatagramRing: maxRecords ${maxRecords} must be a positive integer`);
    }
    this.maxRecords = maxRecords;
    this.#data = new Uint8Array(capacity);
    this.#off = new Int32Array(maxRecords);
    this.#len = new Int32Array(maxRecords);
    this.#gen = new Uint32Array(maxRecords);
    this.#state = new Uint8Array(maxRecords);
  }

  /** The storage: a record is `data[offsetOf(slot), offsetOf(slot) + lengthOf(slot))`. */
  get data(): Uint8Array {
    return this.#data;
  }

  /** Bytes of storage. */
  get capacity(): number {
    return this.#data.length;
  }

  /** Records queued (not taken, not lent). */
  get queued(): number {
    return this.#queued;
  }

  /** Records lent out and not given back. */
  get lent(): number {
    return this.#lent;
  }

  /** Records holding space (queued, lent, or done but behind a record still held). */
  get held(): number {
    return this.#count;
  }

  /** Payload bytes of the records holding space. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Start of the record in `slot`. */
  offsetOf(slot: number): number {
    return this.#off[slot];
  }

  /** Length of the record in `slot`. */
  lengthOf(slot: number): number {
    return this.#len[slot];
  }

  /** Generation of the record in `slot` (names it for {@link giveBack}). */
  generationOf(slot: number): number {
    return this.#gen[slot];
  }

  /** Where a record of `len` bytes would go, or -1 when it does not fit now. */
  #place(len: number): number {
    const need = len > 0 ? len : 1;
    const cap = this.#data.length;
    if (this.#count === 0) return need <= cap ? 0 : -1;
    const head = this.#off[this.#first];
    const tail = this.#tail;
    if (tail > head) {
      if (tail + need <= cap) return tail;
      return need <= head ? 0 : -1;
    }
    // Wrapped (tail ≤ head): the free part is [tail, head).
    return tail + need <= head ? tail : -1;
  }

  /**
   * Copy `src[off, off + len)` in as the newest record; its slot, or -1 when there is no
   * contiguous room or no free slot (nothing changes then). `views`, when given, supplies the
   * view of a long source range (reused, no allocation) in place of a new `subarray`.
   */
  push(src: Uint8Array, off: number, len: number, views: SubarrayCache | null = null): number {
    if (this.#count >= this.maxRecords) return -1;
    const at = this.#place(len);
    if (at < 0) return -1;
    if (this.#count === 0) this.#first = 0;
    const slot = (this.#first + this.#count) % this.maxRecords;
    const data = this.#data;
    if (len <= 32) {
      for (let i = 0; i < len; i++) data[at + i] = src[off + i];
    } else if (off === 0 && len === src.length) data.set(src, at);
    else if (views !== null) data.set(views.view(src, off, len), at);
    else data.set(src.subarray(off, off + len), at);
    this.#off[slot] = at;
    this.#len[slot] = len;
    this.#gen[slot] = this.#nextGen;
    this.#nextGen = this.#nextGen === 0xffffffff ? 1 : this.#nextGen + 1;
    this.#state[slot] = QUEUED;
    this.#tail = at + (len > 0 ? len : 1);
    this.#count++;
    this.#queued++;
    this.#bytes += len;
    return slot;
  }

  /** Slot of the oldest queued record, or -1 when none is queued. */
  peek(): number {
    if (this.#queued === 0) return -1;
    return (this.#first + this.#count - this.#queued) % this.maxRecords;
  }

  /**
   * Mark the oldest queued record done (the caller has copied it out); its slot (valid until
   * the next push), or -1 when none is queued.
   */
  take(): number {
    const slot = this.peek();
    if (slot < 0) return -1;
    this.#queued--;
    this.#state[slot] = DONE;
    this.#reclaim();
    return slot;
  }

  /** Lend the oldest queued record out in place; its slot, or -1 when none is queued. */
  lend(): number {
    const slot = this.peek();
    if (slot < 0) return -1;
    this.#queued--;
    this.#lent++;
    this.#state[slot] = LENT;
    return slot;
  }

  /**
   * Hand back the lent record `slot` of generation `gen`; false (nothing changes) if that
   * record is not lent out — given back already, or never lent.
   */
  giveBack(slot: number, gen: number): boolean {
    if (
      !(slot >= 0 && slot < this.maxRecords) || this.#state[slot] !== LENT ||
      this.#gen[slot] !== gen || !this.#holds(slot)
    ) return false;
    this.#state[slot] = DONE;
    this.#lent--;
    this.#reclaim();
    return true;
  }

  /** True if `slot` is one of the records holding space. */
  #holds(slot: number): boolean {
    const k = (slot - this.#first + this.maxRecords) % this.maxRecords;
    return k < this.#count;
  }

  /** Free the done records at the front. */
  #reclaim(): void {
    const state = this.#state;
    while (this.#count > 0 && state[this.#first] === DONE) {
      this.#bytes -= this.#len[this.#first];
      this.#gen[this.#first] = 0;
      this.#first = (this.#first + 1) % this.maxRecords;
      this.#count--;
    }
    if (this.#count === 0) this.#tail = 0;
  }

  /** Drop every record, lent ones too (their generations stop matching). */
  clear(): void {
    this.#gen.fill(0);
    this.#first =
      this.#count =
      this.#queued =
      this.#lent =
      this.#bytes =
      this.#tail =
        0;
  }

  /**
   * Grow the storage to `capacity` bytes, keeping the records in order. Refused (false) while
   * any record is lent: its place would move under its borrower.
   */
  grow(capacity: number): boolean {
    if (this.#lent > 0) return false;
    if (capacity <= this.#data.length) return true;
    const old = this.#data;
    const data = new Uint8Array(capacity);
    let at = 0;
    for (let k = 0; k < this.#count; k++) {
      const slot = (this.#first + k) % this.maxRecords;
      const o = this.#off[slot];
      const n = this.#len[slot];
      data.set(old.subarray(o, o + n), at);
      this.#off[slot] = at;
      at += n > 0 ? n : 1;
    }
    this.#data = data;
    this.#tail = at;
    return true;
  }
}
