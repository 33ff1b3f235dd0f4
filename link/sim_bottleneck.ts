/**
 * The bottleneck of one {@link SimWire} direction: the queue in front of a link of limited
 * rate (drop-tail, bounded in frames and bytes), ECN marking at that queue (RFC 3168 §5, a
 * simple step threshold as in DCTCP-style AQMs), burst loss (a loss that takes the next
 * `burstLossFrames` frames with it — like a TSO super-segment dropped whole) and scheduled
 * drops (the next N frames, for tests that need a loss at an exact place).
 *
 * The queue holds what the sender put on the wire and the link has not serialized yet: a
 * FIFO of departure times. A frame is queued when it arrives behind others; it leaves the
 * queue when its last bit is on the link. Queueing delay, standing queue and drops all come
 * out of it, so a TCP sender meets a bottleneck the way it meets one on a real path.
 *
 * The FIFO's storage grows with the deepest queue seen (bounded by the queue limit), never
 * per frame once the run is in its steady state.
 *
 * @module
 */

import type { SeededRandom } from "../core/random.ts";

/** EtherType of IPv4. */
const ETHERTYPE_IPV4 = 0x0800;
/** Offset of the IPv4 header in an Ethernet frame (no VLAN tag). */
const L3 = 14;
/** IP ECN field values (RFC 3168 §5). */
const ECN_NOT_ECT = 0;
const ECN_CE = 3;

/** What a frame hook returns to drop the frame. */
export const SIM_DROP: number = -1;

/**
 * A test's look at each frame a direction sends (`frame[0, len)`, Ethernet header first):
 * {@link SIM_DROP} drops it, a positive number holds it back that many ms, 0 lets it pass.
 */
export type SimFrameHook = (frame: Uint8Array, len: number) => number;

/** {@link SimBottleneck.lose}: the frame goes on. */
export const LINK_OK = 0;
/** {@link SimBottleneck.lose}: a scheduled drop took it. */
export const LINK_SCHEDULED_DROP = 1;
/** {@link SimBottleneck.lose}: a loss burst took it. */
export const LINK_BURST_LOSS = 2;

/**
 * Set the ECN field of the IPv4 packet in `frame[0, len)` to CE when it is ECN-capable,
 * fixing the header checksum incrementally (RFC 1624 eqn. 3). Returns true when it marked.
 *
 * @example
 * ```ts ignore
 * if (markCe(slot.buf, slot.len)) stats.ecnMarks++;
 * ```
 */
export function markCe(frame: Uint8Array, len: number): boolean {
  if (len < L3 + 20) return false;
  if (((frame[12] << 8) | frame[13]) !== ETHERTYPE_IPV4) return false;
  const tos = frame[L3 + 1];
  const ecn = tos & 3;
  if (ecn === ECN_NOT_ECT || ecn === ECN_CE) return false;
  const oldWord = (frame[L3] << 8) | tos;
  const newTos = tos | ECN_CE;
  const newWord = (frame[L3] << 8) | newTos;
  frame[L3 + 1] = newTos;
  // RFC 1624: HC' = ~(~HC + ~m + m').
  let sum = (~((frame[L3 + 10] << 8) | frame[L3 + 11]) & 0xffff) + (~oldWord & 0xffff) + newWord;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const hc = ~sum & 0xffff;
  frame[L3 + 10] = hc >>> 8;
  frame[L3 + 11] = hc & 0xff;
  return true;
}

/**
 * One direction's bottleneck queue and loss state.
 *
 * @example
 * ```ts
 * const q = new SimBottleneck();
 * q.admit(0, 1.2, 1514, 100, 0); // true: queued, leaves at 1.2 ms
 * q.frames(1);                   // 1
 * q.frames(1.2);                 // 0
 * ```
 */
export class SimBottleneck {
  /** Frames to drop before any other decision (scheduled drops). */
  dropCount = 0;
  /** Frames to let through before the scheduled drops start. */
  dropSkip = 0;
  /** Frames still to lose in the current burst. */
  burstLeft = 0;
  /** The test's frame hook, or null. */
  hook: SimFrameHook | null = null;
  #depart = new Float64Array(16);
  #len = new Uint32Array(16);
  #head = 0;
  #count = 0;
  #bytes = 0;

  /**
   * Is the next frame lost on the link? Scheduled drops first, then loss bursts: a burst
   * starts with probability `burstRate` (one random draw per frame, only when it is set, so
   * other runs keep their random streams) and takes `burstFrames` frames.
   */
  lose(burstRate: number, burstFrames: number, rng: SeededRandom): number {
    if (this.dropCount > 0) {
      if (this.dropSkip > 0) this.dropSkip--;
      else {
        this.dropCount--;
        return LINK_SCHEDULED_DROP;
      }
    }
    if (this.burstLeft > 0) {
      this.burstLeft--;
      return LINK_BURST_LOSS;
    }
    if (burstRate > 0 && rng.nextFloat() < burstRate) {
      this.burstLeft = burstFrames - 1;
      return LINK_BURST_LOSS;
    }
    return LINK_OK;
  }

  /** Frames in the queue at `nowMs` (not yet serialized). */
  frames(nowMs: number): number {
    this.#expire(nowMs);
    return this.#count;
  }

  /** Bytes in the queue at `nowMs`. */
  bytes(nowMs: number): number {
    this.#expire(nowMs);
    return this.#bytes;
  }

  /**
   * A frame of `len` bytes arrives at `nowMs` and would leave at `departMs`: false when the
   * queue (bounded by `maxFrames`, `maxBytes`; 0 = unbounded) has no room — drop it.
   */
  admit(
    nowMs: number,
    departMs: number,
    len: number,
    maxFrames: number,
    maxBytes: number,
  ): boolean {
    this.#expire(nowMs);
    if (maxFrames > 0 && this.#count >= maxFrames) return false;
    if (maxBytes > 0 && this.#bytes + len > maxBytes) return false;
    if (this.#count === this.#depart.length) this.#grow();
    const cap = this.#depart.length;
    const i = (this.#head + this.#count) % cap;
    this.#depart[i] = departMs;
    this.#len[i] = len;
    this.#count++;
    this.#bytes += len;
    return true;
  }

  /** Forget the queue (a partition took what was on the wire). */
  clear(): void {
    this.#head = 0;
    this.#count = 0;
    this.#bytes = 0;
  }

  #expire(nowMs: number): void {
    const cap = this.#depart.length;
    while (this.#count > 0 && this.#depart[this.#head] <= nowMs) {
      this.#bytes -= this.#len[this.#head];
      this.#head = (this.#head + 1) % cap;
      this.#count--;
    }
  }

  /** Double the FIFO (only when the queue is deeper than ever before). */
  #grow(): void {
    const cap = this.#depart.length;
    const depart = new Float64Array(cap * 2);
    const len = new Uint32Array(cap * 2);
    for (let k = 0; k < this.#count; k++) {
      const i = (this.#head + k) % cap;
      depart[k] = this.#depart[i];
      len[k] = this.#len[i];
    }
    this.#depart = depart;
    this.#len = len;
    this.#head = 0;
  }
}
