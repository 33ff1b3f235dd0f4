/**
 * Trains of frames for the fuzzer: a bounded FIFO of whole frames, and IPv4 fragmentation with
 * faults (order, loss, duplicates, overlaps) that fills it.
 *
 * @module
 */

import type { SeededRandom } from "../../core/random.ts";
import { ETH, ipv4HeaderChecksum, put16 } from "./frames.ts";

/** Bytes of each frame slot. */
export const SLOT_BYTES = 16384;

/** A bounded FIFO of whole frames (fragment trains), each in its own slot. */
export class FrameQueue {
  readonly #slots: Uint8Array[] = [];
  readonly #lens: Int32Array;
  #head = 0;
  #count = 0;

  /** Room for `capacity` frames. */
  constructor(readonly capacity: number) {
    for (let i = 0; i < capacity; i++) this.#slots.push(new Uint8Array(SLOT_BYTES));
    this.#lens = new Int32Array(capacity);
  }

  /** Frames waiting. */
  get length(): number {
    return this.#count;
  }

  /** A slot to fill for the next push, or null when full. */
  reserve(): Uint8Array | null {
    return this.#count < this.capacity
      ? this.#slots[(this.#head + this.#count) % this.capacity]
      : null;
  }

  /** Commit the reserved slot with `len` bytes. */
  commit(len: number): void {
    this.#lens[(this.#head + this.#count) % this.capacity] = len;
    this.#count++;
  }

  /** Copy the oldest frame into `out`; returns its length (-1 when empty). */
  shift(out: Uint8Array): number {
    if (this.#count === 0) return -1;
    const len = this.#lens[this.#head];
    out.set(this.#slots[this.#head].subarray(0, len));
    this.#head = (this.#head + 1) % this.capacity;
    this.#count--;
    return len;
  }

  /** Drop everything. */
  clear(): void {
    this.#head = 0;
    this.#count = 0;
  }
}

/**
 * Split the IPv4 datagram (Ethernet frame) in `src[0, len)` into fragments of the link's size
 * (sometimes smaller) — in order, reversed or shuffled, now and then one lost, duplicated,
 * overlapping or with a wrong more-fragments bit — queue them, and return the first (moved
 * into `out`). A datagram too short to split is copied as it is.
 */
export function fragmentInto(
  queue: FrameQueue,
  rng: SeededRandom,
  mtu: number,
  src: Uint8Array,
  len: number,
  out: Uint8Array = src,
): number {
  const hb = (src[ETH] & 15) * 4;
  const payload = len - ETH - hb;
  if (hb < 20 || payload <= 8) {
    if (out !== src) out.set(src.subarray(0, Math.min(len, out.length)));
    return Math.min(len, out.length);
  }
  let chunk = (Math.min(mtu, SLOT_BYTES - ETH) - hb) & ~7;
  if (rng.chance(0.3)) chunk = 8 * (1 + rng.nextInt(Math.max(1, chunk >>> 3)));
  const pieces: number[] = [];
  for (let at = 0; at < payload; at += chunk) pieces.push(at);
  const order = rng.nextInt(5);
  if (order === 1) pieces.reverse();
  else if (order === 2) {
    for (let i = pieces.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [pieces[i], pieces[j]] = [pieces[j], pieces[i]];
    }
  }
  const id = rng.nextInt(65536);
  for (const at of pieces) {
    if (rng.chance(0.03)) continue; // a lost fragment
    const copies = rng.chance(0.03) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const slot = queue.reserve();
      if (slot === null) break;
      const n = Math.min(chunk, payload - at);
      let offset = at;
      if (rng.chance(0.02)) offset = Math.max(0, at - 8); // an overlap
      slot.set(src.subarray(0, ETH + hb));
      slot.set(src.subarray(ETH + hb + at, ETH + hb + at + n), ETH + hb);
      const more = at + n < payload || rng.chance(0.02);
      const frag = (more ? 0x2000 : 0) | (offset >>> 3); // fragments never carry DF
      put16(slot, ETH + 2, hb + n);
      put16(slot, ETH + 4, id);
      put16(slot, ETH + 6, frag);
      ipv4HeaderChecksum(slot, ETH, hb);
      queue.commit(ETH + hb + n);
    }
  }
  const first = queue.shift(out);
  return first >= 0 ? first : 0;
}
