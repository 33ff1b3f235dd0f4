/**
 * Which detector sent each recent retransmission, so that a D-SACK (RFC 2883: the peer got
 * that data twice) can be laid at the door of the rule that resent it — RACK on an ACK, RACK
 * on its reordering timer, RACK after a retransmission's delivery, the tail loss probe, the recovery probe, the RTO, NewReno, a lowered MTU.
 *
 * A D-SACK mostly arrives after its segment left the scoreboard (the cumulative ACK passed
 * it), so a record's own flag cannot answer: the log keeps the recent retransmissions (start,
 * end, reason, send time, how long after it the data was first delivered, and the reordering
 * window RACK's marks allowed when it went out, for widening it after a D-SACK: `rack.ts`).
 * The ring is made at a connection's first retransmission with {@link RETRANS_LOG_SIZE} entries
 * and doubles, up to {@link RETRANS_LOG_MAX}, when the entry it would overwrite is younger than
 * {@link RetransLog.horizonMs} (a D-SACK may still come for it): it holds a burst's
 * retransmissions — a window of them — while a connection that retransmits now and then keeps
 * the first 64. At the bound the oldest entry is overwritten anyway, counted in
 * {@link RetransLog.overruns}. A D-SACK is attributed to the newest logged retransmission that
 * holds its first byte; overwritten ones count as unknown, as do duplicates the network made
 * of data never resent.
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
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

/** Entries a log is made with (at a connection's first retransmission). */
export const RETRANS_LOG_SIZE = 64;
/**
 * Entries a log grows to at most: a window's retransmissions — BBR keeps ~750 segments in
 * flight on the veth rig, and a cascade can resend most of them within a round trip. 28 bytes
 * an entry: 112 KiB at the bound, against ~350 KiB for a scoreboard at its default bound.
 */
export const RETRANS_LOG_MAX = 4096;
/**
 * Serial numbers of entries wrap at 2^31; every ring size divides it, so an entry's slot is its
 * serial's distance from the lap's origin modulo the size, across the wrap too.
 */
const SERIAL_MASK = 0x7fffffff;
/** Default {@link RetransLog.horizonMs} before the sender sets one. */
const DEFAULT_HORIZON_MS = 1000;

const NO_U32 = new Uint32Array(0);
const NO_F64 = new Float64Array(0);
const NO_F32 = new Float32Array(0);

/**
 * The recent retransmissions of one sender.
 *
 * @example
 * ```ts
 * const log = new RetransLog();
 * const sent = new Float64Array([5]); // ms
 * log.add(new Uint32Array([1000]), new Uint32Array([2000]), sent, 0, RX_RACK); // RACK deemed it lost
 * log.reasonOf(new Uint32Array([1500, 2000]), 0); // RX_RACK
 * ```
 */
export class RetransLog {
  /** Entry k: start at [3k], end at [3k + 1], reason at [3k + 2]. */
  #e: Uint32Array = NO_U32;
  /** Entry k's send time (ms). */
  #at: Float64Array = NO_F64;
  /** Entry k: ms from its send time to the first delivery of its first byte after it; -1 before. */
  #late: Float32Array = NO_F32;
  /** Entry k: {@link RetransLog.windowMs} when it was sent. */
  #wnd: Float32Array = NO_F32;
  /** Entries the ring has room for. */
  #cap = 0;
  /** Next slot to write. */
  #next = 0;
  /** Serial of the next entry (entries are numbered modulo 2^31 as added). */
  #added = 0;
  /** Serial of the entry at slot 0 in the ring's current lap (set by a resize and a clear). */
  #origin = 0;
  /** Slots written (at most the capacity). */
  #n = 0;
  /**
   * How long (ms) after a retransmission a D-SACK may still report it: the ring grows rather
   * than overwrite an entry younger than this. The sender sets it from its RTT.
   */
  horizonMs = DOUBLE_ZERO;
  /**
   * RACK's reordering window (ms) at its last loss detection, set by the sender: logged with
   * each retransmission.
   */
  windowMs = DOUBLE_ZERO;
  /**
   * Entries younger than {@link RetransLog.horizonMs} overwritten at {@link RETRANS_LOG_MAX}
   * since the owner last took the count (the loss control adds it to TCPRetransLogOverrun and
   * zeroes it).
   */
  overruns = 0;
  /**
   * Set by {@link RetransLog.reasonOf}: the entry it found was first delivered this many ms
   * after it was sent, or -1 (not found, or no delivery seen).
   */
  foundLateMs = DOUBLE_ZERO;
  /** Set by {@link RetransLog.reasonOf}: the entry's {@link RetransLog.windowMs}, or 0. */
  foundWindowMs = DOUBLE_ZERO;

  // The four times above hold fractional ms: doubles from the first log made (DOUBLE_ZERO,
  // then their start values), or the first fraction stored changes the log's map in the
  // middle of a run and drops the per-ACK code built on it (bench/README.md, `deopt11g`).
  constructor() {
    this.horizonMs = DEFAULT_HORIZON_MS;
    this.windowMs = this.foundWindowMs = 0; // +0 to readers; the fields stay doubles
    this.foundLateMs = -1;
  }

