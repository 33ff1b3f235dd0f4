/**
 * The sending half of a TCP connection (gVisor's `sender`, snd.go): the send sequence space
 * (ISS, SND.UNA, SND.NXT, SND.MAX, SND.WND and its update numbers), the send ring, the send
 * MSS, congestion control, RTT measurement and the retransmission, persist and cork timers.
 * It processes ACKs (RFC 9293 §3.10.7.4 fifth check, RFC 6298, RFC 5681, NewReno RFC 6582),
 * decides what may go out (windows, Nagle/Minshall, cork, sender SWS avoidance RFC 1122
 * §4.2.3.4, TSO), retransmits (fast retransmit, RTO go-back-N) and probes zero windows
 * (RFC 9293 §3.8.6.1).
 *
 * Only this file writes these fields: "who moves SND.NXT?" is answered here. Segments are
 * built by the connection ({@link SenderConnection.emit}), which adds the receive side's ACK
 * and window. Nothing is allocated per segment.
 *
 * A SACK scoreboard (RFC 6675), RACK-TLP, PRR and pacing belong to the sender too, beside
 * `recover` and `dupAcks`, each in a file of its own that the sender holds and drives; the
 * congestion algorithm stays behind `CongestionControl`.
 *
 * Why this file is over 600 lines: it is the whole send side — state, ACK processing,
 * output, timers — so that SND.* has exactly one writer; splitting it by function would
 * bring back fields written from several files.
 *
 * @module
 */

import { ByteRing } from "../../core/byte_ring.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { type CongestionControl, createCongestionControl } from "./congestion/mod.ts";
import type { TcpServices } from "./context.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_SYN } from "./header.ts";
import { DEFAULT_PEER_MSS } from "./mss.ts";
import { HANDSHAKE_RETRY_RTO_MS, RttEstimator } from "./rtt_estimator.ts";
import type { RxSegment } from "./segment.ts";
import { seqAdd, seqBetween, seqDiff, seqGe, seqGt, seqLe, seqLt, seqSub } from "./seq.ts";
import { TcpEvent, TcpState } from "./state.ts";

