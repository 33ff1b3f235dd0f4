/**
 * Out-of-order bookkeeping for a TCP receiver: which byte ranges past the contiguous receive
 * point (`RCV.NXT`) have arrived, and in what order — the latter for SACK (RFC 2018).
 *
 * Offsets are byte counts relative to the contiguous point, never sequence numbers; the caller
 * converts (`offset = seqDiff(SEG.SEQ, RCV.NXT)`). The data itself lives elsewhere (e.g. stored
 * in place in the receive `ByteRing` of stack/byte_ring.ts with `writeAt`). A typical receive path:
 *
 * ```ts ignore
 * const off = seqDiff(segSeq, rcvNxt);                 // trimmed to the window by the caller
 * if (asm.add(off, segLen)) rx.writeAt(off, data, dataOff, segLen); // else: drop, ACK anyway
 * const n = asm.removeFront();                         // bytes now contiguous
 * rx.commit(n); rcvNxt = seqAdd(rcvNxt, n);
 * const blocks = asm.sackBlocks(sack, rcvNxt, 3);      // for the ACK's SACK option
 * ```
 *
 * Storage is typed arrays, allocated once by the first `add` (most connections never see
 * out-of-order data); after that `add`, `removeFront`, `shift` and `sackBlocks` never
 * allocate, and they never throw. Costs are O(rangeCount) per call (ranges are few: 4–32).
 *
 * @module
 */

/** The ranges of an assembler that never held one. */
const NO_RANGES = new Uint32Array(0);
const NO_STAMPS = new Float64Array(0);

/**
 * Tracks up to `maxRanges` disjoint byte ranges received beyond the contiguous point. Ranges are
 * kept sorted, merged when they overlap or touch, and stamped with the arrival order of the
 * newest segment they contain.
 *
 * @example
 * ```ts
 * import { Assembler } from "./assembler.ts";
 * const asm = new Assembler(4);
 * asm.add(100, 50); // [100,150) out of order
 * asm.add(0, 100);  // the hole is filled
 * asm.removeFront(); // 150: bytes now contiguous
 * asm.isEmpty; // true
 * ```
 */
export class Assembler {
  /**
   * Most disjoint ranges held that do not start at offset 0 (one range at offset 0, i.e. data
   * that is contiguous but not yet taken by {@link Assembler.removeFront}, is extra).
   */
  readonly maxRanges: number;
  /** Range starts (inclusive), ascending. One spare slot for a range at offset 0. */
  #starts: Uint32Array;
  /** Range ends (exclusive). */
  #ends: Uint32Array;
  /** Arrival stamp of the newest data in each range (larger = more recent). */
  #stamps: Float64Array;
  #count = 0;
  #clock = 0;
  #refused = 0;

  /**
   * An empty assembler holding at most `maxRanges` (integer ≥ 1) separate ranges.
   *
   * @throws {RangeError} if `maxRanges` is not a positive integer.
   */
  constructor(maxRanges: number) {
    if (!Number.isInteger(maxRanges) || maxRanges < 1) {
      throw new RangeError(`Assembler: maxRanges must be a positive integer, got ${maxRanges}`);
    }
    this.maxRanges = maxRanges;
    // Storage comes with the first out-of-order range: most connections never see one.
    this.#starts = NO_RANGES;
    this.#ends = NO_RANGES;
    this.#stamps = NO_STAMPS;
  }

  /** Number of disjoint ranges held. */
  get rangeCount(): number {
    return this.#count;
  }

  /** True when no out-of-order data is tracked. */
  get isEmpty(): boolean {
    return this.#count === 0;
  }

  /** How many {@link Assembler.add} calls were refused because `maxRanges` was reached. */
  get refused(): number {
    return this.#refused;
  }

