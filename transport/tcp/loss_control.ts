/**
 * Loss control of one sender: everything between an ACK's arrival and the next
 * transmission that concerns losses and the window — the scoreboard's SACK processing
 * (RFC 2018, D-SACK RFC 2883), RTT sampling (RFC 6298, Karn), RACK-TLP (RFC 8985) or the
 * NewReno rules without SACK (RFC 6582), the recovery states with PRR (RFC 6937) and undo
 * (RFC 3708, Eifel RFC 3522), ECN's response (RFC 3168 §6.1.2), the congestion algorithm's
 * ACK sample and the pacing rate — and the one timer that serves the retransmission
 * timeout, the RACK reordering timeout, the tail loss probe and the retransmission probe
 * (Linux's `icsk_retransmit_timer` and its modes).
 *
 * The sender (`sender.ts`) owns the sequence space and the send ring and moves SND.*; this
 * object never writes them. It asks the sender to transmit through {@link LossSender}.
 *
 * The algorithms are in their own files (`scoreboard.ts`, `rack.ts`, `recovery.ts`,
 * `prr.ts`, `delivery_rate.ts`, `pacing.ts`, `congestion/`); this file is the order they run
 * in. Nothing is allocated per ACK or segment.
 *
 * Why this file is over 600 lines: the ACK's loss-side steps and the timer's four modes
 * share their state (what was lost, probed, retransmitted last, the RTO deadline); split
 * apart they would write it from two files.
 *
 * @module
 */

import { readClockMs } from "../../core/clock.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import { CC_TRACE_CWND_LIMITED, type CcTrace } from "./cc_trace.ts";
import { AckSample, type CongestionControl } from "./congestion/mod.ts";
import type { TcpServices } from "./context.ts";
import { DeliveryRate } from "./delivery_rate.ts";
import { TCP_FLAG_ECE } from "./header.ts";
import type { TcpHeaderOptions } from "./options.ts";
import { Pacer } from "./pacing.ts";
import {
  type RackTimes,
  RackTlp,
  TLP_LOSS,
  TLP_MIN_EXTRA_MS,
  TLP_NO_RTT_PTO_MS,
  TLP_WORST_CASE_DELACK_MS,
} from "./rack.ts";
import { CA_CWR, CA_DISORDER, CA_LOSS, CA_OPEN, CA_RECOVERY, LossRecovery } from "./recovery.ts";
import {
  DSACK_COUNTER_BY_REASON,
  RX_NONE,
  RX_PROBE,
  RX_RACK,
  RX_RACK_AFTER_RETRANS,
  RX_RACK_TIMER,
  RX_RENO,
  RX_TLP,
} from "./retrans_log.ts";
import { PENDING_RTT, type RttEstimator } from "./rtt_estimator.ts";
import { isDsackBy, SB_RETRANS, SB_SACKED, Scoreboard } from "./scoreboard.ts";
import type { RxSegment } from "./segment.ts";
import { TcpState } from "./state.ts";

/** The cell this module's per-ACK clock read goes through ({@link readClockMs}). */
const NOW = new Float64Array(1);
/** Linux tcp_pacing_ss_ratio: pacing rate in slow start, % of cwnd/SRTT. */
const PACING_SS_RATIO = 2;
/** Linux tcp_pacing_ca_ratio: pacing rate in congestion avoidance, % of cwnd/SRTT. */
const PACING_CA_RATIO = 1.2;
/** Mode of the loss timer: retransmission timeout (RFC 6298). */
const LT_RTO = 0;
/** Mode of the loss timer: RACK reordering timeout (RFC 8985 §6.3). */
const LT_REO = 1;
/** Mode of the loss timer: tail loss probe (RFC 8985 §7). */
const LT_PTO = 2;
/** Mode of the loss timer: the newest transmission is a retransmission; probe its fate. */
const LT_RETRANS_PROBE = 3;
/** Consecutive retransmission probes without progress before the RTO takes over. */
const MAX_RETRANS_PROBES = 2;
/** Added to 2·SRTT for a retransmission probe (a hole-filling segment is ACKed at once). */
const RETRANS_PROBE_EXTRA_MS = 2;
/**
 * The retransmission log's horizon (`retrans_log.ts`): a D-SACK may report a retransmission up
 * to about an RTT after it went out (the copy's way there, the D-SACK's way back); four SRTTs
 * and Linux's 2 ms minimum timeout leave room for queues that vary.
 */
const RETRANS_LOG_HORIZON_SRTTS = 4;
/** See {@link RETRANS_LOG_HORIZON_SRTTS}. */
const RETRANS_LOG_HORIZON_EXTRA_MS = 2;

/** What loss control needs from its connection (a part of the sender's `SenderConnection`). */
export interface LossConnection {
  /** The connection's state. */
  readonly state: TcpState;
  /** Timestamps were negotiated. */
  readonly tsOk: boolean;
  /** SACK was negotiated. */
  readonly sackOk: boolean;
  /** ECN was negotiated (RFC 3168 §6.1.1). */
  readonly ecnOk: boolean;
  /** TSval now (RFC 7323 §5.4). */
  tsNow(): number;
  /**
   * TSval now less the TSecr `opts` echoes (uint32): the RFC 7323 §4.1 RTT sample, in ms.
   */
  tsEchoAgeMs(opts: TcpHeaderOptions): number;
  /** Produce output now. */
  flushOutput(): void;
}

/** What loss control needs from the sender that holds it; `TcpSender` implements it. */
export interface LossSender {
  /** Our initial sequence number (ISS). */
  readonly iss: number;
  /** SND.UNA. */
  readonly sndUna: number;
  /** SND.NXT. */
  readonly sndNxt: number;
  /** SND.MAX. */
  readonly sndMax: number;
  /** SND.WND (scaled). */
  readonly sndWnd: number;
  /** Sequence number after the last queued byte (where the FIN goes). */
  readonly finSeq: number;
  /** Bytes queued and not yet sent: `finSeq − SND.NXT` (-1 once the FIN went). */
  readonly unsentBytes: number;
  /** The send MSS. */
  readonly mss: number;
  /** The congestion control algorithm in use. */
  readonly cc: CongestionControl;
  /** The payload of a full segment now (the MSS less a SACK option it would carry). */
  segMss(): number;
  /** Send `len` bytes of new data at SND.NXT now, whatever cwnd says: false if nothing went. */
  sendNew(len: number, nowMs: number): boolean;
  /**
   * Retransmit scoreboard record `i`, at most `cap` bytes, for `reason` (an `RX_*` of
   * `retrans_log.ts`; -1: the one it was deemed lost for): the bytes resent (0: none).
   */
  retransmit(i: number, cap: number, nowMs: number, reason: number): number;
  /** The retransmission timer fired in RTO mode (the sender handles SYNs and give-up). */
  rtoExpired(): void;
}

