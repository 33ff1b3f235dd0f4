/**
 * The sending half of a TCP connection (gVisor's `sender`, snd.go): the send sequence space
 * (ISS, SND.UNA, SND.NXT, SND.MAX, SND.WND and its update numbers), the send ring, the send
 * MSS, and the parts of loss recovery and congestion control it drives, each in its own
 * file: the SACK scoreboard (`scoreboard.ts`, RFC 6675), RACK-TLP (`rack.ts`, RFC 8985), the
 * recovery state with PRR and undo (`recovery.ts`, `prr.ts`), delivery-rate sampling
 * (`delivery_rate.ts`), pacing (`pacing.ts`), the RTT estimator and the congestion algorithm
 * (`congestion/`).
 *
 * ACK processing (`onAck`, RFC 9293 §3.10.7.4 fifth check) goes: the cumulative part and the
 * SACK blocks update the scoreboard (RFC 2018, D-SACK RFC 2883); RTT (RFC 6298, per-segment
 * send times, Karn) and RACK learn; an outstanding tail loss probe is judged; a spurious
 * reduction is undone (D-SACK, Eifel); RACK (with SACK) or the NewReno rules (RFC 6582,
 * without) deem segments lost and start fast recovery; ECN-Echo starts a reduction (RFC
 * 3168); PRR sets the window during reductions; the congestion algorithm sees the ACK.
 *
 * Output (`output`) follows RFC 6675's NextSeg: segments deemed lost first, then new data
 * as the windows, Nagle/Minshall, cork and sender SWS avoidance (RFC 1122 §4.2.3.4) allow,
 * in TSO bursts sized by the pacer, which holds transmissions until their release time.
 *
 * One timer serves the retransmission timeout, the RACK reordering timeout and the tail loss
 * probe (Linux's `icsk_retransmit_timer` with its modes); persist, cork and pacing have their
 * own.
 *
 * Only this file writes these fields: "who moves SND.NXT?" is answered here. Segments are
 * built by the connection ({@link SenderConnection.emit}), which adds the receive side's ACK
 * and window. Nothing is allocated per segment or ACK.
 *
 * Why this file is over 600 lines: it is the whole send side — state, ACK processing,
 * output, timers — so that SND.* has exactly one writer; splitting it by function would
 * bring back fields written from several files. The algorithms themselves live in the
 * files named above.
 *
 * @module
 */

import { ByteRing } from "../../core/byte_ring.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { AckSample, type CongestionControl, createCongestionControl } from "./congestion/mod.ts";
import type { TcpServices } from "./context.ts";
import { DeliveryRate } from "./delivery_rate.ts";
import {
  TCP_FLAG_ACK,
  TCP_FLAG_CWR,
  TCP_FLAG_ECE,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_SYN,
} from "./header.ts";
import { DEFAULT_PEER_MSS } from "./mss.ts";
import type { TcpHeaderOptions } from "./options.ts";
import { Pacer } from "./pacing.ts";
import { RackTlp, TLP_LOSS } from "./rack.ts";
import { CA_CWR, CA_DISORDER, CA_LOSS, CA_OPEN, CA_RECOVERY, LossRecovery } from "./recovery.ts";
import { HANDSHAKE_RETRY_RTO_MS, RttEstimator } from "./rtt_estimator.ts";
import { isDsack, SB_FIN, SB_RETRANS, SB_SACKED, Scoreboard } from "./scoreboard.ts";
import type { RxSegment } from "./segment.ts";
import { seqAdd, seqBetween, seqDiff, seqGe, seqGt, seqLe, seqLt, seqSub } from "./seq.ts";
import { TcpEvent, TcpState } from "./state.ts";

/** Linux's TCP_CORK bound: a corked partial segment leaves after at most this long. */
export const CORK_TIMEOUT_MS = 200;
/** Most doublings of the persist interval. */
const MAX_PERSIST_BACKOFF = 16;
/** RFC 5961 §5.2 bound on old ACKs while the peer never offered a window yet. */
const DEFAULT_MAX_SND_WND = 0x10000;
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

/** {@link TcpSender.checkAck}: the ACK may be processed. */
export const ACK_OK = 0;
/** {@link TcpSender.checkAck}: acknowledges data never sent: answer with an ACK and drop. */
export const ACK_TOO_NEW = 1;
/** {@link TcpSender.checkAck}: older than the window allows: challenge ACK and drop. */
export const ACK_TOO_OLD = 2;
/** One of the `ACK_*` verdicts. */
export type AckVerdict = typeof ACK_OK | typeof ACK_TOO_NEW | typeof ACK_TOO_OLD;

/** What a sender needs from its connection; `TcpEndpoint` implements it. */
export interface SenderConnection {
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
   * Build and send one segment: `len` bytes of the send ring from `seq` with `flags` (the
   * connection adds ACK, window and options), cut into `gsoSize` segments by the NIC when
   * non-zero; `ect` marks the packet ECN-capable. False when no buffer was free.
   */
  emit(seq: number, flags: number, len: number, gsoSize: number, ect?: boolean): boolean;
  /** Largest TSO super-segment payload for `mss` on the connection's route (0: no TSO). */
  tsoLimit(mss: number): number;
  /**
   * Bytes the SACK option of the next segment takes (0: none). Data segments shrink by it,
   * so that a piggybacked SACK never makes a segment exceed the MSS (Linux tcp_current_mss).
   */
  sackOptionBytes(): number;
  /** Produce output at the end of the tick. */
  scheduleOutput(): void;
  /** Produce output now (the SYN, or data and a pending ACK). */
  flushOutput(): void;
  /** Report a state-machine event (our FIN acknowledged). */
  transition(ev: TcpEvent): void;
  /** Retries are exhausted: give up (ETIMEDOUT, or the ICMP error seen). */
  timedOut(): void;
  /** Recompute readiness (send-buffer room). */
  updateReadiness(): void;
}

/**
 * The send side of one connection, created with it.
 *
 * @example
 * ```ts ignore
 * const snd = new TcpSender(endpoint, layer);
 * snd.start(iss, now);
 * snd.write(bytes, 0, bytes.length);
 * snd.output();
 * ```
 */
