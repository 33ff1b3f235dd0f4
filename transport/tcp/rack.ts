/**
 * RACK-TLP loss detection (RFC 8985): time-based loss detection over the scoreboard, and the
 * tail loss probe.
 *
 * RACK (§6): a segment is lost when a segment sent at least a reordering window later has
 * been delivered — precisely, when `RACK.xmit_ts ≥ Segment.xmit_ts` (the most recently sent
 * delivered segment was sent after it) and `Segment.xmit_ts + RACK.rtt + RACK.reo_wnd ≤ now`.
 * A segment not yet old enough arms the reordering timer instead. Because it compares send
 * times, a lost retransmission is detected like any other loss.
 *
 * The reordering window (§6.2 step 4): zero until reordering is seen — during recovery, or
 * once DupThresh segments are SACKed (the classic rule, so recovery starts as fast as with
 * three duplicate ACKs) — otherwise `min(reo_wnd_mult · min_RTT / 4, SRTT)`, where each
 * round of D-SACKs (a sign that retransmissions were spurious) widens it by one step and 16
 * recoveries without one shrink it back. A D-SACK alone does not count as reordering seen
 * (step 3 decides that; a D-SACK of data RACK resent does: {@link RackTlp.onReorderedResend}).
 *
 * TLP (§7): with data in flight and no loss known, a probe timeout (PTO, about two RTTs)
 * replaces the RTO; when it fires the sender sends one new segment, or retransmits the last
 * one, so that an ACK — with SACK blocks — comes back and RACK or fast recovery can repair a
 * tail loss without a timeout. The probe's fate decides whether the episode needs a window
 * reduction (§7.4).
 *
 * All state is numbers; nothing is allocated.
 *
 * @module
 */

import { RX_NONE, RX_RACK_AFTER_RETRANS } from "./retrans_log.ts";
import { SB_EVER_RETRANS, SB_LOST, SB_RETRANS, SB_SACKED, type Scoreboard } from "./scoreboard.ts";
import { seqGe, seqGt } from "./seq.ts";
import { WindowedFilter } from "./windowed_filter.ts";
import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";

/** DupThresh (RFC 5681 §2, RFC 6675): segments SACKed above a hole that mean loss. */
export const DUP_THRESH = 3;
/** §6.2: D-SACK rounds a widened reordering window persists for. */
const REO_WND_PERSIST = 16;
/**
 * Bound on the reordering window multiplier. RFC 8985 §6.2 bounds the window by SRTT only;
 * Linux's multiplier is a u8 (`reo_wnd_steps`, at most 255), which holds the window to 64
 * min_RTTs — on the veth rig under BBR (min_RTT 17 µs, SRTT 2.1 ms) to 1.1 ms, short of the
 * 0.1–2.5 ms by which RACK's resent segments' originals came late. This bound only keeps the
 * number finite: SRTT is the window's bound.
 */
const MAX_REO_WND_MULT = 1 << 16;
/** §7.2 WCDelAckT: worst-case delayed ACK of a lone segment. */
export const TLP_WORST_CASE_DELACK_MS = 200;
/** Linux TCP_TIMEOUT_MIN: added to 2·SRTT when more than one segment is in flight. */
export const TLP_MIN_EXTRA_MS = 2;
/** §7.2: PTO before any RTT sample. */
export const TLP_NO_RTT_PTO_MS = 1000;
/** Window of the min-RTT filter (ms). */
const MIN_RTT_WINDOW_MS = 300_000;

/**
 * The min-RTT filter of every connection before its first RTT sample: empty, shared, never
 * written (each connection builds its own at its first sample — an idle connection keeps no
 * filter object and none of its fields' heap numbers).
 */
const NO_MIN_RTT = new WindowedFilter("min", MIN_RTT_WINDOW_MS);