/**
 * The ACK sample handed to the congestion algorithm: filled and read within one call, so one
 * record serves every connection (not ~200 bytes each).
 */
const ACK_SAMPLE = new AckSample();

/** `LossControl.cwndLimited`: the current output pass stopped on cwnd. */
const F_CWND_LIMITED = 1;
/** `LossControl.lastTxRetrans`: the newest transmission was a retransmission. */
const F_LAST_TX_RETRANS = 2;
/** This ACK was a NewReno partial ACK: its hole goes out whatever PRR says. */
const F_PARTIAL_ACK = 4;
/** cwnd limited the sender in the current window (Linux `is_cwnd_limited`). */
const F_WINDOW_CWND_LIMITED = 8;

/**
 * The recovery record of every connection that has needed none of its own: Open, no duplicate
 * ACK, nothing to undo, no PRR episode. Never written: a connection takes its own
 * ({@link LossControl.ownRecovery}) before its first duplicate ACK, SACK block, D-SACK, loss,
 * ECN echo, tail loss probe, timeout or retransmission — so a short exchange without any builds
 * no `LossRecovery` (nor its `Prr`). What it reads from this record is what its own would hold,
 * but for `recover`, which the loss control keeps until then ({@link LossControl.recover}).
 */
const NO_RECOVERY = new LossRecovery();

/**
 * The loss control of one sender, created with it.
 *
 * @example
 * ```ts ignore
 * loss.beginAck(seg);
 * if (advanced) loss.ackTo();
 * const dsack = sackOk ? loss.sack(seg) : -1;
 * if (loss.onAck(seg, acked, dup, dsack, news)) scheduleOutput();
 * ```
 */
export class LossControl implements RackTimes {
  // Sequence arithmetic is written out in this class (`(a - b) | 0` for `seqDiff`, `… < 0` for
  // `seqLt`, `(a + n) >>> 0` for `seqAdd`; see seq.ts), not called: V8's mid tier inlines a call
  // only on a path at least 95 % of calls took when it compiled, and a helper it calls takes
  // and returns sequence numbers ≥ 2**30 as new heap numbers (bench/README.md, "box32").
  /** The SACK scoreboard: every transmission in flight. */
  readonly sb: Scoreboard;
  /** Delivery-rate estimation. */
  readonly rate: DeliveryRate = new DeliveryRate();
  /** RACK-TLP loss detection. */
  readonly rack: RackTlp = new RackTlp();
  /**
   * Recovery state, PRR, undo: a shared record that stays Open until the connection needs
   * its own (see {@link LossControl.ownRecovery}); read it here, write it only through
   * `ownRecovery()`.
   */
  get rec(): LossRecovery {
    return this.#rec;
  }
  /** Pacing. */
  readonly pacer: Pacer = new Pacer();
  /** RTT estimate and RTO (shared with the sender, which samples the handshake). */
  readonly rtt: RttEstimator;
  /**
   * Retransmission timer: RTO, RACK reordering timeout, tail loss probe, retransmission probe.
   * A plain {@link Timer}, not the loss control itself: every record on the wheel is one class,
   * so the wheel's code (`#fireSlot`, `#place`, `#unlink`, `arm`) sees one map — a loss control
   * that was its own timer first reached a fired slot's head mid-run (a tail loss probe) and
   * deoptimised `#fireSlot` ("wrong map", bench/README.md, "jit13k").
   */
  readonly timer: Timer;