/** Linux's TCP_CORK bound: a corked partial segment leaves after at most this long. */
export const CORK_TIMEOUT_MS = 200;
/** Most doublings of the persist interval. */
const MAX_PERSIST_BACKOFF = 16;
/** RFC 5961 §5.2 bound on old ACKs while the peer never offered a window yet. */
const DEFAULT_MAX_SND_WND = 0x10000;

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
  /** TSval now (RFC 7323 §5.4). */
  tsNow(): number;
  /**
   * Build and send one segment: `len` bytes of the send ring from `seq` with `flags` (the
   * connection adds ACK, window and options). False when no buffer was free.
   */
  emit(seq: number, flags: number, len: number, gsoSize: number): boolean;
  /** Largest TSO super-segment payload for `mss` on the connection's route (0: no TSO). */
  tsoLimit(mss: number): number;
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
  /** SND.NXT: next sequence number to send (moves back on RTO: go-back-N). */
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
  /** Congestion control. */
  readonly cc: CongestionControl;
  /** RTT estimate and RTO. */
  readonly rtt: RttEstimator;
  /** Timing one segment for RTT without timestamps (Karn). */
  rttTiming = false;
  /** End of the timed segment. */
  rttSeq = 0;
  /** When the timed segment was sent. */
  rttStartMs = 0;
  /** Duplicate ACKs in a row. */
  dupAcks = 0;
  /** RFC 6582 `recover`. */
  recover = 0;
  /** Consecutive RTOs without progress. */
  retries = 0;
  /** SYN / SYN-ACK retransmissions. */
  synRetries = 0;
  /** When the SYN was first sent (RTT sample if it was not retransmitted). */
  synSentMs = 0;
  /** Total segments retransmitted. */
  retransmits = 0;
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
  // Timers are made when first armed: an idle connection of a crowd holds none it never used.
  #rtoT: Timer | null = null;
  #persistT: Timer | null = null;
  #corkT: Timer | null = null;
  readonly #conn: SenderConnection;
  readonly #svc: TcpServices;

  /** The send side of `conn`. */
  constructor(conn: SenderConnection, svc: TcpServices) {
    this.#conn = conn;
    this.#svc = svc;
    const o = svc.opts;
    this.sndBuf = new ByteRing(o.sendBufferBytes, svc.ctx.rings ?? null);
    this.cc = createCongestionControl(o.congestionControl);
    this.rtt = new RttEstimator({
      initialRtoMs: o.initialRtoMs,
      minRtoMs: o.minRtoMs,
      maxRtoMs: o.maxRtoMs,
    });
  }

  /** Retransmission (and SYN retry) timer. */
  get rtoTimer(): Timer {
    return this.#rtoT ??= new Timer(TcpSender.#fireRto, this);
  }

  /** Zero-window probe timer. */
  get persistTimer(): Timer {
    return this.#persistT ??= new Timer(TcpSender.#firePersist, this);
  }

  /** TCP_CORK holds a short segment at most {@link CORK_TIMEOUT_MS}. */
  get corkTimer(): Timer {
    return this.#corkT ??= new Timer(TcpSender.#fireCork, this);
  }

  // One function per timer for every sender (no closure per connection).
  static #fireRto(s: TcpSender): void {
    s.#onRto();
  }
  static #firePersist(s: TcpSender): void {
    s.#onPersist();
  }
  static #fireCork(s: TcpSender): void {
    s.#onCork();
  }

  /** Cancel `t` if it was ever made. */
  #cancel(t: Timer | null): void {
    if (t !== null) this.#svc.ctx.timers.cancel(t);
  }

  /** Sequence number of our FIN (valid when `finQueued`): right after the data. */
  get finSeq(): number {
    return seqAdd(this.sndBufSeq, this.sndBuf.length);
  }

  /** True while sent data is unacknowledged. */
  get inFlight(): boolean {
    return this.sndUna !== this.sndMax;
  }

  // ---- handshake -------------------------------------------------------------------------

  /** Our SYN will carry `iss`; data starts after it. */
  start(iss: number, nowMs: number): void {
    this.iss = iss;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.sndBufSeq = seqAdd(iss, 1);
    this.recover = iss;
    this.sndSml = iss;
    this.synSentMs = nowMs;
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
    this.#cancel(this.#rtoT);
  }

  /** The ACK completing a passive handshake carries the peer's first scaled window. */
  synAckAcked(seg: RxSegment): void {
    this.sndWnd = seg.window << this.sndShift;
    this.sndWl1 = seg.seq;
    this.sndWl2 = seg.ack;
    if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
  }

  /**
   * The SYN-ACK left before this sender existed (a syncache record or a SYN cookie sent it,
   * after `retries` retransmissions): SND.NXT and SND.MAX are past it.
   */
  synAckSent(retries: number): void {
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.synRetries = retries;
  }

  /** Send the SYN (or SYN-ACK) again: it was lost, or a simultaneous open needs a SYN-ACK. */
  resendSyn(): void {
    this.sndNxt = this.iss;
  }

  /** The handshake completed: congestion control starts (RFC 6928), RFC 6298 §5.7. */
  established(nowMs: number): void {
    this.cc.init(this.mss, nowMs);
    if (this.synRetries > 0 && !this.rtt.hasSample) this.rtt.reset(HANDSHAKE_RETRY_RTO_MS);
    this.retries = 0;
    if (this.sndUna === this.sndMax) this.#cancel(this.#rtoT);
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
    this.#armRto(false);
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
   * The ACK field of an acceptable segment in a synchronized state: acknowledged data leaves
   * the ring, RTT and congestion control learn, NewReno recovery (RFC 6582 §3.2), duplicate
   * ACKs (RFC 5681 §2), the retransmission timer (RFC 6298 §5.2–5.3), the window update
   * (RFC 9293 §3.10.7.4). Returns false when the connection ended (LAST_ACK done).
   */
  onAck(seg: RxSegment): boolean {
    const conn = this.#conn;
    const svc = this.#svc;
    const ctx = svc.ctx;
    const now = ctx.clock.nowMs();
    const ack = seg.ack;
    const cc = this.cc;
    const scaledWnd = seg.window << this.sndShift;
    if (seqGt(ack, this.sndUna)) {
      const acked = seqDiff(ack, this.sndUna);
      // Data bytes acknowledged leave the send ring.
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
      // RTT (RFC 7323 §4 with timestamps; else one timed segment, Karn's rule).
      let sample = -1;
      if (conn.tsOk && seg.opts.hasTimestamps && seg.opts.tsEcr !== 0) {
        const r = (conn.tsNow() - seg.opts.tsEcr) >>> 0;
        if (r < 0x7fffffff) sample = r;
      } else if (this.rttTiming && seqGt(ack, this.rttSeq)) {
        sample = now - this.rttStartMs;
        this.rttTiming = false;
      }
      if (sample >= 0) this.rtt.sample(sample);
      else this.rtt.resetBackoff();
      this.retries = 0;
      this.probes = 0;
      this.persistBackoff = 0;
      const flight = seqDiff(this.sndMax, this.sndUna);
      if (cc.inRecovery) {
        if (seqGe(ack, this.recover)) {
          cc.exitFastRecovery(flight, now);
        } else {
          // RFC 6582 §3.2 step 5: partial ACK: retransmit the next hole, deflate.
          cc.onPartialAck(acked, flight, now);
          this.retransmitFirst();
        }
      } else {
        cc.onAck(acked, flight, sample, now);
      }
      this.dupAcks = 0;
      // RFC 6298 §5.2–5.3.
      if (this.sndUna === this.sndMax) this.#cancel(this.#rtoT);
      else this.#armRto(true);
      conn.scheduleOutput();
      if (this.finQueued && seqGt(ack, this.finSeq)) {
        conn.transition(TcpEvent.RCV_ACK_OF_FIN);
        if (conn.state === TcpState.CLOSED) return false; // LAST_ACK done
      }
      conn.updateReadiness();
    } else if (
      ack === this.sndUna && seg.dataLen === 0 &&
      (seg.flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === 0 && scaledWnd === this.sndWnd &&
      this.sndUna !== this.sndMax
    ) {
      // RFC 5681 §2 duplicate ACK.
      this.dupAcks++;
      const flight = seqDiff(this.sndMax, this.sndUna);
      if (this.dupAcks === 3 && !cc.inRecovery) {
        // RFC 6582 §3.2 step 2: only if the ACK covers more than `recover`.
        if (seqGt(ack, this.recover) || this.recover === this.sndUna) {
          this.recover = this.sndMax;
          cc.enterFastRecovery(flight, now);
          svc.stats.TCPFastRetrans++;
          this.retransmitFirst();
          this.#armRto(true);
        }
      } else if (this.dupAcks > 3 && cc.inRecovery) {
        cc.onDupAck(flight, now);
        conn.scheduleOutput();
      }
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
        this.#cancel(this.#persistT);
        this.persistBackoff = 0;
        conn.scheduleOutput();
      }
    }
    return true;
  }

  // ---- output ----------------------------------------------------------------------------

  /**
   * Send what the windows, Nagle/cork and SWS avoidance allow (a synchronized state), and
   * keep the retransmission/persist timers armed as needed.
   */
  output(): void {
    const conn = this.#conn;
    const stats = this.#svc.stats;
    const now = this.#svc.ctx.clock.nowMs();
    const mss = this.mss;
    let sent = false;
    const dataEnd = this.finSeq;
    const force = this.forceSend;
    this.forceSend = false;
    const tso = conn.tsoLimit(mss);
    for (;;) {
      let unsent = seqDiff(dataEnd, this.sndNxt);
      if (unsent < 0) unsent = 0;
      const finNow = this.finQueued && this.sndNxt === dataEnd;
      if (unsent === 0 && !finNow) break;
      const isRetrans = seqLt(this.sndNxt, this.sndMax);
      const inflight = seqDiff(this.sndNxt, this.sndUna);
      let len = unsent < mss ? unsent : mss;
      // TSO: hand the NIC up to `tso` bytes at once; it cuts MSS-sized segments.
      if (tso > 0 && unsent > mss && !isRetrans) len = unsent < tso ? unsent : tso;
      if (len > 0) {
        const wndAvail = seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt);
        const cwndAvail = this.cc.cwnd - inflight;
        let allow = wndAvail < cwndAvail ? wndAvail : cwndAvail;
        if (force && allow <= 0 && wndAvail > 0) allow = wndAvail < mss ? wndAvail : mss;
        if (allow <= 0) break;
        const windowLimited = len > allow;
        if (windowLimited) {
          len = allow;
          // A window-limited super-segment ends on an MSS boundary (no runt segment).
          if (len > mss) len -= len % mss;
        }
        const carriesFin = this.finQueued && seqAdd(this.sndNxt, len) === dataEnd;
        if (len < mss && !isRetrans && !carriesFin && !force) {
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
            if (!this.noDelay && inflight > 0 && seqGt(this.sndSml, this.sndUna)) break;
          }
        }
      }
      const fin = this.finQueued && seqAdd(this.sndNxt, len) === dataEnd;
      let flags = TCP_FLAG_ACK;
      if (fin) flags |= TCP_FLAG_FIN;
      if (len > 0 && seqAdd(this.sndNxt, len) === dataEnd) flags |= TCP_FLAG_PSH;
      if (!conn.emit(this.sndNxt, flags, len, len > mss ? mss : 0)) break;
      if (isRetrans) {
        stats.RetransSegs++;
        this.retransmits++;
      } else if (!this.rttTiming && !conn.tsOk && len > 0) {
        this.rttTiming = true;
        this.rttSeq = this.sndNxt;
        this.rttStartMs = now;
      }
      if (len < mss && len > 0) this.sndSml = seqAdd(this.sndNxt, len);
      this.sndNxt = seqAdd(this.sndNxt, len + (fin ? 1 : 0));
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      sent = true;
      if (fin) break;
    }
    if (this.sndUna !== this.sndMax) {
      if (sent) this.#armRto(false);
    } else if (seqGt(dataEnd, this.sndNxt)) {
      // Data waits for a window that is closed (or too small to use): probe it.
      this.#armPersist();
    }
  }

  /**
   * Retransmit the first unacknowledged segment without moving SND.NXT (fast retransmit,
   * NewReno partial ACK, a lowered MSS).
   */
  retransmitFirst(): void {
    const dataEnd = this.finSeq;
    let len = seqDiff(dataEnd, this.sndUna);
    if (len < 0) len = 0;
    if (len > this.mss) len = this.mss;
    let flags = TCP_FLAG_ACK;
    if (this.finQueued && seqAdd(this.sndUna, len) === dataEnd && seqGt(this.sndMax, dataEnd)) {
      flags |= TCP_FLAG_FIN;
    }
    if (len === 0 && (flags & TCP_FLAG_FIN) === 0) return;
    if (this.#conn.emit(this.sndUna, flags, len, 0)) {
      this.#svc.stats.RetransSegs++;
      this.retransmits++;
      // Karn: a timed segment that is retransmitted gives no sample.
      this.rttTiming = false;
    }
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
    if (!on) this.#cancel(this.#corkT);
  }

  /** ICMP "fragmentation needed" lowered the path MTU: a smaller MSS; resend what was too big. */
  lowerMss(mss: number): void {
    if (mss >= this.mss) return;
    this.mss = mss;
    if (this.#conn.state >= TcpState.ESTABLISHED) {
      this.cc.setMss(mss);
      // Linux tcp_simple_retransmit: what was sent too big is resent now.
      this.retransmitFirst();
    }
  }

  // ---- timers ----------------------------------------------------------------------------

  /** TIME_WAIT: nothing is retransmitted or probed any more. */
  stopRetransmitting(): void {
    this.#cancel(this.#rtoT);
    this.#cancel(this.#persistT);
  }

  /** The connection is gone: every timer stops. */
  stop(): void {
    this.stopRetransmitting();
    this.#cancel(this.#corkT);
  }

  /** Arm the retransmission timer at now + RTO; with `restart` also when already armed. */
  #armRto(restart: boolean): void {
    if (!restart && this.#rtoT !== null && this.#rtoT.armed) return;
    const ctx = this.#svc.ctx;
    ctx.timers.schedule(this.rtoTimer, ctx.clock.nowMs() + this.rtt.rtoMs);
  }

  /** Arm the persist timer (unless it or the RTO timer runs), backed off. */
  #armPersist(): void {
    if (this.#persistT?.armed || this.#rtoT?.armed) return;
    const svc = this.#svc;
    const base = this.rtt.rtoMs * 2 ** this.persistBackoff;
    const max = svc.opts.maxRtoMs;
    svc.ctx.timers.schedule(this.persistTimer, svc.ctx.clock.nowMs() + (base < max ? base : max));
  }

  /** Arm the cork timer if a short segment is being held by TCP_CORK. */
  #armCork(): void {
    if (this.#corkT?.armed) return;
    const ctx = this.#svc.ctx;
    ctx.timers.schedule(this.corkTimer, ctx.clock.nowMs() + CORK_TIMEOUT_MS);
  }

  /**
   * The retransmission timer fired: resend the SYN (give up after `synRetries`), or
   * (RFC 6298 §5.4–5.7) back off, collapse cwnd and go back to SND.UNA (give up after
   * `maxRetries`).
   */
  #onRto(): void {
    const conn = this.#conn;
    const svc = this.#svc;
    const stats = svc.stats;
    const st = conn.state;
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
    const flight = seqDiff(this.sndMax, this.sndUna);
    this.cc.onRetransmitTimeout(flight, svc.ctx.clock.nowMs());
    this.rtt.backoff();
    this.recover = this.sndMax;
    this.dupAcks = 0;
    this.rttTiming = false;
    // RFC 6298 §5.4–5.6: retransmit the earliest unacknowledged segment (and go back: what
    // followed it is resent as the window reopens).
    this.sndNxt = this.sndUna;
    conn.flushOutput();
    this.#armRto(true);
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
}