  /** Total bytes covered by the ranges. */
  get bufferedBytes(): number {
    let sum = 0;
    for (let i = 0; i < this.#count; i++) sum += this.#ends[i] - this.#starts[i];
    return sum;
  }

  /** Start offset of range `i` (0 ≤ i < rangeCount, ascending order), or -1. */
  rangeStart(i: number): number {
    return i >= 0 && i < this.#count ? this.#starts[i] : -1;
  }

  /** End offset (exclusive) of range `i` (0 ≤ i < rangeCount, ascending order), or -1. */
  rangeEnd(i: number): number {
    return i >= 0 && i < this.#count ? this.#ends[i] : -1;
  }

  /**
   * Record that bytes `[offset, offset + len)` arrived. The part before offset 0 (already
   * received) is ignored. Overlapping and adjacent ranges are merged, and the resulting range
   * becomes the most recent one for SACK.
   *
   * A range starting at offset 0 is always accepted (it is contiguous: take it with
   * {@link Assembler.removeFront}). Any other range that touches no held range, when
   * `maxRanges` ranges past offset 0 are already held, is refused: nothing changes,
   * {@link Assembler.refused} counts it, and the caller drops the segment's data (the peer
   * retransmits it).
   *
   * @returns false when refused; true otherwise (including for empty input).
   */
  add(offset: number, len: number): boolean {
    if (!(len > 0)) return true;
    let start = offset;
    const end = offset + len;
    if (!(end > 0)) return true; // entirely old data
    if (start < 0) start = 0;
    if (this.#starts.length === 0) {
      this.#starts = new Uint32Array(this.maxRanges + 1);
      this.#ends = new Uint32Array(this.maxRanges + 1);
      this.#stamps = new Float64Array(this.maxRanges + 1);
    }
    const starts = this.#starts;
    const ends = this.#ends;
    const count = this.#count;
    // First range that overlaps or touches [start, end): the first whose end ≥ start.
    let i = 0;
    while (i < count && ends[i] < start) i++;
    // One past the last range that overlaps or touches: starts ≤ end.
    let j = i;
    while (j < count && starts[j] <= end) j++;
    const stamp = ++this.#clock;
    if (j === i) {
      // A range at offset 0 has its own spare slot, whether it exists or is the new one.
      const beyond = count > 0 && starts[0] === 0 ? count - 1 : count;
      if (start !== 0 && beyond >= this.maxRanges) {
        this.#clock--;
        this.#refused++;
        return false;
      }
      this.#move(i + 1, i, count - i);
      starts[i] = start;
      ends[i] = end;
      this.#stamps[i] = stamp;
      this.#count = count + 1;
      return true;
    }
    // Merge ranges i..j-1 and the new one into slot i.
    if (start < starts[i]) starts[i] = start;
    ends[i] = end > ends[j - 1] ? end : ends[j - 1];
    this.#stamps[i] = stamp;
    const merged = j - i - 1;
    if (merged > 0) {
      this.#move(i + 1, j, count - j);
      this.#count = count - merged;
    }
    return true;
  }

  /**
   * If a range starts at offset 0, remove it, move the contiguous point past it (all other
   * offsets drop by its length) and return its length; otherwise return 0. Call after each
   * {@link Assembler.add}: the result is how far `RCV.NXT` advances.
   */
  removeFront(): number {
    if (this.#count === 0 || this.#starts[0] !== 0) return 0;
    const n = this.#ends[0];
    const count = this.#count - 1;
    const starts = this.#starts;
    const ends = this.#ends;
    const stamps = this.#stamps;
    for (let i = 0; i < count; i++) {
      starts[i] = starts[i + 1] - n;
      ends[i] = ends[i + 1] - n;
      stamps[i] = stamps[i + 1];
    }
    this.#count = count;
    return n;
  }

  /**
   * The contiguous point advanced by `n` bytes that did not go through
   * {@link Assembler.add} (in-order data appended directly). Offsets drop by `n`; ranges now
   * wholly before 0 are forgotten and one straddling 0 is trimmed to start at 0 — call
   * {@link Assembler.removeFront} next to collect it.
   */
  shift(n: number): void {
    if (!(n > 0)) return;
    const starts = this.#starts;
    const ends = this.#ends;
    const stamps = this.#stamps;
    let w = 0;
    for (let r = 0; r < this.#count; r++) {
      const e = ends[r] - n;
      if (e <= 0) continue;
      const s = starts[r] - n;
      starts[w] = s > 0 ? s : 0;
      ends[w] = e;
      stamps[w] = stamps[r];
      w++;
    }
    this.#count = w;
  }

  /**
   * Write up to `maxBlocks` SACK blocks as `(left, right)` sequence-number pairs into
   * `out[0], out[1], out[2], …` (`right` is one past the last byte, RFC 2018 §3), where `base`
   * is the sequence number of offset 0 (`RCV.NXT`). Also limited by `out.length / 2`.
   *
   * RFC 2018 §4: the first block is the one holding the most recently received segment; the
   * rest follow most-recent-first, so blocks repeat across ACKs as the RFC asks. A range at
   * offset 0 is not reported (it is cumulatively acknowledgeable; remove it first). D-SACK
   * (RFC 2883) is the caller's: it puts its block in front and asks for the rest from block
   * `firstBlock` on (`out[2 * firstBlock]`).
   *
   * @returns the number of blocks written.
   */
  sackBlocks(out: Uint32Array, base: number, maxBlocks: number, firstBlock = 0): number {
    let limit = (out.length >> 1) - firstBlock;
    if (maxBlocks < limit) limit = maxBlocks;
    const starts = this.#starts;
    const ends = this.#ends;
    const stamps = this.#stamps;
    let prev = Infinity;
    let written = 0;
    while (written < limit) {
      let best = -1;
      let bestStamp = -1;
      for (let i = 0; i < this.#count; i++) {
        const st = stamps[i];
        if (st < prev && st > bestStamp && starts[i] !== 0) {
          best = i;
          bestStamp = st;
        }
      }
      if (best < 0) break;
      const k = 2 * (firstBlock + written);
      out[k] = (base + starts[best]) >>> 0;
      out[k + 1] = (base + ends[best]) >>> 0;
      prev = bestStamp;
      written++;
    }
    return written;
  }

  /**
   * Move `n` ranges from slot `from` to slot `to` (overlap-safe). A plain loop: for a handful
   * of elements it beats `copyWithin`, a runtime call.
   */
  #move(to: number, from: number, n: number): void {
    const starts = this.#starts;
    const ends = this.#ends;
    const stamps = this.#stamps;
    if (to < from) {
      for (let k = 0; k < n; k++) {
        starts[to + k] = starts[from + k];
        ends[to + k] = ends[from + k];
        stamps[to + k] = stamps[from + k];
      }
    } else {
      for (let k = n - 1; k >= 0; k--) {
        starts[to + k] = starts[from + k];
        ends[to + k] = ends[from + k];
        stamps[to + k] = stamps[from + k];
      }
    }
  }

  /** Forget every range (connection reset). The {@link Assembler.refused} count is kept. */
  clear(): void {
    this.#count = 0;
  }
}