export class TcpSender {
  /** ISS. */
  iss = 0;
  /** SND.UNA: oldest unacknowledged sequence number. */
  sndUna = 0;
  /** SND.NXT: next sequence number to send (SND.MAX once established: lost data is resent by the scoreboard). */
  sndNxt = 0;
  /** Highest sequence number sent + 1. */
  sndMax = 0;
  /** SND.WND: the peer's window in bytes. */
  sndWnd = 0;
  /** SND.WL1: SEG.SEQ of the last window update. */
  sndWl1 = 0;
  /** SND.WL2: SEG.ACK of the last window update. */
  sndWl2 = 0;
  /** Largest window the peer offered (sender SWS, RFC 1122 §4.2.3.4; RFC 5961 §5.2). */
  maxSndWnd = 0;
  /** Sequence number of the first byte in `sndBuf`. */
  sndBufSeq = 0;
  /** Unacknowledged and unsent data. */
  readonly sndBuf: ByteRing;
  /** The application shut the write side: a FIN follows the data. */
  finQueued = false;
  /** End of the last short segment sent (Minshall's Nagle variant). */
  sndSml = 0;
  /** Send MSS (payload bytes per segment, timestamp option excluded). */
  mss: number = DEFAULT_PEER_MSS;
  /** The peer's window shift. */
  sndShift = 0;
  /** Congestion control (replaced by `setCongestionControl`). */
  cc: CongestionControl;
  /** RTT estimate and RTO. */
  readonly rtt: RttEstimator;
  /** The SACK scoreboard: every transmission in flight. */
  readonly sb: Scoreboard;
  /** Delivery-rate estimation. */
  readonly rate: DeliveryRate = new DeliveryRate();
  /** RACK-TLP loss detection. */
  readonly rack: RackTlp = new RackTlp();
  /** Recovery state, PRR, undo. */
  readonly rec: LossRecovery = new LossRecovery();
  /** Pacing. */
  readonly pacer: Pacer = new Pacer();
  /** Consecutive RTOs without progress. */
  retries = 0;
  /** SYN / SYN-ACK retransmissions. */
  synRetries = 0;
  /** When the SYN was first sent (RTT sample if it was not retransmitted). */
  synSentMs = 0;
  /** Total segments retransmitted. */
  retransmits = 0;
  /** Segments deemed lost over the connection's life. */
  lostSegments = 0;
  /** Zero-window probes sent without an answer. */
  probes = 0;
  /** Persist backoff count. */
  persistBackoff = 0;
  /** The next output pass may ignore sender SWS once (persist or cork timer fired). */
  forceSend = false;
  /** Send-buffer auto-tuning (off once SO_SNDBUF is set). */
  autotune = true;
  /** Bytes of our data the peer acknowledged. */
  bytesAcked = 0;
  /** TCP_NODELAY. */
  noDelay = false;
  /** TCP_CORK. */
  cork = false;
  /** Retransmission timer: RTO, RACK reordering timeout or tail loss probe (and SYN retry). */
  readonly rtoTimer: Timer;
  /** Zero-window probe timer. */
  readonly persistTimer: Timer;
  /** TCP_CORK holds a short segment at most {@link CORK_TIMEOUT_MS}. */
  readonly corkTimer: Timer;
  /** Pacing: restarts output at the pacer's release time. */
  readonly pacingTimer: Timer;
  readonly #conn: SenderConnection;
  readonly #svc: TcpServices;
  readonly #sample = new AckSample();
  /** Which of the `LT_*` the retransmission timer is armed for. */
  #timerMode = LT_RTO;
  /** When the RTO expires (the PTO and reordering timer never go beyond it). */
  #rtoDeadlineMs = 0;
  /** Output stopped on cwnd since the last ACK (RFC 7661). */
  #cwndLimited = false;
  /** When data was last sent (idle restart, RFC 5681 §4.1). */
  #lastSendMs = -1;
  /** `sb.lostRetransmits` already counted. */
  #lostRetransCounted = 0;
  /** The RTT of the most recently sent delivered segment (ms; for CC). */
  #lastRttMs = -1;
  /** The newest transmission was a retransmission. */
  #lastTxRetrans = false;
  /** Retransmission probes since SND.UNA last moved. */
  #retransProbes = 0;
  /** This ACK was a NewReno partial ACK: its hole goes out whatever PRR says. */
  #partialAck = false;