  /** Entries held. */
  get size(): number {
    return this.#n;
  }

  /** Entries the ring has room for now (0 before the first retransmission). */
  get capacity(): number {
    return this.#cap;
  }

  /**
   * A retransmission of `[starts[p], ends[p])` sent at `sent[p]` for `reason`. The edges and
   * the time are read from the caller's arrays, not passed: V8 passes a sequence number at or
   * above 2**30, or a fractional time, to a call it does not inline as a new heap number.
   * Returns the entry's serial number (below 2^31), for {@link RetransLog.delivered}.
   */
  add(
    starts: Uint32Array,
    ends: Uint32Array,
    sent: Float64Array,
    p: number,
    reason: number,
  ): number {
    const now = sent[p];
    if (this.#cap === 0) this.#resize(RETRANS_LOG_SIZE);
    else if (this.#n === this.#cap && now - this.#at[this.#next] < this.horizonMs) {
      // The oldest entry may still be reported: grow, or count the loss at the bound.
      if (this.#cap < RETRANS_LOG_MAX) this.#resize(2 * this.#cap);
      else this.overruns++;
    }
    const s = this.#next;
    const k = 3 * s;
    const e = this.#e;
    e[k] = starts[p];
    e[k + 1] = ends[p];
    e[k + 2] = reason;
    this.#at[s] = now;
    this.#late[s] = -1;
    this.#wnd[s] = this.windowMs;
    this.#next = s + 1 === this.#cap ? 0 : s + 1;
    if (this.#n < this.#cap) this.#n++;
    const serial = this.#added;
    this.#added = (serial + 1) & SERIAL_MASK;
    return serial;
  }

  /**
   * The data at `starts[p]`, last retransmitted as entry `serial` (what {@link RetransLog.add}
   * returned), was delivered (SACKed or cumulatively acknowledged) at `at.now` by its original
   * transmission: the entry notes how long after the retransmission that was, unless an
   * earlier delivery did. O(1): no search (a go-back-N resend's cumulative ACK delivers a
   * whole log's worth of records at once). Nothing when the entry was overwritten.
   */
  delivered(serial: number, starts: Uint32Array, p: number, at: { readonly now: number }): void {
    const n = this.#n;
    if (serial < 0 || n === 0) return;
    const age = (this.#added - serial) & SERIAL_MASK; // 1 for the newest entry
    if (age === 0 || age > n) return;
    const s = ((serial - this.#origin) & SERIAL_MASK) % this.#cap;
    const e = this.#e;
    const seq = starts[p];
    if (!seqGe(seq, e[3 * s]) || !seqLt(seq, e[3 * s + 1])) return;
    if (this.#late[s] < 0) {
      const d = at.now - this.#at[s];
      this.#late[s] = d > 0 ? d : 0;
    }
  }

  /**
   * The reason of the newest logged retransmission holding the first byte of block `k` of
   * `blocks` (left and right edges in pairs), or {@link RX_NONE}; sets
   * {@link RetransLog.foundLateMs}.
   */
  reasonOf(blocks: Uint32Array, k: number): number {
    const s = this.#find(blocks[2 * k]);
    if (s < 0) {
      this.foundLateMs = -1;
      this.foundWindowMs = 0;
      return RX_NONE;
    }
    this.foundLateMs = this.#late[s];
    this.foundWindowMs = this.#wnd[s];
    return this.#e[3 * s + 2];
  }

  /** Slot of the newest entry holding `seq`, or -1. */
  #find(seq: number): number {
    const e = this.#e;
    const cap = this.#cap;
    let s = this.#next;
    for (let c = 0; c < this.#n; c++) {
      s = s === 0 ? cap - 1 : s - 1;
      const b = 3 * s;
      if (seqGe(seq, e[b]) && seqLt(seq, e[b + 1])) return s;
    }
    return -1;
  }

  /** Room for `cap` entries, the ones held kept in order (oldest first, at slot 0). */
  #resize(cap: number): void {
    const e = new Uint32Array(3 * cap);
    const at = new Float64Array(cap);
    const late = new Float32Array(cap);
    const wnd = new Float32Array(cap);
    const n = this.#n;
    let s = this.#n < this.#cap ? 0 : this.#next; // the oldest
    for (let c = 0; c < n; c++) {
      e[3 * c] = this.#e[3 * s];
      e[3 * c + 1] = this.#e[3 * s + 1];
      e[3 * c + 2] = this.#e[3 * s + 2];
      at[c] = this.#at[s];
      late[c] = this.#late[s];
      wnd[c] = this.#wnd[s];
      s = s + 1 === this.#cap ? 0 : s + 1;
    }
    this.#e = e;
    this.#at = at;
    this.#late = late;
    this.#wnd = wnd;
    this.#cap = cap;
    this.#next = n === cap ? 0 : n;
    this.#origin = (this.#added - n) & SERIAL_MASK;
  }

  /** Forget everything (a new connection); the storage stays. */
  clear(): void {
    this.#next = 0;
    this.#n = 0;
    this.#origin = this.#added;
    this.foundLateMs = -1;
  }
}
