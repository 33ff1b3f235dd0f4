/**
 * The sender's loss-recovery state (Linux's `icsk_ca_state`) and the bookkeeping that goes
 * with it: where a window reduction ends (`recover`, RFC 6582's and Linux's `high_seq`), the
 * PRR episode (RFC 6937, `prr.ts`), duplicate ACKs (RFC 5681), and what is needed to undo a
 * reduction that proves spurious — D-SACK (RFC 2883 §5, RFC 3708: every retransmission
 * reported back as a duplicate) or the timestamp of the ACK (Eifel, RFC 3522: it echoes a
 * transmission older than the first retransmission).
 *
 * States, in increasing order of gravity:
 * - {@link CA_OPEN}: nothing wrong;
 * - {@link CA_DISORDER}: SACKs or duplicate ACKs, no loss known yet;
 * - {@link CA_CWR}: a window reduction without loss — ECN-Echo (RFC 3168 §6.1.2) or a loss
 *   a tail loss probe repaired (RFC 8985 §7.4.2);
 * - {@link CA_RECOVERY}: fast recovery, losses being retransmitted (RFC 6675, RFC 6582);
 * - {@link CA_LOSS}: after a retransmission timeout.
 * The last three are reductions: they end when SND.UNA reaches `recover`.
 *
 * The sender decides the transitions; this file holds the state so that one object answers
 * "are we recovering, since when, and may we undo it?".
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import { Prr } from "./prr.ts";
import { seqGt, seqLt } from "./seq.ts";

/** Nothing wrong. */
export const CA_OPEN = 0;
/** SACKs or duplicate ACKs seen, no loss known. */
export const CA_DISORDER = 1;
/** A window reduction without retransmissions (ECN, TLP-repaired loss). */
export const CA_CWR = 2;
/** Fast recovery. */
export const CA_RECOVERY = 3;
/** Recovery after a retransmission timeout. */
export const CA_LOSS = 4;
/** State names, indexed by state (TCP_INFO's `caState`). */
export const CA_STATE_NAMES: readonly string[] = Object.freeze([
  "Open",
  "Disorder",
  "CWR",
  "Recovery",
  "Loss",
]);

/**
 * Recovery state of one sender.
 *
 * @example
 * ```ts
 * const r = new LossRecovery();
 * r.enter(CA_RECOVERY, 1000, 9000, 8000); // SND.UNA 1000, SND.MAX 9000, cwnd 8000
 * r.onRetransmit(1000, 1000, 7);          // one segment resent, TSval 7
 * r.onDsack(1000, 2000, 1000);            // true: the receiver had it already — undo
 * ```
 */
export class LossRecovery {
  // Sequence numbers and TSvals are unsigned 32-bit words: doubles from the first record
  // made (DOUBLE_ZERO), or the first one at or above 2**30 changes the record's map in the
  // middle of a run and drops the per-ACK code built on it (bench/README.md, `deopt11g`).
  /** One of the `CA_*` states. */
  state = CA_OPEN;
  /** The reduction ends when SND.UNA reaches this (RFC 6582 `recover`). */
  recover = DOUBLE_ZERO;
  /** The PRR episode of the current reduction. */
  readonly prr: Prr = new Prr();
  /** Duplicate ACKs in a row (RFC 5681 §2). */
  dupAcks = 0;
  /** An undo is possible: `undoMarker` and `undoRetrans` describe the last reduction. */
  undoPossible = false;
  /** SND.UNA when the reduction started (Linux `undo_marker`). */
  undoMarker = DOUBLE_ZERO;
  /** Retransmitted segments not yet reported back as duplicates (Linux `undo_retrans`). */
  undoRetrans = 0;
  /** TSval of the reduction's first retransmission (Eifel); valid with `hasRetransTs`. */
  retransTsVal = DOUBLE_ZERO;
  /** A retransmission of this reduction was sent. */
  hasRetransTs = false;
  /** The CWR flag goes on the next new data segment (RFC 3168 §6.1.2). */
  cwrPending = false;

  constructor() {
    // +0 to readers (a double field keeps its representation for a small integer).
    this.recover = this.undoMarker = this.retransTsVal = 0;
  }

  /** A window reduction (CWR, Recovery or Loss) is in progress. */
  get inReduction(): boolean {
    return this.state >= CA_CWR;
  }

  /** In fast recovery or after an RTO (losses being repaired). */
  get repairing(): boolean {
    return this.state >= CA_RECOVERY;
  }

  /** Reset (a new connection starting at `seq`). */
  reset(seq: number): void {
    this.state = CA_OPEN;
    this.recover = seq;
    this.dupAcks = 0;
    this.undoPossible = false;
    this.hasRetransTs = false;
    this.cwrPending = false;
  }

  /**
   * Enter `state` (CWR, Recovery or Loss) with SND.UNA `sndUna` and SND.MAX `sndMax`: the
   * reduction lasts until `sndMax` is acknowledged; PRR starts from `cwnd`. Recovery and
   * Loss also start a new undo episode.
   */
  enter(state: number, sndUna: number, sndMax: number, cwnd: number): void {
    this.state = state;
    this.recover = sndMax;
    this.prr.start(cwnd);
    if (state >= CA_RECOVERY) {
      this.undoPossible = true;
      this.undoMarker = sndUna;
      this.undoRetrans = 0;
      this.hasRetransTs = false;
    }
  }

  /**
   * Losses were found during a CWR reduction: it becomes fast recovery (no second
   * reduction), lasting until `sndMax`, with a new undo episode.
   */
  upgradeToRecovery(sndUna: number, sndMax: number): void {
    this.state = CA_RECOVERY;
    this.recover = sndMax;
    this.undoPossible = true;
    this.undoMarker = sndUna;
    this.undoRetrans = 0;
    this.hasRetransTs = false;
  }

  /** The reduction ended (or was undone): back to Open. The undo record stays for late D-SACKs. */
  end(): void {
    this.state = CA_OPEN;
    this.dupAcks = 0;
  }

  /** `bytes` were retransmitted (at TSval `tsVal`). */
  onRetransmit(bytes: number, mss: number, tsVal: number): void {
    if (this.undoPossible) this.undoRetrans += Math.ceil(bytes / mss);
    if (!this.hasRetransTs && this.repairing) {
      this.retransTsVal = tsVal;
      this.hasRetransTs = true;
    }
  }

  /**
   * A D-SACK reported `[left, right)` received twice. When it covers data retransmitted in
   * the last reduction, that retransmission was not needed; returns true once every
   * retransmission of the reduction was reported so (undo it, RFC 3708).
   */
  onDsack(left: number, right: number, mss: number): boolean {
    if (!this.undoPossible || this.undoRetrans <= 0) return false;
    if (!seqGt(right, this.undoMarker)) return false;
    const segs = Math.ceil(((right - left) >>> 0) / mss);
    this.undoRetrans -= segs > 1 ? segs : 1;
    if (this.undoRetrans > 0) return false;
    this.undoPossible = false;
    return true;
  }

  /**
   * Eifel (RFC 3522 §3.2): an ACK of new data during Recovery or Loss echoes `tsEcr`, older
   * than the first retransmission: the original arrived, the reduction was spurious.
   */
  eifelSpurious(tsEcr: number): boolean {
    return this.undoPossible && this.repairing && this.hasRetransTs && tsEcr !== 0 &&
      seqLt(tsEcr, this.retransTsVal);
  }

  /** The reduction was undone: nothing more to undo. */
  undone(): void {
    this.undoPossible = false;
    this.end();
  }
}