  /** The send side of `conn`. */
  constructor(conn: SenderConnection, svc: TcpServices) {
    this.#conn = conn;
    this.#svc = svc;
    const o = svc.opts;
    this.sndBuf = new ByteRing(o.sendBufferBytes);
    this.cc = createCongestionControl(o.congestionControl);
    this.rtt = new RttEstimator({
      initialRtoMs: o.initialRtoMs,
      minRtoMs: o.minRtoMs,
      maxRtoMs: o.maxRtoMs,
    });
    this.sb = new Scoreboard(this.rate);
    this.rtoTimer = new Timer(() => this.#onLossTimer());
    this.persistTimer = new Timer(() => this.#onPersist());
    this.corkTimer = new Timer(() => this.#onCork());
    this.pacingTimer = new Timer(() => this.#onPacing());
  }

  /** Sequence number of our FIN (valid when `finQueued`): right after the data. */
  get finSeq(): number {
    return seqAdd(this.sndBufSeq, this.sndBuf.length);
  }

  /** True while sent data is unacknowledged. */
  get inFlight(): boolean {
    return this.sndUna !== this.sndMax;
  }

  /** RFC 6675 pipe: bytes estimated in the network. */
  get pipe(): number {
    return this.sb.pipe(seqDiff(this.sndMax, this.sndUna));
  }

  /**
   * TCP_CONGESTION: use the algorithm called `name` from now on (an established connection
   * keeps its window, as Linux's reinit does).
   *
   * @throws {UnknownCongestionControlError} (ENOENT) for an unknown name.
   */
  setCongestionControl(name: string): void {
    const cc = createCongestionControl(name);
    if (this.#conn.state >= TcpState.ESTABLISHED) {
      const cwnd = this.cc.cwnd;
      cc.init(this.mss, this.#svc.ctx.clock.nowMs(), this.rtt.hasSample ? this.rtt.srttMs : 0);
      cc.setCwnd(cwnd);
    }
    this.cc = cc;
  }

  // ---- handshake -------------------------------------------------------------------------

  /** Our SYN will carry `iss`; data starts after it. */
  start(iss: number, nowMs: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.sndBufSeq = seqAdd(iss, 1);
    this.sndSml = iss;
    this.synSentMs = nowMs;
    this.sb.reset(seqAdd(iss, 1));
    this.rec.reset(iss);
    this.rack.reset();
  }

  /** The peer's SYN (RFC 7323 §2.2: its window is not scaled) with SEG.SEQ, SEG.ACK. */
  peerSyn(window: number, seq: number, ack: number): void {
    this.sndWnd = window;
    this.maxSndWnd = window;
    this.sndWl1 = seq;
    this.sndWl2 = ack;
  }

  /** What the SYN exchange settled: the peer's window shift and our send MSS. */
  setPeerOptions(shift: number, mss: number): void {
    this.sndShift = shift;
    this.mss = mss;
  }

  /** RFC 9293 §3.10.7.3: a SYN_SENT ACK must acknowledge our SYN and nothing beyond. */
  acksSyn(ack: number): boolean {
    return seqGt(ack, this.iss) && seqLe(ack, this.sndMax);
  }

  /** RFC 9293 §3.10.7.4: in SYN_RECEIVED the ACK must lie in (SND.UNA, SND.MAX]. */
  acksSynAck(ack: number): boolean {
    return seqBetween(ack, seqAdd(this.sndUna, 1), this.sndMax);
  }

  /** A SYN-ACK acknowledged our SYN (SYN_SENT): SND.UNA moves, the handshake RTT is sampled. */
  synAcked(seg: RxSegment, nowMs: number): void {
    this.sndUna = seg.ack;
    if (seqLt(this.sndNxt, this.sndUna)) this.sndNxt = this.sndUna;
    if (this.synRetries === 0) this.rtt.sample(nowMs - this.synSentMs);
    else if (this.#conn.tsOk && seg.opts.tsEcr !== 0) {
      this.rtt.sample((this.#conn.tsNow() - seg.opts.tsEcr) >>> 0);
    }
    this.#svc.ctx.timers.cancel(this.rtoTimer);
  }

  /** The ACK completing a passive handshake carries the peer's first scaled window. */
  synAckAcked(seg: RxSegment): void {
    this.sndWnd = seg.window << this.sndShift;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
    if (this.synRetries === 0) this.rtt.sample(this.#svc.ctx.clock.nowMs() - this.synSentMs);
  }

  /** Send the SYN (or SYN-ACK) again: it was lost, or a simultaneous open needs a SYN-ACK. */
  resendSyn(): void {
    this.sndNxt = this.iss;
  }

  /** The handshake completed: congestion control starts (RFC 6928), RFC 6298 §5.7. */
  established(nowMs: number): void {
    this.cc.init(this.mss, nowMs, this.rtt.hasSample ? this.rtt.srttMs : 0);
    if (this.synRetries > 0 && !this.rtt.hasSample) this.rtt.reset(HANDSHAKE_RETRY_RTO_MS);
    this.retries = 0;
    this.sb.reset(this.sndUna);
    this.rec.reset(this.sndUna);
    if (this.sndUna === this.sndMax) this.#svc.ctx.timers.cancel(this.rtoTimer);
  }

  /** Send the SYN (SYN_SENT) or SYN-ACK (SYN_RECEIVED) if it is due, and time it. */
  sendSyn(): void {
    if (this.sndNxt !== this.iss) return;
    const flags = this.#conn.state === TcpState.SYN_SENT
      ? TCP_FLAG_SYN
      : TCP_FLAG_SYN | TCP_FLAG_ACK;
    if (this.#conn.emit(this.iss, flags, 0, 0)) {
      this.sndNxt = seqAdd(this.iss, 1);
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    }
    if (!this.rtoTimer.armed) this.#armTimer(LT_RTO, this.#svc.ctx.clock.nowMs() + this.rtt.rtoMs);
  }

  // ---- ACK processing --------------------------------------------------------------------

  /**
   * RFC 5961 §5.2: an ACK outside [SND.UNA − MAX.SND.WND, SND.MAX] is not processed; a too
   * new one is answered with an ACK, a too old one with a challenge ACK.
   */
  checkAck(ack: number): AckVerdict {
    if (seqGt(ack, this.sndMax)) return ACK_TOO_NEW;
    const maxWnd = this.maxSndWnd > 0 ? this.maxSndWnd : DEFAULT_MAX_SND_WND;
    return seqLt(ack, seqSub(this.sndUna, maxWnd)) ? ACK_TOO_OLD : ACK_OK;
  }

  /**
   * The ACK field of an acceptable segment in a synchronized state (see the module doc for
   * the steps). Returns false when the connection ended (LAST_ACK done).
   */
  onAck(seg: RxSegment): boolean {
    const conn = this.#conn;
    const svc = this.#svc;
    const stats = svc.stats;
    const now = svc.ctx.clock.nowMs();
    const ack = seg.ack;
    const sb = this.sb;
    const rec = this.rec;
    const rack = this.rack;
    const mss = this.mss;
    const o = seg.opts;
    const scaledWnd = seg.window << this.sndShift;
    const priorUna = this.sndUna;
    const priorOut = seqDiff(this.sndMax, priorUna);
    const priorPipe = sb.pipe(priorOut);
    const advanced = seqGt(ack, priorUna);
    sb.beginAck(now, rack.minRttMs);
    this.rate.beginAck();
    // The cumulative part.
    let acked = 0;
    if (advanced) {
      acked = seqDiff(ack, priorUna);
      let dataAcked = seqDiff(ack, this.sndBufSeq);
      if (dataAcked > this.sndBuf.length) dataAcked = this.sndBuf.length;
      if (dataAcked > 0) {
        this.sndBuf.consume(dataAcked);
        this.sndBufSeq = seqAdd(this.sndBufSeq, dataAcked);
        this.bytesAcked += dataAcked;
      }
      this.sndUna = ack;
      if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
      if (seqLt(this.sndSml, ack)) this.sndSml = ack; // keep Minshall's marker from wrapping
      sb.ackTo(ack);
      this.#retransProbes = 0;
      this.retries = 0;
      this.probes = 0;
      this.persistBackoff = 0;
    }
    // SACK blocks (RFC 2018), the first one maybe a D-SACK (RFC 2883).
    let dsackRight = -1;
    if (conn.sackOk && o.sackBlockCount > 0) dsackRight = this.#processSack(o, ack);
    // RFC 5681 §2 duplicate ACK.
    const dup = !advanced && ack === priorUna && seg.dataLen === 0 &&
      (seg.flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === 0 && scaledWnd === this.sndWnd &&
      priorOut > 0;
    if (dup) rec.dupAcks++;
    else if (advanced) rec.dupAcks = 0;
    const renoDelivered = conn.sackOk ? 0 : this.#renoAccount(dup, acked);
    this.rate.endAck(rack.minRttMs);
    // RTT (RFC 6298, Karn): send times of never-retransmitted segments, else timestamps.
    let rtt = sb.ackRttOldestMs;
    if (rtt < 0 && advanced && conn.tsOk && o.hasTimestamps && o.tsEcr !== 0) {
      const r = (conn.tsNow() - o.tsEcr) >>> 0;
      if (r < 0x7fffffff) rtt = r;
    }
    if (rtt >= 0) this.rtt.sample(rtt);
    else if (advanced) this.rtt.resetBackoff();
    if (sb.ackRttNewestMs >= 0) this.#lastRttMs = sb.ackRttNewestMs;
    rack.onAck(sb, dsackRight >= 0, this.sndUna, this.sndMax, now);
    // RFC 8985 §7.4: what the ACK says about an outstanding tail loss probe.
    if (rack.tlpActive) {
      const news = advanced || sb.ackSacked > 0 || seg.dataLen > 0 || scaledWnd !== this.sndWnd;
      if (rack.tlpAck(ack, dsackRight, news) === TLP_LOSS) {
        stats.TCPLossProbeRecovery++;
        if (!rec.inReduction) this.#startReduction(CA_CWR, now);
      }
    }
    // Spurious reductions: every retransmission D-SACKed, or Eifel with timestamps.
    if (
      advanced && rec.repairing && conn.tsOk && o.hasTimestamps && rec.eifelSpurious(o.tsEcr)
    ) {
      if (rec.state === CA_LOSS) stats.TCPSpuriousRTOs++;
      this.#undo(now);
    }
    // The end of a reduction: SND.UNA reached `recover`.
    if (rec.inReduction && seqGe(this.sndUna, rec.recover)) this.#endReduction(now);
    // Loss detection: RACK with SACK, NewReno's rules without.
    let reoWait = 0;
    const lostBefore = sb.lostBytes;
    if (sb.count > 0) {
      if (conn.sackOk) {
        if (sb.sackedBytes > 0 || rec.repairing || dup || dsackRight >= 0) {
          reoWait = rack.detectLoss(sb, now, this.rtt.srttMs, rec.repairing, mss);
        }
      } else {
        this.#renoMarkLost(dup, advanced);
      }
    }
    const newlyLost = sb.lostBytes > lostBefore ? sb.lostBytes - lostBefore : 0;
    if (newlyLost > 0) this.lostSegments += Math.ceil(newlyLost / mss);
    if (sb.lostRetransmits !== this.#lostRetransCounted) {
      stats.TCPLostRetransmit += sb.lostRetransmits - this.#lostRetransCounted;
      this.#lostRetransCounted = sb.lostRetransmits;
    }
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
    this.#congestionControl(now, acked, sb.ackDelivered + renoDelivered, priorPipe, newlyLost);
    // Timers: RFC 6298 §5.2–5.3, RACK reordering timer, TLP.
    if (this.sndUna === this.sndMax) {
      svc.ctx.timers.cancel(this.rtoTimer);
      rack.tlpActive = false;
    } else if (advanced || reoWait > 0 || this.#timerMode !== LT_RTO || !this.rtoTimer.armed) {
      this.#armLossTimer(now, advanced, reoWait);
    }
    if (advanced || sb.ackDelivered > 0 || dup || newlyLost > 0) conn.scheduleOutput();
    if (advanced) {
      if (this.finQueued && seqGt(ack, this.finSeq)) {
        conn.transition(TcpEvent.RCV_ACK_OF_FIN);
        if (conn.state === TcpState.CLOSED) return false; // LAST_ACK done
      }
      conn.updateReadiness();
    }
    // RFC 9293 §3.10.7.4: window update from a newer segment.
    if (seqLt(this.sndWl1, seg.seq) || (this.sndWl1 === seg.seq && seqLe(this.sndWl2, ack))) {
      const opened = scaledWnd > this.sndWnd;
      this.sndWnd = scaledWnd;
      this.sndWl1 = seg.seq;
      this.sndWl2 = ack;
      if (scaledWnd > this.maxSndWnd) this.maxSndWnd = scaledWnd;
      if (opened) {
        this.probes = 0;
        if (this.persistTimer.armed) svc.ctx.timers.cancel(this.persistTimer);
        this.persistBackoff = 0;
        conn.scheduleOutput();
      }
    }
    return true;
  }

  /**
   * The SACK blocks of an ACK (SND.UNA already moved to `ack`): a D-SACK first block is
   * counted and offered to undo; the others mark the scoreboard, clipped to what is in
   * flight (RFC 2018 §3; invalid blocks are discarded, Linux TCPSACKDiscard). Returns the
   * D-SACK's right edge, or -1.
   */
  #processSack(o: TcpHeaderOptions, ack: number): number {
    const stats = this.#svc.stats;
    const blocks = o.sackBlocks;
    const n = o.sackBlockCount;
    let first = 0;
    let dsackRight = -1;
    if (isDsack(blocks, n, ack)) {
      first = 1;
      dsackRight = blocks[1];
      stats.TCPDSACKRecv++;
      if (this.rec.onDsack(blocks[0], blocks[1], this.mss)) {
        stats.TCPDSACKUndo++;
        this.#undo(this.#svc.ctx.clock.nowMs());
      }
    }
    for (let k = first; k < n; k++) {
      let l = blocks[2 * k];
      const r = blocks[2 * k + 1];
      if (!seqLt(l, r) || seqGt(r, this.sndMax) || seqLe(r, ack)) {
        if (!seqLe(r, ack)) stats.TCPSACKDiscard++;
        continue;
      }
      if (seqLt(l, ack)) l = ack;
      this.sb.sack(l, r);
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
    const mss = this.mss;
    if (dup) {
      const room = seqDiff(this.sndMax, this.sndUna) - sb.renoSackedBytes - mss;
      const add = room < mss ? (room > 0 ? room : 0) : mss;
      sb.renoSackedBytes += add;
      return add;
    }
    if (acked > 0 && sb.renoSackedBytes > 0) {
      let removed = acked - mss;
      if (removed < 0) removed = 0;
      if (removed > sb.renoSackedBytes) removed = sb.renoSackedBytes;
      sb.renoSackedBytes -= removed;
      if (this.sndUna === this.sndMax) sb.renoSackedBytes = 0;
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
    const rec = this.rec;
    const sb = this.sb;
    let mark = false;
    if (!rec.repairing) {
      mark = dup && rec.dupAcks === 3 &&
        (seqGt(this.sndUna, rec.recover) || rec.recover === this.sndUna);
    } else if (advanced && rec.state === CA_RECOVERY && seqLt(this.sndUna, rec.recover)) {
      mark = true;
    }
    if (!mark || sb.count === 0) return;
    if (sb.length(0) > this.mss && sb.hasRoom()) sb.splitAt(0, seqAdd(sb.start(0), this.mss));
    sb.markLost(0);
    this.#partialAck = rec.repairing;
  }

  /** RFC 6675 §5 / RFC 6582 §3.2: losses found: fast recovery (once). */
  #enterRecovery(now: number): void {
    const rec = this.rec;
    const stats = this.#svc.stats;
    if (this.#conn.sackOk) stats.TCPSackRecovery++;
    else stats.TCPRenoRecovery++;
    if (rec.state === CA_CWR) {
      // Already reducing (ECN/TLP): the loss extends it, it does not reduce again.
      rec.upgradeToRecovery(this.sndUna, this.sndMax);
      return;
    }
    this.#startReduction(CA_RECOVERY, now);
  }

  /** A reduction (`state`: CWR or Recovery) starts: ssthresh from the algorithm, PRR on. */
  #startReduction(state: number, now: number): void {
    const cc = this.cc;
    this.rec.enter(state, this.sndUna, this.sndMax, cc.cwnd);
    cc.onCongestionEvent(seqDiff(this.sndMax, this.sndUna), now);
    if (this.#conn.ecnOk) this.rec.cwrPending = true;
  }

  /** SND.UNA reached `recover`: the reduction is over, cwnd = ssthresh. */
  #endReduction(now: number): void {
    if (this.rec.repairing) this.rack.onRecoveryEnd();
    this.cc.onRecoveryEnd(now);
    this.rec.end();
  }

  /** The last reduction was spurious: the window comes back, nothing is deemed lost. */
  #undo(now: number): void {
    const rec = this.rec;
    if (rec.repairing) this.rack.onRecoveryEnd();
    this.cc.undoReduction(now);
    this.sb.unmarkLost();
    rec.undone();
  }

  /** Fill the ACK sample, run PRR during a reduction, and let the algorithm see the ACK. */
  #congestionControl(
    now: number,
    acked: number,
    delivered: number,
    priorPipe: number,
    lost: number,
  ): void {
    const cc = this.cc;
    const rec = this.rec;
    const rate = this.rate;
    const s = this.#sample;
    const pipe = this.pipe;
    s.nowMs = now;
    s.ackedBytes = acked;
    s.deliveredBytes = delivered > 0 ? delivered : 0;
    s.priorInflight = priorPipe;
    s.inflight = pipe;
    s.rttMs = this.sb.ackRttNewestMs;
    s.minRttMs = this.rack.minRttMs;
    s.srttMs = this.rtt.hasSample ? this.rtt.srttMs : 0;
    s.lostBytes = lost;
    s.delivered = rate.delivered;
    s.priorDelivered = rate.priorDelivered;
    s.deliveryRate = rate.rateBytesPerMs;
    s.intervalMs = rate.intervalMs;
    s.isAppLimited = rate.isAppLimited;
    s.cwndLimited = this.#cwndLimited;
    s.inRecovery = rec.state === CA_CWR || rec.state === CA_RECOVERY;
    this.#cwndLimited = false;
    if (s.inRecovery && !cc.ownsRecovery) {
      // RFC 6937: cwnd = pipe + sndcnt during the reduction; RFC 6582 §3.2 step 5: a
      // partial ACK's hole is retransmitted at once.
      rec.prr.onAck(s.deliveredBytes, pipe, cc.ssthresh, this.mss);
      let sndcnt = rec.prr.sndcnt;
      if (this.#partialAck && sndcnt < this.mss) sndcnt = this.mss;
      cc.setCwnd(pipe + sndcnt);
    }
    this.#partialAck = false;
    if (s.deliveredBytes > 0 || lost > 0) cc.onAck(s);
    this.#updatePacingRate();
  }

  /**
   * The pacing rate: the algorithm's (BBR), or with `pacing` on Linux's default — 2× cwnd /
   * SRTT in slow start (below half of ssthresh), 1.2× after.
   */
  #updatePacingRate(): void {
    const cc = this.cc;
    let rate = cc.pacingRate;
    if (rate <= 0 && this.#svc.opts.pacing && this.rtt.hasSample) {
      const srtt = this.rtt.srttMs;
      if (srtt > 0) {
        const pipe = this.pipe;
        const w = cc.cwnd > pipe ? cc.cwnd : pipe;
        rate = (w / srtt) * (cc.cwnd < cc.ssthresh / 2 ? PACING_SS_RATIO : PACING_CA_RATIO);
      }
    }
    this.pacer.rateBytesPerMs = rate > 0 ? rate : 0;
  }

  // ---- output ----------------------------------------------------------------------------

  /** Payload of a full segment now: the MSS less the SACK option it would carry. */
  #segMss(): number {
    const m = this.mss - this.#conn.sackOptionBytes();
    return m > 64 ? m : 64;
  }

  /**
   * Send what the windows allow, lost segments first (RFC 6675 NextSeg), honouring the
   * pacer, and keep the retransmission/persist timers armed as needed.
   */
  output(): void {
    const conn = this.#conn;
    const svc = this.#svc;
    const now = svc.ctx.clock.nowMs();
    const mss = this.#segMss();
    const sb = this.sb;
    const rec = this.rec;
    const pacer = this.pacer;
    const dataEnd = this.finSeq;
    const force = this.forceSend;
    this.forceSend = false;
    // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the restart window.
    if (this.sndUna === this.sndMax && this.#lastSendMs >= 0) {
      if (now - this.#lastSendMs > this.rtt.rtoMs && seqGt(dataEnd, this.sndNxt)) {
        this.cc.onIdleRestart(now);
        this.#lastSendMs = now;
        this.#updatePacingRate();
      }
    }
    const burst = pacer.burstBytes(mss, conn.tsoLimit(mss));
    let sentNew = false;
    let sent = false;
    for (;;) {
      if (!pacer.ready(now)) {
        this.#armPacing();
        break;
      }
      const pipe = sb.pipe(seqDiff(this.sndMax, this.sndUna));
      let budget = this.cc.cwnd - pipe;
      if (budget > 0 && budget < mss) budget = mss; // whole segments, as Linux counts packets
      // NextSeg rule 1: what is deemed lost and not retransmitted yet.
      const li = sb.nextLost();
      if (li >= 0) {
        if (budget <= 0) {
          this.#cwndLimited = true;
          break;
        }
        const len = this.#retransmit(li, budget < burst ? budget : burst, now);
        if (len <= 0) break;
        if (rec.state === CA_LOSS) svc.stats.TCPSlowStartRetrans++;
        else svc.stats.TCPFastRetrans++;
        sent = true;
        continue;
      }
      // NextSeg rule 2: new data.
      let unsent = seqDiff(dataEnd, this.sndNxt);
      if (unsent < 0) unsent = 0;
      const finNow = this.finQueued && this.sndNxt === dataEnd;
      if (unsent === 0 && !finNow) {
        // §3.4 of the delivery-rate draft: nothing to send though the window is open.
        if (budget > 0 && sb.lostBytes <= sb.retransBytes) this.rate.markAppLimited(pipe);
        break;
      }
      let len = unsent < burst ? unsent : burst;
      if (len > 0) {
        const wndAvail = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
        let allow = wndAvail < budget ? wndAvail : budget;
        if (force && allow <= 0 && wndAvail > 0) allow = wndAvail < mss ? wndAvail : mss;
        if (allow <= 0) {
          if (budget <= 0) this.#cwndLimited = true;
          break;
        }
        const windowLimited = len > allow;
        if (windowLimited) {
          len = allow;
          // A window-limited super-segment ends on an MSS boundary (no runt segment).
          if (len > mss) len -= len % mss;
        }
        const carriesFin = this.finQueued && seqAdd(this.sndNxt, len) === dataEnd;
        if (len < mss && !carriesFin && !force) {
          // RFC 1122 §4.2.3.4 sender SWS: a window-limited short segment waits unless it is
          // at least half the largest window the peer ever offered.
          if (windowLimited && len < (this.maxSndWnd >>> 1)) break;
          if (!windowLimited) {
            if (this.cork) {
              this.#armCork();
              break;
            }
            // RFC 896 Nagle, Minshall's form (Linux): hold a short segment while an earlier
            // short one is unacknowledged.
            if (!this.noDelay && this.sndUna !== this.sndMax && seqGt(this.sndSml, this.sndUna)) {
              break;
            }
          }
        }
      }
      if (!this.#sendNew(len, now)) break;
      sent = true;
      sentNew = true;
      if (this.finQueued && this.sndNxt === seqAdd(dataEnd, 1)) break;
    }
    if (this.sndUna !== this.sndMax) {
      if (sent) this.#armAfterSend(now, sentNew);
    } else if (seqGt(dataEnd, this.sndNxt)) {
      // Data waits for a window that is closed (or too small to use): probe it.
      this.#armPersist();
    }
  }

  /**
   * Send `len` bytes of new data at SND.NXT (with the FIN when they end the stream, or the
   * FIN alone for `len` 0) and record the transmission. False when nothing could be sent.
   */
  #sendNew(len: number, now: number): boolean {
    const conn = this.#conn;
    const mss = this.#segMss();
    const dataEnd = this.finSeq;
    const seq = this.sndNxt;
    const fin = this.finQueued && seqAdd(seq, len) === dataEnd;
    if (len === 0 && !fin) return false;
    const sb = this.sb;
    if (!sb.hasRoom()) {
      this.#svc.stats.TCPSackScoreboardFull++;
      return false;
    }
    let flags = TCP_FLAG_ACK;
    if (fin) flags |= TCP_FLAG_FIN;
    if (len > 0 && seqAdd(seq, len) === dataEnd) flags |= TCP_FLAG_PSH;
    const ect = conn.ecnOk && len > 0;
    if (ect && this.rec.cwrPending) flags |= TCP_FLAG_CWR;
    if (!conn.emit(seq, flags, len, len > mss ? mss : 0, ect)) return false;
    if ((flags & TCP_FLAG_CWR) !== 0) this.rec.cwrPending = false;
    const end = seqAdd(seq, len + (fin ? 1 : 0));
    sb.onSend(seq, end, now, fin ? SB_FIN : 0);
    if (len < mss && len > 0) this.sndSml = end;
    this.#lastTxRetrans = false;
    this.sndNxt = end;
    if (seqGt(end, this.sndMax)) this.sndMax = end;
    this.#lastSendMs = now;
    this.pacer.onSent(len, now);
    if (this.rec.inReduction) this.rec.prr.onSent(len);
    return true;
  }

  /**
   * Retransmit record `i` of the scoreboard, at most `cap` bytes of it (a whole record when
   * the scoreboard cannot split it). Returns the sequence space resent, 0 when nothing left.
   */
  #retransmit(i: number, cap: number, now: number): number {
    const sb = this.sb;
    const mss = this.#segMss();
    const start = sb.start(i);
    let len = sb.length(i);
    let fin = (sb.flags(i) & SB_FIN) !== 0;
    if (len > cap && sb.hasRoom()) {
      len = cap - (cap % mss) || mss;
      if (len >= sb.length(i)) len = sb.length(i);
      else fin = false;
    }
    const dataLen = fin ? len - 1 : len;
    let flags = TCP_FLAG_ACK;
    if (fin) flags |= TCP_FLAG_FIN;
    if (!this.#conn.emit(start, flags, dataLen, dataLen > mss ? mss : 0)) return 0;
    const got = sb.onRetransmit(i, len, now);
    this.#lastTxRetrans = true;
    const segs = Math.ceil(got / mss);
    this.#svc.stats.RetransSegs += segs;
    this.retransmits += segs;
    this.rec.onRetransmit(got, mss, this.#conn.tsNow());
    if (this.rec.inReduction) this.rec.prr.onSent(got);
    this.pacer.onSent(dataLen, now);
    this.#lastSendMs = now;
    return got;
  }

  /**
   * A segment the peer must answer and cannot take as data: SEQ = SND.UNA − 1, no payload
   * (zero-window probe as Linux sends it; keepalive probe, RFC 1122 §4.2.3.6).
   */
  sendProbe(): void {
    this.#conn.emit(seqSub(this.sndUna, 1), TCP_FLAG_ACK, 0, 0);
  }

  // ---- the application side --------------------------------------------------------------

  /**
   * Queue `src[off, off + len)`: the bytes taken. Auto-tuning (Linux tcp_sndbuf_expand in
   * spirit): when the buffer is full while the congestion window could carry at least half
   * of it, it doubles up to `maxSendBufferBytes` and takes more.
   */
  write(src: Uint8Array, off: number, len: number): number {
    const buf = this.sndBuf;
    let n = buf.write(src, off, len);
    if (n < len && this.autotune) {
      const cap = buf.capacity;
      const max = this.#svc.opts.maxSendBufferBytes;
      if (cap < max && this.cc.cwnd * 2 >= cap) {
        buf.resize(Math.min(max, cap * 2));
        n += buf.write(src, off + n, len - n);
      }
    }
    return n;
  }

  /** A FIN follows the queued data. */
  queueFin(): void {
    this.finQueued = true;
  }

  /** SO_SNDBUF: resize (not below what is queued) and stop auto-tuning. */
  setBufferSize(bytes: number): void {
    this.autotune = false;
    this.sndBuf.resize(Math.max(bytes | 0, this.sndBuf.length, 1));
  }

  /** TCP_NODELAY on or off. */
  setNoDelay(on: boolean): void {
    this.noDelay = on;
  }

  /** TCP_CORK on or off (off: the held segment may leave now). */
  setCork(on: boolean): void {
    this.cork = on;
    if (!on) this.#svc.ctx.timers.cancel(this.corkTimer);
  }

  /**
   * ICMP "fragmentation needed" lowered the path MTU: a smaller MSS; what was sent in larger
   * segments is deemed lost and resent now (Linux tcp_simple_retransmit: no congestion
   * response).
   */
  lowerMss(mss: number): void {
    if (mss >= this.mss) return;
    this.mss = mss;
    if (this.#conn.state < TcpState.ESTABLISHED) return;
    this.cc.setMss(mss);
    const sb = this.sb;
    for (let i = 0; i < sb.count; i++) if (sb.length(i) > mss) sb.markLost(i);
    if (sb.lostBytes > 0 && !this.rec.repairing) {
      this.rec.state = CA_LOSS;
      this.rec.recover = this.sndMax;
    }
    this.#conn.scheduleOutput();
  }

  // ---- timers ----------------------------------------------------------------------------

  /** TIME_WAIT: nothing is retransmitted or probed any more. */
  stopRetransmitting(): void {
    const timers = this.#svc.ctx.timers;
    timers.cancel(this.rtoTimer);
    timers.cancel(this.persistTimer);
    timers.cancel(this.pacingTimer);
  }

  /** The connection is gone: every timer stops. */
  stop(): void {
    this.stopRetransmitting();
    this.#svc.ctx.timers.cancel(this.corkTimer);
  }

  /** Arm the retransmission timer for `mode` at `deadlineMs`. */
  #armTimer(mode: number, deadlineMs: number): void {
    this.#timerMode = mode;
    if (mode === LT_RTO) this.#rtoDeadlineMs = deadlineMs;
    this.#svc.ctx.timers.schedule(this.rtoTimer, deadlineMs);
  }

  /**
   * After an ACK (`restart`: it acknowledged new data, RFC 6298 §5.3): the RACK reordering
   * timer when a segment may soon be deemed lost (`reoWaitMs`), else a tail loss probe when
   * allowed, else the RTO — never later than the RTO would fire.
   */
  #armLossTimer(now: number, restart: boolean, reoWaitMs: number): void {
    if (restart || !this.rtoTimer.armed || this.#rtoDeadlineMs <= now) {
      this.#rtoDeadlineMs = now + this.rtt.rtoMs;
    }
    const rtoAt = this.#rtoDeadlineMs;
    if (reoWaitMs > 0) {
      const at = now + reoWaitMs;
      this.#timerMode = LT_REO;
      this.#svc.ctx.timers.schedule(this.rtoTimer, at < rtoAt ? at : rtoAt);
    } else if (this.#tlpAllowed()) {
      this.#armPto(now);
    } else if (this.#retransProbeAllowed()) {
      this.#armRetransProbe(now);
    } else {
      this.#timerMode = LT_RTO;
      this.#svc.ctx.timers.schedule(this.rtoTimer, rtoAt);
    }
  }

  /**
   * RACK detects a lost retransmission only from a later transmission's delivery (RFC 8985
   * §6): when the newest transmission is itself a retransmission, in recovery, nothing ever
   * will. Like a tail loss probe, a short timer (2·SRTT + 2 ms; a segment filling a hole is
   * ACKed at once, RFC 5681 §4.2) then deems it lost and resends it — at most
   * {@link MAX_RETRANS_PROBES} times in a row, after that the RTO backs off as usual. An
   * extension of RACK-TLP, which leaves this case to the RTO (200 ms at least, here and in
   * Linux).
   */
  #retransProbeAllowed(): boolean {
    const st = this.rec.state;
    return this.#conn.sackOk && this.#lastTxRetrans && this.rtt.hasSample &&
      (st === CA_RECOVERY || st === CA_LOSS) && this.sb.retransBytes > 0 &&
      this.#retransProbes < MAX_RETRANS_PROBES;
  }

  #armRetransProbe(now: number): void {
    const at = now + 2 * this.rtt.srttMs + RETRANS_PROBE_EXTRA_MS;
    const rtoAt = this.#rtoDeadlineMs;
    this.#timerMode = LT_RETRANS_PROBE;
    this.#svc.ctx.timers.schedule(this.rtoTimer, at < rtoAt ? at : rtoAt);
  }

  /** The retransmission probe fired: the newest retransmission is deemed lost and resent. */
  #onRetransProbe(): void {
    const conn = this.#conn;
    const st = conn.state;
    const now = this.#svc.ctx.clock.nowMs();
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT || this.sndUna === this.sndMax) {
      return;
    }
    if (!this.#retransProbeAllowed()) {
      this.#armLossTimer(now, false, 0);
      return;
    }
    this.#retransProbes++;
    const sb = this.sb;
    let newest = -1;
    for (let i = 0; i < sb.count; i++) {
      if ((sb.flags(i) & SB_RETRANS) === 0) continue;
      if (newest < 0 || sb.xmitMs(i) >= sb.xmitMs(newest)) newest = i;
    }
    if (newest >= 0) {
      sb.markLost(newest);
      this.lostSegments += Math.ceil(sb.length(newest) / this.mss);
      this.#svc.stats.TCPLostRetransmit++;
      this.#lostRetransCounted = sb.lostRetransmits;
      const cc = this.cc;
      if (this.rec.state === CA_RECOVERY && !cc.ownsRecovery) {
        const pipe = this.pipe;
        this.rec.prr.onAck(this.mss, pipe, cc.ssthresh, this.mss);
        cc.setCwnd(pipe + this.rec.prr.sndcnt);
      }
      conn.flushOutput();
    }
    this.#armLossTimer(now, false, 0);
  }

  /**
   * After sending: start the RTO if it is not running (RFC 6298 §5.1); (re)start the PTO
   * after new data, the retransmission probe after a retransmission.
   */
  #armAfterSend(now: number, sentNew: boolean): void {
    if (!this.rtoTimer.armed) {
      this.#rtoDeadlineMs = now + this.rtt.rtoMs;
      this.#timerMode = LT_RTO;
      this.#svc.ctx.timers.schedule(this.rtoTimer, this.#rtoDeadlineMs);
    }
    if (this.#timerMode === LT_REO) return;
    // RFC 8985 §7.2: restart the probe timer after new data went out.
    if (sentNew && this.#tlpAllowed()) this.#armPto(now);
    else if (this.#retransProbeAllowed()) this.#armRetransProbe(now);
    else if (this.#timerMode === LT_RETRANS_PROBE) this.#armTimer(LT_RTO, this.#rtoDeadlineMs);
  }

  /** RFC 8985 §7.2: the PTO, capped by the RTO deadline. */
  #armPto(now: number): void {
    const rtt = this.rtt;
    const left = this.#rtoDeadlineMs - now;
    const pto = this.rack.ptoMs(
      rtt.hasSample,
      rtt.srttMs,
      seqDiff(this.sndMax, this.sndUna),
      this.mss,
      left > 0 ? left : 0,
    );
    this.#timerMode = LT_PTO;
    this.#svc.ctx.timers.schedule(this.rtoTimer, now + pto);
  }

  /** A probe may be scheduled: SACK, no reduction or SACKed data, no probe out (§7.2). */
  #tlpAllowed(): boolean {
    const st = this.rec.state;
    return this.#conn.sackOk && (st === CA_OPEN || st === CA_CWR) && !this.rack.tlpActive &&
      this.sb.sackedBytes === 0 && this.sndUna !== this.sndMax &&
      this.#conn.state >= TcpState.ESTABLISHED;
  }

  /** Arm the persist timer (unless it or the RTO timer runs), backed off. */
  #armPersist(): void {
    if (this.persistTimer.armed || this.rtoTimer.armed) return;
    const svc = this.#svc;
    const base = this.rtt.rtoMs * 2 ** this.persistBackoff;
    const max = svc.opts.maxRtoMs;
    svc.ctx.timers.schedule(this.persistTimer, svc.ctx.clock.nowMs() + (base < max ? base : max));
  }

  /** Arm the cork timer if a short segment is being held by TCP_CORK. */
  #armCork(): void {
    if (this.corkTimer.armed) return;
    const ctx = this.#svc.ctx;
    ctx.timers.schedule(this.corkTimer, ctx.clock.nowMs() + CORK_TIMEOUT_MS);
  }

  /** Restart output at the pacer's release time. */
  #armPacing(): void {
    if (this.pacingTimer.armed) return;
    this.#svc.ctx.timers.schedule(this.pacingTimer, this.pacer.releaseMs);
  }