/**
 * The two sequence numbers RACK-TLP keeps only after rare events (a tail loss probe, a
 * D-SACK): a record of their own, built at the first such event. Its fields are doubles from
 * the first record made (DOUBLE_ZERO): a sequence number at or above 2**30 stored into a field
 * that had held small integers changed the RackTlp's map at the first probe or D-SACK, in the
 * middle of a run, and dropped the optimised code of 8–11 per-ACK functions each time
 * (bench/README.md, `deopt11g`). A connection that never probes shares {@link NO_SEQ_MARKS}.
 */
class RackSeqMarks {
  /** TLP.end_seq: SND.NXT when the probe was sent. */
  tlpEndSeq = DOUBLE_ZERO;
  /** RACK.dsack_round: SND.NXT when the last widening D-SACK came. */
  dsackRound = DOUBLE_ZERO;

  constructor() {
    this.tlpEndSeq = this.dsackRound = 0; // +0 to readers; the fields stay doubles
  }
}

/** The marks of a connection that has sent no probe and had no D-SACK: read, never written. */
const NO_SEQ_MARKS = new RackSeqMarks();

// RackTlp's `#bits`: six booleans, RACK.reo_wnd_persist (0…16) and RACK.reo_wnd_mult
// (1…2^16) in one small integer — 56 bytes less per connection than eight fields, which pays
// for `xmitMs`'s heap number (bench/README.md, `deopt11l`).
const B_XMIT_RETRANS = 1;
const B_HAS_DELIVERY = 2;
const B_REORDERING_SEEN = 4;
const B_DSACK_ROUND_ACTIVE = 8;
const B_TLP_ACTIVE = 16;
const B_TLP_IS_RETRANS = 32;
const PERSIST_SHIFT = 6;
const PERSIST_MASK = 31;
const MULT_SHIFT = 11; // 11 + 17 bits: below 2^30

/** {@link RackTlp.newlyLostBytes}: one count for the process (one thread, read after the call). */
const NEWLY_LOST = new Int32Array(1);

/** TLP episode outcome of an ACK ({@link RackTlp.tlpAck}). */
export const TLP_NONE = 0;
/** The probe repaired a loss: reduce the window once (§7.4.2). */
export const TLP_LOSS = 1;

/** The sender's SND.UNA and SND.MAX, as {@link RackTlp.onAck} reads them. */
export interface SendSequence {
  /** SND.UNA. */
  readonly sndUna: number;
  /** SND.MAX. */
  readonly sndMax: number;
}

/**
 * The times {@link RackTlp.detectLoss} reads, as fields of the caller's object (the loss
 * control): a fractional time passed as a number to a call V8 does not inline is a new heap
 * number per call.
 */
export interface RackTimes {
  /** The time (ms) of the ACK or timer being handled. */
  readonly eventMs: number;
  /** Its RTT estimate: the smoothed RTT (ms), read from the field. */
  readonly rtt: { readonly srttMs: number };
}

/**
 * RACK and TLP state of one sender.
 *
 * @example
 * ```ts ignore
 * rack.onAck(sb, dsack, sender); // at the time sb.beginAck took
 * const wait = rack.detectLoss(sb, { eventMs: now, rtt }, inRecovery, mss, RX_RACK);
 * if (rack.newlyLostBytes > 0) enterRecovery();
 * else if (wait > 0) armReorderTimer(now + wait);
 * ```
 */
export class RackTlp {
  /**
   * RACK.xmit_ts: send time of the most recently sent delivered segment. A double from the
   * first object (DOUBLE_ZERO, then +0 in the constructor): in ms it took its first fractional
   * value at a sender's first ACK, a new map for code optimised on another connection's.
   */
  xmitMs: number = DOUBLE_ZERO;
  /**
   * RACK.end_seq: its end, an int32 (the scoreboard's `ackRackEndSeq`; compare it with
   * `seq.ts`, which gives the same for a uint32 and its int32): never a double past 2^31.
   */
  endSeq = 0;
  /**
   * What the last {@link RackTlp.detectLoss} returned, in whole µs rounded up (an int32, a
   * small integer: no box per connection): the time until the next segment may be deemed lost,
   * or 0. The caller reads it here: a fractional time returned from a call V8 does not inline
   * is a new heap number per ACK ("sack33").
   */
  reoWaitUs = 0;
  /** RACK.rtt in whole µs, an int32 (≤ ~35 min): never a new map, never a box. */
  #rttUs = 0;
  /** The booleans, RACK.reo_wnd_persist and RACK.reo_wnd_mult in one small integer (`B_*`). */
  #bits = 1 << MULT_SHIFT;
  /** The send time starts as a double holding -0 and is set to +0 here (mutable from the first). */
  constructor() {
    this.xmitMs = 0;
  }