  /** Segments deemed lost over the connection's life. */
  lostSegments = 0;
  /** The current output pass stopped on cwnd (RFC 7661); the sender sets it. */
  get cwndLimited(): boolean {
    return (this.#flags & F_CWND_LIMITED) !== 0;
  }
  set cwndLimited(v: boolean) {
    this.#flags = v ? this.#flags | F_CWND_LIMITED : this.#flags & ~F_CWND_LIMITED;
  }
  /** The newest transmission was a retransmission; the sender sets it. */
  get lastTxRetrans(): boolean {
    return (this.#flags & F_LAST_TX_RETRANS) !== 0;
  }
  set lastTxRetrans(v: boolean) {
    this.#flags = v ? this.#flags | F_LAST_TX_RETRANS : this.#flags & ~F_LAST_TX_RETRANS;
  }
  /** When set, every ACK that reaches congestion control is recorded here (`cc_trace.ts`). */
  ccTrace: CcTrace | null = null;
  /** Window reductions started (Recovery, CWR, Loss) over the connection's life. */
  reductions = 0;
  /**
   * The time (ms) of the ACK or timer being handled. The timer helpers and
   * {@link RackTlp.detectLoss} read it here: a fractional time passed as a number to a call V8
   * does not inline is a new heap number per call. A double from the first object (as the RTO
   * deadline): a field that turned from a small integer into a double at the first fractional
   * time gave every loss control a new map, which code optimised on the old one had not seen —
   * "wrong map" deopts in a sender's first second (bench/README.md, "jit13k").
   */
  eventMs: number = DOUBLE_ZERO;
  readonly #snd: LossSender;
  readonly #conn: LossConnection;
  readonly #svc: TcpServices;
  /** {@link LossControl.rec}: `NO_RECOVERY` until the first need. */
  #rec: LossRecovery = NO_RECOVERY;
  /**
   * `recover` while {@link LossControl.rec} is the shared record: where the last `reset` put
   * it, as int32 (a small integer field, not a boxed double).
   */
  #recoverFrom = 0;

  /** Which of the `LT_*` the timer is armed for. */
  #timerMode = LT_RTO;
  /** When the RTO expires (the PTO and reordering timer never go beyond it); a double. */
  #rtoDeadlineMs: number = DOUBLE_ZERO;
  /**
   * The newest RTT sample of never-retransmitted data, in whole µs (0: none yet): a small
   * integer always. In ms it turned into a double at the first fractional sample — a new map
   * for every loss control mid-run, or a 16-byte box per connection from the start.
   */
  #queueRttUs = 0;
  /** Retransmission probes since SND.UNA last moved. */
  #retransProbes = 0;
  /** The `F_*` bits: four booleans in one small integer (24 bytes less per connection). */
  #flags = 0;
  /** pipe when the current ACK arrived. */
  #priorPipe = 0;
  /**
   * SND.UNA when the current ACK arrived, as int32 (`| 0`): only compared through `seqLt`, and
   * an int32 is a small integer — stored as a uint32 (≥ 2**31 for half the connections) the
   * field was a double in every connection, a 16-byte box each (bench/README.md, conn9b).
   */
  #priorUna = 0;
  /** That window ends when SND.UNA reaches this (Linux `cwnd_usage_seq`), as int32 (`#priorUna`). */
  #cwndUsageSeq = 0;

  /** Loss control for `snd` on connection `conn`, with the shared RTT estimator `rtt`. */
  constructor(snd: LossSender, conn: LossConnection, svc: TcpServices, rtt: RttEstimator) {
    // A second store of the doubles: mutable from the first object, so their first real store
    // changes no field's constness either (code that relied on it would be thrown away).
    this.eventMs = 0;
    this.#rtoDeadlineMs = 0;
    this.#snd = snd;
    this.#conn = conn;
    this.#svc = svc;
    this.rtt = rtt;
    this.sb = new Scoreboard(this.rate);
    this.timer = new Timer(LossControl.#fire, this);
  }

  /** The timer's function, shared by every connection (no closure each). */
  static #fire(l: LossControl): void {
    l.#onLossTimer();
  }

  /**
   * This connection's own recovery record, built on its first need (a duplicate ACK, a SACK
   * block, a D-SACK, a loss, an ECN echo, a tail loss probe, a timeout, a retransmission) with
   * `recover` where the last {@link LossControl.reset} put it; the shared Open record until
   * then. Whoever changes the recovery state calls this first.
   */
  ownRecovery(): LossRecovery {
    const r = this.#rec;
    return r !== NO_RECOVERY ? r : this.#buildRecovery();
  }

  /** False while the connection shares the Open record (it never needed recovery state). */
  get recoveryBuilt(): boolean {
    return this.#rec !== NO_RECOVERY;
  }

  /**
   * RFC 6582 `recover`: the end of the current (or last) reduction; before one, where the
   * connection's start put it.
   */
  get recover(): number {
    const r = this.#rec;
    return r !== NO_RECOVERY ? r.recover : this.#recoverFrom >>> 0;
  }

  #buildRecovery(): LossRecovery {
    const r = new LossRecovery();
    r.reset(this.#recoverFrom >>> 0);
    this.#rec = r;
    return r;
  }

  /** RFC 6675 pipe: bytes estimated in the network. */
  get pipe(): number {
    return this.sb.pipe((this.#snd.sndMax - this.#snd.sndUna) | 0);
  }

  /** Start over: data begins at `seq`. */
  reset(seq: number): void {
    this.sb.reset(seq);
    // The shared Open record stands for a fresh one: only `recover` is kept until then.
    if (this.#rec !== NO_RECOVERY) this.#rec.reset(seq);
    else this.#recoverFrom = seq | 0;
    this.#flags &= ~(F_CWND_LIMITED | F_WINDOW_CWND_LIMITED);
    this.#cwndUsageSeq = seq | 0;
  }

  /**
   * The end of an output pass (Linux `tcp_cwnd_validate`): a pass that stopped on cwnd marks
   * the window cwnd-limited until SND.UNA passes what had been sent by then; a pass that did
   * not clears the mark only once that window is acknowledged. So every ACK of a window in
   * which cwnd held the sender back may grow cwnd (RFC 7661 §4: cwnd is validated per window,
   * not per ACK) — also the ACKs that arrive in a batch before the next output pass, which
   * found output stopped on cwnd in none of them and left cwnd unchanged for about a third
   * of the ACKs of a lossy bulk transfer over veth.
   */
  afterOutput(): void {
    const f = this.#flags;
    if ((f & F_CWND_LIMITED) !== 0 || ((this.#snd.sndUna - this.#cwndUsageSeq) | 0) >= 0) {
      // The window's mark takes the pass's.
      this.#flags = (f & F_CWND_LIMITED) !== 0
        ? f | F_WINDOW_CWND_LIMITED
        : f & ~F_WINDOW_CWND_LIMITED;
      this.#cwndUsageSeq = this.#snd.sndNxt | 0;
    }
    this.#flags &= ~F_CWND_LIMITED;
  }

  /** The connection starts from scratch (its SYN goes out). */
  start(seq: number): void {
    this.reset(seq);
    this.rack.reset();
    this.#queueRttUs = 0;
  }

  // ---- ACK processing --------------------------------------------------------------------

  /** The ACK `seg` arrives (before SND.UNA moves). */
  beginAck(seg: RxSegment): void {
    this.#priorPipe = this.pipe;
    this.#priorUna = this.#snd.sndUna | 0;
    // The ACK's time and RACK.min_RTT stored into the ACK record here, not passed to the
    // scoreboard: a fractional number crossing a call V8 does not inline (the clock's answer,
    // an argument) is a new heap number per ACK; the time is read into a cell.
    const r = this.sb.ackResults;
    readClockMs(this.#svc.ctx.clock, NOW);
    r.now = NOW[0];
    r.minRtt = this.rack.minRtt.best;
    this.sb.resetAck();
    this.sb.ackResults.queueRttMs = this.#queueRttUs / 1000;
    // The echo's age, for RACK's test of retransmitted segments (scoreboard.ts): only while
    // some may be delivered.
    const o = seg.opts;
    if (
      (this.sb.retransBytes > 0 || this.#rec.repairing) && this.#conn.tsOk && o.hasTimestamps &&
      o.tsEcr !== 0
    ) {
      this.sb.ackResults.echoAgeMs = this.#conn.tsEchoAgeMs(o);
    }
    this.rate.beginAck();
  }

  /** SND.UNA moved: acknowledged transmissions leave the scoreboard. */
  ackTo(): void {
    const sb = this.sb;
    sb.ackToFromFack((this.#snd.sndUna - sb.fack) | 0);
    this.#retransProbes = 0;
  }

  /**
   * The rest of an ACK, at the time {@link LossControl.beginAck} took (SND.UNA and the
   * scoreboard already moved; `acked` bytes, `dup` an
   * RFC 5681 duplicate ACK, `dsackRight` the D-SACK's right edge or -1, `news` whether the
   * ACK moved anything): RTT, RACK, the tail loss probe's fate, undo, the end of a
   * reduction, loss detection and the start of recovery, ECN, congestion control, timers.
   * Returns true when output may be due.
   */
  onAck(
    seg: RxSegment,
    acked: number,
    dup: boolean,
    dsackRight: number,
    news: boolean,
  ): boolean {
    // The ACK's time as beginAck took it, read from the ACK record: V8 does not inline this
    // method, and a fractional time passed to it was a new heap number per segment received.
    const now = this.sb.ackResults.now;
    this.eventMs = now;
    const conn = this.#conn;
    const snd = this.#snd;
    const stats = this.#svc.stats;
    const sb = this.sb;
    const rack = this.rack;
    const mss = snd.mss;
    const o = seg.opts;
    const advanced = acked > 0;
    // An ACK that may change the recovery state gets the connection its own record first
    // (every write below is reached only through one of these; an Open connection's plain
    // ACK of new data reads the shared one).
    if (
      this.#rec === NO_RECOVERY &&
      (dup || dsackRight >= 0 || sb.sackedBytes > 0 || sb.lostBytes > 0 || rack.tlpActive ||
        (conn.ecnOk && (seg.flags & TCP_FLAG_ECE) !== 0))
    ) {
      this.#buildRecovery();
    }
    const rec = this.#rec;
    if (dup) rec.dupAcks++;
    else if (advanced && rec.dupAcks !== 0) rec.dupAcks = 0;
    const renoDelivered = conn.sackOk ? 0 : this.#renoAccount(dup, acked);
    this.rate.endAckFrom(sb.ackResults); // min_RTT from the record: no number passed
    // RTT (RFC 6298, Karn): send times of never-retransmitted segments, else timestamps.
    // The ACK that completes a passive handshake acknowledges only our SYN: the handshake took
    // its (finer) sample from the SYN-ACK's send time already.
    // The sample goes to the estimator in a record (`PENDING_RTT`, `samplePending`): a local
    // set from either source is a merge V8's mid tier keeps tagged, and a fractional RTT passed
    // to a call V8 does not inline is boxed too — either way a heap number per ACK.
    const est = this.rtt;
    const pending = PENDING_RTT;
    pending.ms = sb.ackResults.ackRttOldestMs; // a field: a getter not inlined boxes it
    const synOnly = acked === 1 && snd.sndUna === (snd.iss + 1) >>> 0;
    if (
      pending.ms < 0 && advanced && !synOnly && conn.tsOk && o.hasTimestamps && o.tsEcr !== 0
    ) {
      const r = conn.tsEchoAgeMs(o);
      if (r < 0x7fffffff) pending.ms = r;
    }
    if (pending.ms >= 0) est.samplePending();
    else if (advanced) est.resetBackoff();
    rack.onAck(sb, dsackRight >= 0, snd);
    const newestMs = sb.ackResults.ackRttNewestMs;
    if (newestMs >= 0) this.#queueRttUs = (newestMs * 1000 + 0.5) | 0; // ≤ ~35 min, int32
    // The last original delivered (RACK.fack at SND.MAX): no new data is left queued ahead of
    // a resend, so the queue's round trip lapses and RFC 8985 §6.2 step 2's rule alone applies
    // (at a transfer's tail resends cross a drained queue; a stale queue would hide their loss).
    if (((snd.sndMax - sb.fack) | 0) <= 0) this.#queueRttUs = 0;
    if (sb.ackReordered) stats.TCPSACKReorder++;
    // RFC 8985 §7.4: what the ACK says about an outstanding tail loss probe.
    if (rack.tlpActive && rack.tlpAck(seg.ack, dsackRight, news || sb.ackSacked > 0) === TLP_LOSS) {
      stats.TCPLossProbeRecovery++;
      if (!rec.inReduction) this.#startReduction(CA_CWR, now);
    }
    // Spurious reductions: Eifel with timestamps (D-SACK is handled with the SACK blocks).
    if (advanced && rec.repairing && conn.tsOk && o.hasTimestamps && rec.eifelSpurious(o.tsEcr)) {
      if (rec.state === CA_LOSS) stats.TCPSpuriousRTOs++;
      this.#undo(now);
    }
    // The end of a reduction: SND.UNA reached `recover`.
    if (rec.inReduction && ((snd.sndUna - rec.recover) | 0) >= 0) this.#endReduction(now);
    // Loss detection: RACK with SACK, NewReno's rules without.
    // RACK's wait read from `rack.reoWaitUs`, not returned into a local set under a branch:
    // a fractional time returned from a call not inlined, or merged, is a heap number per ACK.
    rack.reoWaitUs = 0;
    const lostBefore = sb.lostBytes;
    if (sb.count > 0) {
      if (conn.sackOk) {
        if (sb.sackedBytes > 0 || rec.repairing || dup || dsackRight >= 0) {
          rack.detectLoss(sb, this, rec.repairing, mss, RX_RACK);
        }
      } else {
        this.#renoMarkLost(dup, advanced);
      }
    }
    const newlyLost = sb.lostBytes > lostBefore ? sb.lostBytes - lostBefore : 0;
    if (newlyLost > 0) {
      const segs = Math.ceil(newlyLost / mss);
      this.lostSegments += segs;
      stats.TCPRackLostSegs += segs;
    }
    this.#countLostRetransmits();
    if (sb.lostBytes > 0 && !rec.repairing) this.#enterRecovery(now);
    else if (rec.state === CA_OPEN && (sb.sackedBytes > 0 || rec.dupAcks > 0)) {
      rec.state = CA_DISORDER;
    } else if (rec.state === CA_DISORDER && sb.sackedBytes === 0 && rec.dupAcks === 0) {
      rec.state = CA_OPEN;
    }
    // RFC 3168 §6.1.2: ECN-Echo reduces the window once per window of data.
    if (conn.ecnOk && (seg.flags & TCP_FLAG_ECE) !== 0 && !rec.inReduction) {
      stats.TCPECNCwr++;
      this.#startReduction(CA_CWR, now);
      rec.cwrPending = true;
    }
    this.#congestionControl(
      acked,
      sb.ackDelivered + renoDelivered,
      this.#priorPipe,
      newlyLost,
    );
    // Timers: RFC 6298 §5.2–5.3, RACK reordering timer, TLP.
    if (snd.sndUna === snd.sndMax) {
      this.#svc.ctx.timers.cancel(this.timer);
      rack.tlpActive = false;
    } else if (
      advanced || rack.reoWaitUs > 0 || this.#timerMode !== LT_RTO || !this.timer.armed
    ) {
      this.#armLossTimer(advanced, true);
    }
    return advanced || sb.ackDelivered > 0 || dup || newlyLost > 0;
  }

  /**
   * Count retransmissions the scoreboard deemed lost again (TCPLostRetransmit) and the
   * retransmission log's overruns (TCPRetransLogOverrun); the log learns its horizon.
   */
  #countLostRetransmits(): void {
    // Both counts are taken (added and zeroed), not remembered: no field per connection.
    const n = this.sb.lostRetransmits;
    if (n !== 0) {
      this.#svc.stats.TCPLostRetransmit += n;
      this.sb.lostRetransmits = 0;
    }
    const log = this.sb.retransLog;
    if (log !== null) {
      log.horizonMs = RETRANS_LOG_HORIZON_SRTTS * this.rtt.srttMs + RETRANS_LOG_HORIZON_EXTRA_MS;
      if (log.overruns !== 0) {
        this.#svc.stats.TCPRetransLogOverrun += log.overruns;
        log.overruns = 0;
      }
    }
  }

  /**
   * The retransmission timeout for data (RFC 6298 §5.4–5.7, RFC 5681 §3.1): the Loss state
   * (a new undo episode unless already in it), cwnd collapses, every unSACKed segment is
   * deemed lost, the RTO backs off. The sender then resends from SND.UNA.
   */
  onRto(now: number): void {
    const snd = this.#snd;
    const rec = this.ownRecovery();
    const sb = this.sb;
    if (rec.state !== CA_LOSS) {
      if (rec.repairing) this.rack.onRecoveryEnd();
      this.reductions++;
      rec.enter(CA_LOSS, snd.sndUna, snd.sndMax, snd.cc.cwnd);
    } else {
      rec.recover = snd.sndMax;
    }
    snd.cc.onRetransmitTimeout((snd.sndMax - snd.sndUna) | 0, now);
    this.#queueRttUs = 0; // everything goes again from SND.UNA: no queue of originals ahead
    const before = sb.lostBytes;
    sb.markAllLost();
    if (sb.lostBytes > before) this.lostSegments += Math.ceil((sb.lostBytes - before) / snd.mss);
    this.#countLostRetransmits();
    this.rack.tlpActive = false;
    this.rtt.backoff();
    rec.dupAcks = 0;
    this.pacer.releaseMs = now;
    this.#armTimer(LT_RTO, now + this.rtt.rtoMs);
  }

  /** Arm the timer for the RTO at `now` + RTO unless it runs (SYN retries, RFC 6298 §5.1). */
  armRto(now: number): void {
    if (!this.timer.armed) this.#armTimer(LT_RTO, now + this.rtt.rtoMs);
  }

  /** Nothing is retransmitted any more: the timer stops. */
  stop(): void {
    this.#svc.ctx.timers.cancel(this.timer);
  }

  /**
   * The SACK blocks of the ACK `seg` (SND.UNA already moved to its SEG.ACK): a D-SACK first
   * block is counted and offered to undo; the others mark the scoreboard, clipped to what is
   * in flight (RFC 2018 §3; invalid blocks are discarded, Linux TCPSACKDiscard). Returns the
   * D-SACK's right edge, or -1. The segment, not its acknowledgment number, is passed: a
   * uint32 (often ≥ 2**30) passed to a call V8 does not inline is a new heap number.
   */
  sack(seg: RxSegment): number {
    const o = seg.opts;
    const ack = seg.ack;
    const stats = this.#svc.stats;
    const blocks = o.sackBlocks;
    const n = o.sackBlockCount;
    let first = 0;
    let dsackRight = -1;
    // The ACK as its distance past the first block (`isDsackBy`): not boxed in the call.
    if (isDsackBy(blocks, n, (ack - blocks[1]) | 0)) {
      first = 1;
      dsackRight = blocks[1];
      stats.TCPDSACKRecv++;
      stats.TCPDSACKRecvSegs += Math.ceil(((blocks[1] - blocks[0]) | 0) / this.#snd.mss);
      // Which detector sent the data it reports (the newest logged retransmission of it).
      const log = this.sb.retransLog;
      const why = log === null ? RX_NONE : log.reasonOf(blocks, 0);
      stats[DSACK_COUNTER_BY_REASON[why]]++;
      // RACK resent data that was only late: reordering, and a window too narrow for it.
      if (log !== null && why >= RX_RACK && why <= RX_RACK_AFTER_RETRANS) {
        stats.TCPSACKReorder++;
        if (this.rack.onReorderedResend(log.foundLateMs, log.foundWindowMs)) {
          stats.TCPRackReoWndWidened++;
        }
      }
      if (this.ownRecovery().onDsack(blocks[0], blocks[1], this.#snd.mss)) {
        stats.TCPDSACKUndo++;
        this.#undo(this.#svc.ctx.clock.nowMs());
      }
    }
    const sndMax = this.#snd.sndMax;
    for (let k = first; k < n; k++) {
      const l = blocks[2 * k];
      const r = blocks[2 * k + 1];
      // The three tests made before any branch on them: behind `||` V8's mid tier calls the
      // helpers rather than inlining them, and their sequence numbers are boxed.
      const ordered = ((l - r) | 0) < 0;
      const beyond = ((r - sndMax) | 0) > 0;
      const acked = ((r - ack) | 0) <= 0;
      if (!ordered || beyond || acked) {
        if (!acked) stats.TCPSACKDiscard++;
        continue;
      }
      // A left edge below SND.UNA (= ack) counts from the first record, which starts there.
      this.sb.sackBlock(blocks, k);
    }
    return dsackRight;
  }

  /**
   * Without SACK, duplicate ACKs stand for segments that left the network (Linux "reno
   * SACKs"); a cumulative ACK takes back all but the first segment it covers. Returns the
   * change to the ACK's delivered bytes (RFC 6937 DeliveredData without SACK).
   */
  #renoAccount(dup: boolean, acked: number): number {
    const sb = this.sb;
    const mss = this.#snd.mss;
    if (dup) {
      const room = ((this.#snd.sndMax - this.#snd.sndUna) | 0) - sb.renoSackedBytes - mss;
      const add = room < mss ? (room > 0 ? room : 0) : mss;
      sb.renoSackedBytes += add;
      return add;
    }
    if (acked > 0 && sb.renoSackedBytes > 0) {
      let removed = acked - mss;
      if (removed < 0) removed = 0;
      if (removed > sb.renoSackedBytes) removed = sb.renoSackedBytes;
      sb.renoSackedBytes -= removed;
      if (this.#snd.sndUna === this.#snd.sndMax) sb.renoSackedBytes = 0;
      return -removed;
    }
    return 0;
  }

  /**
   * NewReno without SACK (RFC 6582 §3.2): the third duplicate ACK — if it covers more than
   * `recover` (step 2) — deems the first unacknowledged segment lost; in recovery, a partial
   * ACK deems the next one lost (step 5).
   */
  #renoMarkLost(dup: boolean, advanced: boolean): void {
    const rec = this.#rec;
    const sb = this.sb;
    let mark = false;
    if (!rec.repairing) {
      mark = dup && rec.dupAcks === 3 &&
        (((this.#snd.sndUna - rec.recover) | 0) > 0 || rec.recover === this.#snd.sndUna);
    } else if (
      advanced && rec.state === CA_RECOVERY && ((this.#snd.sndUna - rec.recover) | 0) < 0
    ) {
      mark = true;
    }
    if (!mark || sb.count === 0) return;
    if (sb.length(0) > this.#snd.mss && sb.hasRoom()) {
      sb.splitAt(0, (sb.start(0) + this.#snd.mss) >>> 0);
    }
    sb.markLost(0, RX_RENO);
    this.#flags = rec.repairing ? this.#flags | F_PARTIAL_ACK : this.#flags & ~F_PARTIAL_ACK;
  }

  /** RFC 6675 §5 / RFC 6582 §3.2: losses found: fast recovery (once). */
  #enterRecovery(now: number): void {
    const rec = this.ownRecovery();
    const stats = this.#svc.stats;
    if (this.#conn.sackOk) stats.TCPSackRecovery++;
    else stats.TCPRenoRecovery++;
    if (rec.state === CA_CWR) {
      // Already reducing (ECN/TLP): the loss extends it, it does not reduce again.
      rec.upgradeToRecovery(this.#snd.sndUna, this.#snd.sndMax);
      return;
    }
    this.#startReduction(CA_RECOVERY, now);
  }

  /** A reduction (`state`: CWR or Recovery) starts: ssthresh from the algorithm, PRR on. */
  #startReduction(state: number, now: number): void {
    const cc = this.#snd.cc;
    this.reductions++;
    const rec = this.ownRecovery();
    rec.enter(state, this.#snd.sndUna, this.#snd.sndMax, cc.cwnd);
    cc.onCongestionEvent((this.#snd.sndMax - this.#snd.sndUna) | 0, now);
    if (this.#conn.ecnOk) rec.cwrPending = true;
  }

  /**
   * SND.UNA reached `recover`: the reduction is over — cwnd = ssthresh after CWR and
   * Recovery; after Loss slow start simply goes on (Linux sets no window when it leaves
   * Loss), except for an algorithm that owns recovery (BBR restores its window).
   */
  #endReduction(now: number): void {
    const rec = this.ownRecovery();
    const cc = this.#snd.cc;
    if (rec.repairing) this.rack.onRecoveryEnd();
    if (rec.state !== CA_LOSS || cc.ownsRecovery) cc.onRecoveryEnd(now);
    rec.end();
  }

  /** The last reduction was spurious: the window comes back, nothing is deemed lost. */
  #undo(now: number): void {
    const rec = this.ownRecovery();
    if (rec.repairing) this.rack.onRecoveryEnd();
    this.#snd.cc.undoReduction(now);
    this.sb.unmarkLost();
    rec.undone();
  }

  /** Fill the ACK sample, run PRR during a reduction, and let the algorithm see the ACK. */
  #congestionControl(
    acked: number,
    delivered: number,
    priorPipe: number,
    lost: number,
  ): void {
    const now = this.sb.ackResults.now; // the ACK's time: a field, not a boxed argument
    const cc = this.#snd.cc;
    const rec = this.#rec;
    const rate = this.rate;
    const s = ACK_SAMPLE;
    const pipe = this.pipe;
    s.nowMs = now;
    s.ackedBytes = acked;
    s.deliveredBytes = delivered > 0 ? delivered : 0;
    s.priorInflight = priorPipe;
    s.inflight = pipe;
    // Fields, not getters: a getter V8 does not inline returns a fractional RTT boxed.
    s.rttMs = this.sb.ackResults.ackRttNewestMs;
    s.minRttMs = this.rack.minRtt.best;
    s.srttMs = this.rtt.srttMs; // 0 before a sample; no merge (V8 would box it)
    s.lostBytes = lost;
    s.delivered = rate.delivered;
    const rs = rate.sample; // this ACK's rate sample (one record for every connection)
    s.priorDelivered = rs.priorDelivered;
    s.deliveryRate = rs.rateBytesPerMs;
    s.intervalMs = rs.intervalMs;
    s.isAppLimited = rs.isAppLimited;
    // The ACK covers data of a window that cwnd limited (see afterOutput).
    s.cwndLimited = (this.#flags & F_WINDOW_CWND_LIMITED) !== 0 &&
      (((this.#priorUna - this.#cwndUsageSeq) | 0) < 0);
    s.inRecovery = rec.state === CA_CWR || rec.state === CA_RECOVERY;
    if (s.inRecovery && !cc.ownsRecovery) {
      // RFC 6937: cwnd = pipe + sndcnt during the reduction; RFC 6582 §3.2 step 5: a
      // partial ACK's hole is retransmitted at once.
      rec.prr.onAck(s.deliveredBytes, pipe, cc.ssthresh, this.#snd.mss);
      let sndcnt = rec.prr.sndcnt;
      if ((this.#flags & F_PARTIAL_ACK) !== 0 && sndcnt < this.#snd.mss) sndcnt = this.#snd.mss;
      cc.setCwnd(pipe + sndcnt);
    }
    this.#flags &= ~F_PARTIAL_ACK;
    if (s.deliveredBytes > 0 || lost > 0) cc.onAck(s);
    this.updatePacingRate();
    const trace = this.ccTrace;
    if (trace !== null) {
      trace.record(
        now,
        cc.cwnd,
        cc.ssthresh,
        (this.#snd.sndNxt - this.#snd.sndUna) | 0,
        pipe,
        acked,
        s.deliveredBytes,
        rec.state + (s.cwndLimited ? CC_TRACE_CWND_LIMITED : 0),
        s.srttMs,
        this.reductions,
      );
    }
  }

  /**
   * The pacing rate: the algorithm's (BBR), or with `pacing` on Linux's default — 2× cwnd /
   * SRTT in slow start (below half of ssthresh), 1.2× after.
   */
  updatePacingRate(): void {
    // Each rate stored on the branch that computed it, and the ratio chosen by a 0/1 weight:
    // a fractional number merged from two branches (`rate = …` in an if, `c ? x : y`) is a new
    // heap number in V8's mid tier — per ACK, and per output pass after an idle restart, once
    // SRTT is fractional, as on every real clock (bench/README.md, "dbl34").
    const cc = this.#snd.cc;
    const pacer = this.pacer;
    const own = cc.pacingRate;
    if (own > 0) {
      pacer.rateBytesPerMs = own;
      return;
    }
    const srtt = this.rtt.srttMs;
    if (!this.#svc.opts.pacing || !this.rtt.hasSample || !(srtt > 0)) {
      pacer.rateBytesPerMs = 0;
      return;
    }
    const cwnd = cc.cwnd;
    const pipe = this.pipe;
    const w = cwnd > pipe ? cwnd : pipe; // bytes: small integers
    const slowStart = cwnd < cc.ssthresh / 2 ? 1 : 0;
    const ratio = PACING_CA_RATIO + slowStart * (PACING_SS_RATIO - PACING_CA_RATIO);
    pacer.rateBytesPerMs = (w / srtt) * ratio;
  }

  /**
   * Arm the retransmission timer for `mode` at `deadlineMs`. Here and below the deadline goes
   * into the timer's `armAtMs` and `TimerWheel.arm` reads it there: a fractional time passed to
   * `schedule` when V8 does not inline it is a new heap number per ACK or output pass.
   */
  #armTimer(mode: number, deadlineMs: number): void {
    this.#timerMode = mode;
    if (mode === LT_RTO) this.#rtoDeadlineMs = deadlineMs;
    this.timer.armAtMs = deadlineMs;
    this.#svc.ctx.timers.arm(this.timer);
  }

  /**
   * After an ACK (`restart`: it acknowledged new data, RFC 6298 §5.3) or a timer, at
   * `eventMs`: the RACK reordering timer when a segment may soon be deemed lost (with
   * `reoWait`: RACK's last `reoWaitUs`, read here rather than passed — a fractional time
   * passed to a call V8 does not inline is boxed), else a tail loss probe when allowed, else
   * the RTO — never later than the RTO would fire.
   */
  #armLossTimer(restart: boolean, reoWait: boolean): void {
    const now = this.eventMs;
    if (restart || !this.timer.armed || this.#rtoDeadlineMs <= now) {
      this.#rtoDeadlineMs = now + this.rtt.rtoMs;
    }
    const rtoAt = this.#rtoDeadlineMs;
    if (reoWait && this.rack.reoWaitUs > 0) {
      const at = now + this.rack.reoWaitUs / 1000;
      this.#timerMode = LT_REO;
      this.timer.armAtMs = Math.min(at, rtoAt); // not a merge, which V8 keeps boxed
      this.#svc.ctx.timers.arm(this.timer);
    } else if (this.#tlpAllowed()) {
      this.#armPto();
    } else if (this.#retransProbeAllowed()) {
      this.#armRetransProbe();
    } else {
      this.#timerMode = LT_RTO;
      this.timer.armAtMs = rtoAt;
      this.#svc.ctx.timers.arm(this.timer);
    }
  }

  /**
   * RACK finds a loss only from a later transmission's delivery (RFC 8985 §6), and TLP does
   * not probe during recovery (§7.2): in recovery, when the newest transmission is lost,
   * nothing but the RTO — 200 ms at least, here and in Linux — would find it. A probe timer
   * (2·SRTT + 2 ms; a segment filling a hole is ACKed at once, RFC 5681 §4.2) does instead:
   * a newest retransmission is deemed lost and resent; newest new data gets a tail probe
   * (the last segment resent, as TLP does). At most {@link MAX_RETRANS_PROBES} probes in a
   * row without SND.UNA moving; after that the RTO backs off as usual. An extension of
   * RACK-TLP: on veth, where a dropped super-segment is often most of the flight, it turns
   * most of the RTOs of a lossy transfer into millisecond repairs.
   */
  #retransProbeAllowed(): boolean {
    const st = this.#rec.state;
    return this.#conn.sackOk && this.rtt.hasSample && (st === CA_RECOVERY || st === CA_LOSS) &&
      this.#retransProbes < MAX_RETRANS_PROBES;
  }

  /** Arm the recovery probe at `eventMs`: 2·SRTT + 2 ms, never past the RTO. */
  #armRetransProbe(): void {
    const at = this.eventMs + 2 * this.rtt.srttMs + RETRANS_PROBE_EXTRA_MS;
    const rtoAt = this.#rtoDeadlineMs;
    this.#timerMode = LT_RETRANS_PROBE;
    this.timer.armAtMs = Math.min(at, rtoAt);
    this.#svc.ctx.timers.arm(this.timer);
  }

  /** The recovery probe fired (see {@link LossControl.#retransProbeAllowed}). */
  #onRetransProbe(): void {
    const conn = this.#conn;
    const now = this.#svc.ctx.clock.nowMs();
    if (this.#nothingToDo()) return;
    this.eventMs = now;
    if (!this.#retransProbeAllowed()) {
      this.#armLossTimer(false, false);
      return;
    }
    this.#retransProbes++;
    const sb = this.sb;
    if (this.lastTxRetrans && sb.retransBytes > 0) {
      // The newest retransmission is deemed lost: resent as soon as PRR allows (now).
      let newest = -1;
      for (let i = 0; i < sb.count; i++) {
        if ((sb.flags(i) & SB_RETRANS) === 0) continue;
        if (newest < 0 || sb.xmitMs(i) >= sb.xmitMs(newest)) newest = i;
      }
      if (newest >= 0) {
        sb.markLost(newest, RX_PROBE);
        this.lostSegments += Math.ceil(sb.length(newest) / this.#snd.mss);
        this.#svc.stats.TCPLostRetransmit++;
        this.#svc.stats.TCPRetransProbes++;
        sb.lostRetransmits = 0; // counted just above
        this.#prrCredit();
        conn.flushOutput();
      }
    } else if (this.#tailProbe(now, RX_PROBE)) {
      this.#svc.stats.TCPLossProbes++;
      this.#svc.stats.TCPRetransProbes++;
    }
    this.#armLossTimer(false, false);
  }

  /**
   * Resend the last segment of the highest unSACKed transmission (a TLP-style probe), logged
   * as `reason`.
   */
  #tailProbe(now: number, reason: number): boolean {
    const sb = this.sb;
    let i = sb.count - 1;
    while (i >= 0 && (sb.flags(i) & SB_SACKED) !== 0) i--;
    if (i < 0) return false;
    const mss = this.#snd.segMss();
    if (sb.length(i) > mss && sb.splitAt(i, (sb.end(i) - mss) >>> 0)) i++;
    return this.#snd.retransmit(i, sb.length(i), now, reason) > 0;
  }

  /**
   * After sending at `eventMs` (the sender sets it): start the RTO if it is not running (RFC
   * 6298 §5.1); (re)start the PTO after new data, the retransmission probe after a
   * retransmission.
   */
  afterSend(sentNew: boolean): void {
    // The time in `eventMs`, set by the sender: a fraction passed is a heap number ("dbl34").
    const now = this.eventMs;
    // Not running: the RTO's deadline starts now, and the timer is armed once below — for
    // the probe that replaces it, or for the RTO (a short connection's every send found it
    // stopped, and armed it for the RTO only to move it to the PTO at once).
    const idle = !this.timer.armed;
    if (idle) {
      this.#rtoDeadlineMs = now + this.rtt.rtoMs;
      this.#timerMode = LT_RTO;
    } else if (this.#timerMode === LT_REO) return;
    // RFC 8985 §7.2: restart the probe timer after new data went out.
    if (sentNew && this.#tlpAllowed()) this.#armPto();
    else if (this.#retransProbeAllowed()) this.#armRetransProbe();
    else if (idle || this.#timerMode === LT_RETRANS_PROBE) {
      this.#armTimer(LT_RTO, this.#rtoDeadlineMs);
    }
  }

  /** RFC 8985 §7.2: the PTO from `eventMs`, capped by the RTO deadline. */
  #armPto(): void {
    const now = this.eventMs;
    const rtt = this.rtt;
    const left = this.#rtoDeadlineMs - now;
    // `rack.ptoMs(…)` written out: SRTT and the RTO's time left passed, the PTO returned —
    // fractions, each a heap number per send when V8 does not inline the call ("sack33").
    // The choice by weights (0 or 1), not a merge, which V8's mid tier keeps boxed.
    const flight = (this.#snd.sndMax - this.#snd.sndUna) | 0;
    const extra = flight <= this.#snd.mss ? TLP_WORST_CASE_DELACK_MS : TLP_MIN_EXTRA_MS;
    const has = rtt.hasSample ? 1 : 0;
    const pto = has * (2 * rtt.srttMs + extra) + (1 - has) * TLP_NO_RTT_PTO_MS;
    this.#timerMode = LT_PTO;
    this.timer.armAtMs = now + Math.min(pto, Math.max(left, 0));
    this.#svc.ctx.timers.arm(this.timer);
  }

  /** A probe may be scheduled: SACK, no reduction or SACKed data, no probe out (§7.2). */
  #tlpAllowed(): boolean {
    const st = this.#rec.state;
    return this.#conn.sackOk && (st === CA_OPEN || st === CA_CWR) && !this.rack.tlpActive &&
      this.sb.sackedBytes === 0 && this.#snd.sndUna !== this.#snd.sndMax &&
      this.#conn.state >= TcpState.ESTABLISHED;
  }

  /** Not synchronized, or nothing in flight: a timer that fired has nothing to do. */
  #nothingToDo(): boolean {
    const st = this.#conn.state;
    return st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT ||
      this.#snd.sndUna === this.#snd.sndMax;
  }

  /**
   * Losses found by a timer, in recovery: PRR credits one segment, so the retransmission
   * goes now (Linux tcp_rack_reo_timeout: `tcp_cwnd_reduction(sk, 1, …)`).
   */
  #prrCredit(): void {
    const cc = this.#snd.cc;
    if (this.#rec.state !== CA_RECOVERY || cc.ownsRecovery) return;
    const pipe = this.pipe;
    const mss = this.#snd.mss;
    this.#rec.prr.onAck(mss, pipe, cc.ssthresh, mss);
    cc.setCwnd(pipe + this.#rec.prr.sndcnt);
  }

  /** The retransmission timer fired in one of its modes. */
  #onLossTimer(): void {
    const mode = this.#timerMode;
    this.#timerMode = LT_RTO;
    if (mode === LT_REO) this.#onReorderTimeout();
    else if (mode === LT_PTO) this.#onPto();
    else if (mode === LT_RETRANS_PROBE) this.#onRetransProbe();
    else this.#snd.rtoExpired();
  }

  /** RFC 8985 §6.3: the reordering window of a segment passed: RACK decides again. */
  #onReorderTimeout(): void {
    const conn = this.#conn;
    if (this.#nothingToDo()) return;
    const now = this.#svc.ctx.clock.nowMs();
    this.eventMs = now;
    const sb = this.sb;
    const before = sb.lostBytes;
    this.rack.detectLoss(sb, this, this.#rec.repairing, this.#snd.mss, RX_RACK_TIMER);
    const lost = sb.lostBytes - before;
    if (lost > 0) {
      const segs = Math.ceil(lost / this.#snd.mss);
      this.lostSegments += segs;
      this.#svc.stats.TCPRackTimerLostSegs += segs;
      if (!this.#rec.repairing) this.#enterRecovery(now);
      this.#prrCredit();
      conn.flushOutput();
    }
    this.#armLossTimer(false, true);
  }

  /**
   * RFC 8985 §7.3: the probe timeout fired: send one new segment if the peer's window
   * allows (cwnd does not matter), else retransmit the last segment; then the RTO.
   */
  #onPto(): void {
    if (this.#nothingToDo()) return;
    const svc = this.#svc;
    const now = svc.ctx.clock.nowMs();
    const mss = this.#snd.segMss();
    let sent = false;
    let isRetrans = false;
    let unsent = this.#snd.unsentBytes;
    if (unsent > mss) unsent = mss;
    const wndAvail = (this.#snd.sndUna + this.#snd.sndWnd - this.#snd.sndNxt) | 0;
    if (unsent > 0 && wndAvail >= unsent) sent = this.#snd.sendNew(unsent, now);
    if (!sent && this.#tailProbe(now, RX_TLP)) {
      sent = true;
      isRetrans = true;
    }
    if (sent) {
      svc.stats.TCPLossProbes++;
      this.rack.probeSent(this.#snd.sndMax, isRetrans);
    }
    if (this.#rtoDeadlineMs <= now) this.#rtoDeadlineMs = now + this.rtt.rtoMs;
    this.#armTimer(LT_RTO, this.#rtoDeadlineMs);
  }
}