  /** The pacer's release time came. */
  #onPacing(): void {
    const st = this.#conn.state;
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
    this.#conn.flushOutput();
  }

  /** The retransmission timer fired in one of its modes. */
  #onLossTimer(): void {
    const mode = this.#timerMode;
    this.#timerMode = LT_RTO;
    if (mode === LT_REO) this.#onReorderTimeout();
    else if (mode === LT_PTO) this.#onPto();
    else if (mode === LT_RETRANS_PROBE) this.#onRetransProbe();
    else this.#onRto();
  }

  /** RFC 8985 §6.3: the reordering window of a segment passed: RACK decides again. */
  #onReorderTimeout(): void {
    const conn = this.#conn;
    const st = conn.state;
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT || this.sndUna === this.sndMax) {
      return;
    }
    const now = this.#svc.ctx.clock.nowMs();
    const sb = this.sb;
    const before = sb.lostBytes;
    const wait = this.rack.detectLoss(sb, now, this.rtt.srttMs, this.rec.repairing, this.mss);
    const lost = sb.lostBytes - before;
    if (lost > 0) {
      this.lostSegments += Math.ceil(lost / this.mss);
      if (!this.rec.repairing) this.#enterRecovery(now);
      const cc = this.cc;
      if (this.rec.state === CA_RECOVERY && !cc.ownsRecovery) {
        // Linux tcp_rack_reo_timeout: one segment's worth of PRR credit to retransmit now.
        const pipe = this.pipe;
        this.rec.prr.onAck(this.mss, pipe, cc.ssthresh, this.mss);
        cc.setCwnd(pipe + this.rec.prr.sndcnt);
      }
      conn.flushOutput();
    }
    this.#armLossTimer(now, false, wait);
  }

  /**
   * RFC 8985 §7.3: the probe timeout fired: send one new segment if the peer's window
   * allows (cwnd does not matter), else retransmit the last segment; then the RTO.
   */
  #onPto(): void {
    const conn = this.#conn;
    const st = conn.state;
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT || this.sndUna === this.sndMax) {
      return;
    }
    const svc = this.#svc;
    const now = svc.ctx.clock.nowMs();
    const sb = this.sb;
    const mss = this.#segMss();
    let sent = false;
    let isRetrans = false;
    let unsent = seqDiff(this.finSeq, this.sndNxt);
    if (unsent > mss) unsent = mss;
    const wndAvail = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
    if (unsent > 0 && wndAvail >= unsent) sent = this.#sendNew(unsent, now);
    if (!sent && sb.count > 0) {
      let i = sb.count - 1;
      const end = sb.end(i);
      if (sb.length(i) > mss && sb.splitAt(i, seqSub(end, mss))) i++;
      if ((sb.flags(i) & SB_SACKED) === 0 && this.#retransmit(i, sb.length(i), now) > 0) {
        sent = true;
        isRetrans = true;
      }
    }
    if (sent) {
      svc.stats.TCPLossProbes++;
      this.rack.probeSent(this.sndMax, isRetrans);
    }
    if (this.#rtoDeadlineMs <= now) this.#rtoDeadlineMs = now + this.rtt.rtoMs;
    this.#armTimer(LT_RTO, this.#rtoDeadlineMs);
  }

  /**
   * The retransmission timeout: resend the SYN (give up after `synRetries`), or (RFC 6298
   * §5.4–5.7, RFC 5681 §3.1) back off, collapse cwnd, deem every unSACKed segment lost and
   * resend from SND.UNA (give up after `maxRetries`).
   */
  #onRto(): void {
    const conn = this.#conn;
    const svc = this.#svc;
    const stats = svc.stats;
    const st = conn.state;
    const now = svc.ctx.clock.nowMs();
    if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED) {
      if (++this.synRetries > svc.opts.synRetries) {
        stats.AttemptFails++;
        conn.timedOut();
        return;
      }
      this.rtt.backoff();
      this.sndNxt = this.iss; // resend the SYN / SYN-ACK
      stats.RetransSegs++;
      this.retransmits++;
      conn.flushOutput();
      return;
    }
    if (st === TcpState.CLOSED || st === TcpState.TIME_WAIT || this.sndUna === this.sndMax) {
      return;
    }
    if (++this.retries > svc.opts.maxRetries) {
      // Linux tcp_write_err: the soft (ICMP) error if one was seen, else ETIMEDOUT.
      stats.TCPAbortOnTimeout++;
      conn.timedOut();
      return;
    }
    stats.TCPTimeouts++;
    const rec = this.rec;
    const sb = this.sb;
    if (rec.state !== CA_LOSS) {
      if (rec.repairing) this.rack.onRecoveryEnd();
      rec.enter(CA_LOSS, this.sndUna, this.sndMax, this.cc.cwnd);
    } else {
      rec.recover = this.sndMax;
    }
    this.cc.onRetransmitTimeout(seqDiff(this.sndMax, this.sndUna), now);
    const before = sb.lostBytes;
    sb.markAllLost();
    if (sb.lostBytes > before) this.lostSegments += Math.ceil((sb.lostBytes - before) / this.mss);
    if (sb.lostRetransmits !== this.#lostRetransCounted) {
      stats.TCPLostRetransmit += sb.lostRetransmits - this.#lostRetransCounted;
      this.#lostRetransCounted = sb.lostRetransmits;
    }
    this.rack.tlpActive = false;
    this.rtt.backoff();
    rec.dupAcks = 0;
    this.pacer.releaseMs = now;
    this.#armTimer(LT_RTO, now + this.rtt.rtoMs);
    conn.flushOutput();
  }

  /** The persist timer fired: probe the zero window, or send what fits a too small one. */
  #onPersist(): void {
    const conn = this.#conn;
    const st = conn.state;
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
    const unsent = seqDiff(this.finSeq, this.sndNxt);
    if (unsent <= 0 && !this.finQueued) return;
    if (this.sndWnd > 0) {
      // A window is open but too small for SWS avoidance: send what fits (RFC 1122 override).
      this.forceSend = true;
      conn.flushOutput();
      if (this.sndUna !== this.sndMax) return;
    } else {
      if (++this.probes > this.#svc.opts.maxRetries) {
        this.#svc.stats.TCPAbortOnTimeout++;
        conn.timedOut();
        return;
      }
      this.#svc.stats.TCPZeroWindowProbes++;
      this.sendProbe();
    }
    if (this.persistBackoff < MAX_PERSIST_BACKOFF) this.persistBackoff++;
    this.#armPersist();
  }

  /** The cork held a short segment long enough: send it (as Linux does after 200 ms). */
  #onCork(): void {
    const st = this.#conn.state;
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
    this.forceSend = true;
    this.#conn.flushOutput();
  }

  /** RFC 5681 §2: the duplicate ACK count (for tests and TCP_INFO). */
  get dupAcks(): number {
    return this.rec.dupAcks;
  }

  /** RFC 6582 `recover`: the end of the current (or last) reduction. */
  get recover(): number {
    return this.rec.recover;
  }
}