  /** RACK.rtt: its RTT (ms). */
  get rttMs(): number {
    return this.#rttUs / 1000;
  }
  /** That segment had been retransmitted (its delivery may have been the original's). */
  get xmitRetrans(): boolean {
    return (this.#bits & B_XMIT_RETRANS) !== 0;
  }
  set xmitRetrans(v: boolean) {
    this.#bits = v ? this.#bits | B_XMIT_RETRANS : this.#bits & ~B_XMIT_RETRANS;
  }
  /** A segment was delivered since the start (RACK.xmit_ts is meaningful). */
  get hasDelivery(): boolean {
    return (this.#bits & B_HAS_DELIVERY) !== 0;
  }
  set hasDelivery(v: boolean) {
    this.#bits = v ? this.#bits | B_HAS_DELIVERY : this.#bits & ~B_HAS_DELIVERY;
  }
  /** RACK.reordering_seen. */
  get reorderingSeen(): boolean {
    return (this.#bits & B_REORDERING_SEEN) !== 0;
  }
  set reorderingSeen(v: boolean) {
    this.#bits = v ? this.#bits | B_REORDERING_SEEN : this.#bits & ~B_REORDERING_SEEN;
  }
  /** RACK.reo_wnd_mult (1 … {@link MAX_REO_WND_MULT}). */
  get reoWndMult(): number {
    return this.#bits >>> MULT_SHIFT;
  }
  set reoWndMult(v: number) {
    this.#bits = (this.#bits & ((1 << MULT_SHIFT) - 1)) | (v << MULT_SHIFT);
  }
  /** RACK.reo_wnd_persist (0 … 16). */
  get reoWndPersist(): number {
    return (this.#bits >>> PERSIST_SHIFT) & PERSIST_MASK;
  }
  set reoWndPersist(v: number) {
    this.#bits = (this.#bits & ~(PERSIST_MASK << PERSIST_SHIFT)) | (v << PERSIST_SHIFT);
  }
  /** RACK.dsack_round is set (`dsackRound` valid). */
  get dsackRoundActive(): boolean {
    return (this.#bits & B_DSACK_ROUND_ACTIVE) !== 0;
  }
  set dsackRoundActive(v: boolean) {
    this.#bits = v ? this.#bits | B_DSACK_ROUND_ACTIVE : this.#bits & ~B_DSACK_ROUND_ACTIVE;
  }
  /** RACK.dsack_round: SND.NXT when the last widening D-SACK came (valid with `dsackRoundActive`). */
  get dsackRound(): number {
    return this.#marks.dsackRound;
  }
  #marks: RackSeqMarks = NO_SEQ_MARKS;
  /** ACKs that showed reordering (Linux tcpi_reord_seen). */
  reorderEvents = 0;
  /**
   * Bytes the last {@link RackTlp.detectLoss} marked lost (of any connection: one record for
   * the process, read after the call, as the ACK's own records are).
   */
  get newlyLostBytes(): number {
    return NEWLY_LOST[0];
  }
  /** RACK.min_RTT (ms), windowed (a shared empty filter until the first sample: read only). */
  get minRtt(): WindowedFilter {
    return this.#minRtt;
  }
  #minRtt: WindowedFilter = NO_MIN_RTT;

  /** A TLP probe is outstanding (TLP.end_seq is set). */
  get tlpActive(): boolean {
    return (this.#bits & B_TLP_ACTIVE) !== 0;
  }
  set tlpActive(v: boolean) {
    this.#bits = v ? this.#bits | B_TLP_ACTIVE : this.#bits & ~B_TLP_ACTIVE;
  }
  /** TLP.end_seq: SND.NXT when the probe was sent (valid with `tlpActive`). */
  get tlpEndSeq(): number {
    return this.#marks.tlpEndSeq;
  }
  /** TLP.is_retrans: the probe was a retransmission. */
  get tlpIsRetrans(): boolean {
    return (this.#bits & B_TLP_IS_RETRANS) !== 0;
  }
  set tlpIsRetrans(v: boolean) {
    this.#bits = v ? this.#bits | B_TLP_IS_RETRANS : this.#bits & ~B_TLP_IS_RETRANS;
  }

  /** Start over (a new connection). */
  reset(): void {
    this.#bits = 1 << MULT_SHIFT; // no delivery, no reordering, mult 1, no probe
    if (this.#minRtt !== NO_MIN_RTT) this.#minRtt.clear();
  }

  /** RACK.min_RTT in ms (0 before any sample). */
  get minRttMs(): number {
    return this.#minRtt.best;
  }

  /**
   * §6.2 steps 1–4 for an ACK the scoreboard processed (its `ack*` fields): min-RTT, the
   * most recent delivery, reordering, and the reordering window's D-SACK adaptation
   * (`dsack`: the ACK carried a D-SACK; `snd`: SND.UNA and SND.MAX after it, read from the
   * sender's fields rather than passed as numbers, which V8 would box at or above 2**30; the
   * time is the ACK's, `sb.ackResults.now`, for the same reason).
   */
  onAck(sb: Scoreboard, dsack: boolean, snd: SendSequence): void {
    const a = sb.ackResults; // fields, not getters: no boxed sequence numbers or times
    const nowMs = a.now;
    // The sample and its time from the ACK record's fields, not passed: fractional numbers
    // crossing a call V8 does not inline are new heap numbers per ACK.
    if (a.ackRttNewestMs >= 0) {
      let f = this.#minRtt;
      // Once per connection, at its first RTT sample (never on an idle connection).
      if (f === NO_MIN_RTT) f = this.#minRtt = new WindowedFilter("min", MIN_RTT_WINDOW_MS);
      f.updateFrom(a);
    }
    if (a.ackRackValid) {
      const x = a.ackRackXmitMs;
      if (
        !this.hasDelivery || x > this.xmitMs ||
        (x === this.xmitMs && seqGt(a.ackRackEndSeq, this.endSeq))
      ) {
        this.hasDelivery = true;
        this.xmitMs = x;
        this.endSeq = a.ackRackEndSeq;
        this.xmitRetrans = a.ackRackRetrans;
      }
      // RACK.rtt follows the most recent delivery (also one with the same send time).
      const rtt = nowMs - x;
      if (x >= this.xmitMs) this.#rttUs = rtt > 0 ? (rtt * 1000 + 0.5) | 0 : 0;
    }
    if (a.ackReordered) {
      this.reorderingSeen = true;
      this.reorderEvents++;
    }
    if (this.dsackRoundActive && seqGe(snd.sndUna, this.#marks.dsackRound)) {
      this.dsackRoundActive = false;
    }
    if (dsack && !this.dsackRoundActive) {
      this.dsackRoundActive = true;
      this.#ownMarks().dsackRound = snd.sndMax;
      if (this.reoWndMult < MAX_REO_WND_MULT) this.reoWndMult++;
      this.reoWndPersist = REO_WND_PERSIST;
      // Not RACK.reordering_seen: §6.2 step 4 widens the window on a D-SACK, step 3 alone
      // says reordering was seen (as Linux's `tcp_rack_update_reo_wnd` leaves `reord_seen`).
      // A copy the network made or a spurious probe or RTO resend is no reordering; marking it
      // so kept a window (min_RTT/4 per step, up to SRTT) before every later resend — also in
      // recovery, where no reordering seen means none. RACK's own resends D-SACKed are
      // reordering: `onReorderedResend`.
    }
  }

  /**
   * A D-SACK reported data that RACK deemed lost and resent: its original was not lost but
   * overtaken by more than the reordering window — reordering, seen only now, because §6.2
   * step 3 ignores retransmitted segments (Linux's `tcp_sacktag_one` counts a D-SACK of a
   * SACKed retransmission as reordering too). `lateMs` is how long after the resend the data
   * was first delivered (-1: not seen) and `windowMs` the window the mark allowed: the original
   * came at least `windowMs + lateMs` after the deadline without a window, so the window is
   * widened at once to cover that — where §6.2 step 4 adds min_RTT/4 per round trip with
   * D-SACKs, dozens of rounds when min_RTT is small against a queue that varies. Returns true
   * when it was widened (the widening then persists 16 recoveries, as step 4's does).
   */
  onReorderedResend(lateMs: number, windowMs: number): boolean {
    this.reorderingSeen = true;
    this.reorderEvents++;
    const m = this.minRttMs;
    if (lateMs < 0 || m <= 0) return false;
    let mult = Math.ceil((4 * (windowMs + lateMs)) / m);
    if (mult > MAX_REO_WND_MULT) mult = MAX_REO_WND_MULT;
    if (mult <= this.reoWndMult) return false;
    this.reoWndMult = mult;
    this.reoWndPersist = REO_WND_PERSIST;
    return true;
  }

  /** §6.2 step 4: a loss recovery ended; a widened window shrinks back after 16 of them. */
  onRecoveryEnd(): void {
    if (this.reoWndPersist > 0 && --this.reoWndPersist === 0) this.reoWndMult = 1;
  }

  /**
   * RACK.reo_wnd (ms): 0 while no reordering was seen and the sender is recovering or
   * DupThresh segments are SACKed; otherwise `min(mult · min_RTT / 4, SRTT)`.
   */
  reoWndMs(srttMs: number, inRecovery: boolean, sackedBytes: number, mss: number): number {
    if (!this.reorderingSeen && (inRecovery || sackedBytes >= DUP_THRESH * mss)) return 0;
    const w = (this.reoWndMult * this.minRttMs) / 4;
    return w < srttMs ? w : srttMs;
  }

  /**
   * §6.2 step 5 (RACK_detect_loss): mark lost every segment a later-sent delivered segment
   * overtook by more than the reordering window; `newlyLostBytes` says how much. Returns the
   * time (ms) until the next segment may be deemed lost (arm the reordering timer), or 0.
   * The time now and SRTT are read from `t`. `reason` is what the marks are logged as (an
   * `RX_*` of `retrans_log.ts`: RACK on an ACK or on its timer), or RX_RACK_AFTER_RETRANS
   * when RACK.xmit_ts is a retransmitted segment's.
   */
  detectLoss(
    sb: Scoreboard,
    t: RackTimes,
    inRecovery: boolean,
    mss: number,
    reason: number = RX_NONE,
  ): number {
    NEWLY_LOST[0] = 0;
    this.reoWaitUs = 0;
    if (!this.hasDelivery) return 0;
    const nowMs = t.eventMs;
    // `reoWndMs(t.rtt.srttMs, …)` written out: SRTT passed and the window returned are
    // fractional, a heap number each per ACK when V8 does not inline the call ("sack33").
    const srttMs = t.rtt.srttMs;
    let reo = 0;
    if (this.reorderingSeen || (!inRecovery && sb.sackedBytes < DUP_THRESH * mss)) {
      reo = Math.min((this.reoWndMult * this.#minRtt.best) / 4, srttMs);
    }
    sb.reoWndUs = (reo * 1000 + 0.5) | 0; // ≤ SRTT: an int32
    const rackX = this.xmitMs;
    const rackEnd = this.endSeq;
    const wait = this.#rttUs / 1000 + reo;
    const why = this.xmitRetrans ? RX_RACK_AFTER_RETRANS : reason;
    let timeout = 0;
    const n = sb.count;
    // The records read in place: `sb.xmitMs(i)` returned a fractional time and `sb.end(i)` a
    // sequence number, each a heap number per record scanned when not inlined ("sack33").
    const c = sb.columns;
    const head = sb.head;
    for (let i = 0; i < n; i++) {
      const p = head + i;
      const f = c.flags[p];
      if ((f & SB_SACKED) !== 0) continue;
      if ((f & (SB_LOST | SB_RETRANS)) === SB_LOST) continue; // lost, waiting to be resent
      const x = c.xmit[p];
      // seqGt(rackEnd, end) written out and made on every path
      const endBeforeRack = ((rackEnd - c.end[p]) | 0) > 0;
      const sentBefore = x < rackX || (x === rackX && endBeforeRack);
      if (!sentBefore) {
        // First transmissions go out in sequence order: none after this one is older.
        if ((f & SB_EVER_RETRANS) === 0) break;
        continue;
      }
      const remaining = x + wait - nowMs;
      if (remaining <= 0) {
        NEWLY_LOST[0] += (c.end[p] - c.start[p]) | 0; // sb.length(i)
        sb.markLost(i, why);
      } else if (remaining > timeout) {
        timeout = remaining;
      }
    }
    // Rounded up: the reordering timer fires at or after the wait, never a µs early.
    this.reoWaitUs = Math.ceil(timeout * 1000) | 0;
    return timeout;
  }

  // ---- TLP ---------------------------------------------------------------------------------

  /**
   * §7.2 PTO (ms from now): 2·SRTT, plus the worst-case delayed ACK when a single segment is
   * in flight (else Linux's 2 ms), 1 s without an RTT sample; never past the RTO
   * (`rtoLeftMs`). (`LossControl`'s `#armPto` computes the same written out, with no number
   * crossing a call: a change here goes there too.)
   */
  ptoMs(
    hasRtt: boolean,
    srttMs: number,
    flightBytes: number,
    mss: number,
    rtoLeftMs: number,
  ): number {
    let pto = TLP_NO_RTT_PTO_MS;
    if (hasRtt) {
      pto = 2 * srttMs + (flightBytes <= mss ? TLP_WORST_CASE_DELACK_MS : TLP_MIN_EXTRA_MS);
    }
    return Math.min(pto, rtoLeftMs);
  }

  /** This connection's own {@link RackSeqMarks}, built at its first probe or D-SACK. */
  #ownMarks(): RackSeqMarks {
    const m = this.#marks;
    return m !== NO_SEQ_MARKS ? m : (this.#marks = new RackSeqMarks());
  }

  /** §7.3: a probe went out; SND.NXT is now `sndNxt`. */
  probeSent(sndNxt: number, isRetrans: boolean): void {
    this.tlpActive = true;
    this.#ownMarks().tlpEndSeq = sndNxt;
    this.tlpIsRetrans = isRetrans;
  }

  /**
   * §7.4 (as Linux tcp_process_tlp_ack): what this ACK says about the outstanding probe.
   * `dsackRight` is the right edge of the ACK's D-SACK block (or -1); `progress` means the
   * ACK advanced SND.UNA, SACKed data or carried data/window news. Returns {@link TLP_LOSS}
   * when the probe repaired a loss and the window must be reduced once.
   */
  tlpAck(ack: number, dsackRight: number, progress: boolean): number {
    if (!this.tlpActive) return TLP_NONE;
    const end = this.#marks.tlpEndSeq;
    if (!seqGe(ack, end)) return TLP_NONE;
    if (!this.tlpIsRetrans) {
      this.tlpActive = false; // a new-data probe: nothing to learn
      return TLP_NONE;
    }
    if (dsackRight >= 0 && dsackRight === end) {
      this.tlpActive = false; // the probe was a duplicate: nothing was lost
      return TLP_NONE;
    }
    if (seqGt(ack, end)) {
      this.tlpActive = false;
      return TLP_LOSS;
    }
    if (!progress) this.tlpActive = false; // original and probe both arrived
    return TLP_NONE;
  }
}
