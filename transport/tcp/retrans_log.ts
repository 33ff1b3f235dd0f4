/**
 * Which detector sent each recent retransmission, so that a D-SACK (RFC 2883: the peer got
 * that data twice) can be laid at the door of the rule that resent it — RACK on an ACK, RACK
 * on its reordering timer, RACK after a retransmission's delivery, the tail loss probe, the recovery probe, the RTO, NewReno, a lowered MTU.
 *
 * A D-SACK mostly arrives after its segment left the scoreboard (the cumulative ACK passed
 * it), so a record's own flag cannot answer: the log keeps the last {@link RETRANS_LOG_SIZE}
 * retransmissions (start, end, reason) in a ring, allocated at a connection's first
 * retransmission and never again. A D-SACK is attributed to the newest logged retransmission
 * that holds its first byte; older ones have been overwritten (counted as unknown, as are
 * duplicates the network made of data never resent).
 *
 * @module
 */

import { seqGe, seqLt } from "./seq.ts";

/** Reason: none (never retransmitted, or not known). */
export const RX_NONE = 0;
/** Reason: RACK deemed it lost on an ACK (RFC 8985 §6.2 step 5). */
export const RX_RACK = 1;
/** Reason: RACK deemed it lost on its reordering timer (§6.3). */
export const RX_RACK_TIMER = 2;
/**
 * Reason: RACK deemed it lost while its newest delivery (RACK.xmit_ts) was that of a
 * retransmitted segment — on an ACK or on the timer.
 */
export const RX_RACK_AFTER_RETRANS = 3;
/** Reason: the tail loss probe resent the last segment (RFC 8985 §7.3). */
export const RX_TLP = 4;
/** Reason: the recovery probe (`loss_control.ts`) deemed it lost or resent it. */
export const RX_PROBE = 5;
/** Reason: the retransmission timeout (RFC 6298 §5.4). */
export const RX_RTO = 6;
/** Reason: NewReno without SACK (RFC 6582: the third duplicate ACK, a partial ACK). */
export const RX_RENO = 7;
/** Reason: the path MTU went down (resent in smaller segments). */
export const RX_MTU = 8;

/**
 * The TCP counter (a `TCP_COUNTERS` name) of the D-SACKs laid to each reason, indexed by
 * reason; {@link RX_NONE}'s is the D-SACKs no logged retransmission explains.
 */
export const DSACK_COUNTER_BY_REASON = [
  "TCPDSACKUnknown",
  "TCPDSACKRack",
  "TCPDSACKRackTimer",
  "TCPDSACKRackAfterRetrans",
  "TCPDSACKLossProbe",
  "TCPDSACKRetransProbe",
  "TCPDSACKRto",
  "TCPDSACKReno",
  "TCPDSACKMtu",
] as const;

/** Retransmissions remembered per connection. */
export const RETRANS_LOG_SIZE = 64;

const NO_U32 = new Uint32Array(0);

/**
 * The last {@link RETRANS_LOG_SIZE} retransmissions of one sender.
 *
 * @example
 * ```ts
 * const log = new RetransLog();
 * log.add(new Uint32Array([1000]), new Uint32Array([2000]), 0, RX_RACK); // RACK deemed it lost
 * log.reasonOf(new Uint32Array([1500, 2000]), 0); // RX_RACK
 * ```
 */
export class RetransLog {
  /** Entry k: start at [3k], end at [3k + 1], reason at [3k + 2]. */
  #e: Uint32Array = NO_U32;
  /** Next slot to write. */
  #next = 0;
  /** Slots written (at most the size). */
  #n = 0;

  /** Entries held. */
  get size(): number {
    return this.#n;
  }

  /**
   * A retransmission of `[starts[p], ends[p])` for `reason`. The edges are read from the
   * caller's arrays, not passed: V8 passes a sequence number at or above 2**30 to a call it
   * does not inline as a new heap number.
   */
  add(starts: Uint32Array, ends: Uint32Array, p: number, reason: number): void {
    if (this.#e.length === 0) this.#e = new Uint32Array(3 * RETRANS_LOG_SIZE);
    const k = 3 * this.#next;
    const e = this.#e;
    e[k] = starts[p];
    e[k + 1] = ends[p];
    e[k + 2] = reason;
    this.#next = this.#next + 1 === RETRANS_LOG_SIZE ? 0 : this.#next + 1;
    if (this.#n < RETRANS_LOG_SIZE) this.#n++;
  }

  /**
   * The reason of the newest logged retransmission holding the first byte of block `k` of
   * `blocks` (left and right edges in pairs), or {@link RX_NONE}.
   */
  reasonOf(blocks: Uint32Array, k: number): number {
    const left = blocks[2 * k];
    const e = this.#e;
    let s = this.#next;
    for (let c = 0; c < this.#n; c++) {
      s = s === 0 ? RETRANS_LOG_SIZE - 1 : s - 1;
      const b = 3 * s;
      if (seqGe(left, e[b]) && seqLt(left, e[b + 1])) return e[b + 2];
    }
    return RX_NONE;
  }

  /** Forget everything (a new connection); the storage stays. */
  clear(): void {
    this.#next = 0;
    this.#n = 0;
  }
}
