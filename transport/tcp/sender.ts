/**
 * The sending half of a TCP connection (gVisor's `sender`, snd.go): the send sequence space
 * (ISS, SND.UNA, SND.NXT, SND.MAX, SND.WND and its update numbers), the send ring, the send
 * MSS and the congestion control algorithm in use. It processes the sequence-space part of
 * ACKs (RFC 9293 §3.10.7.4 fifth check, RFC 5961 §5.2), decides what may go out — segments
 * deemed lost first, then new data as the windows, Nagle/Minshall, cork and sender SWS
 * avoidance (RFC 1122 §4.2.3.4) allow (RFC 6675 NextSeg) — in TSO bursts sized by the pacer,
 * and probes zero windows (RFC 9293 §3.8.6.1). Everything about losses — the scoreboard,
 * RACK-TLP, PRR, undo, ECN, the congestion algorithm's ACK sample, pacing and the
 * retransmission timer with its modes — is in `loss_control.ts` ({@link LossControl}), which
 * never writes SND.*.
 *
 * Only this file writes these fields: "who moves SND.NXT?" is answered here. Segments are
 * built by the connection ({@link SenderConnection.emit}), which adds the receive side's ACK
 * and window. Nothing is allocated per segment.
 *
 * Why this file is over 600 lines: it is the whole sequence-space side — state, handshake,
 * ACK bookkeeping, output, the application side, persist and cork — so that SND.* has
 * exactly one writer.
 *
 * @module
 */

import { ByteRing } from "../../core/byte_ring.ts";
import { readClockMs } from "../../core/clock.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { type CongestionControl, createCongestionControl } from "./congestion/mod.ts";
import type { TcpServices } from "./context.ts";
import type { DeliveryRate } from "./delivery_rate.ts";
import { TCP_FLAG_ACK, TCP_FLAG_CWR, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_SYN } from "./header.ts";
import { type LossConnection, LossControl, type LossSender } from "./loss_control.ts";
import { DEFAULT_PEER_MSS } from "./mss.ts";
import { MssControl } from "./mss_control.ts";
import type { Pacer } from "./pacing.ts";
import {
  LIMIT_APP,
  LIMIT_CWND,
  LIMIT_DUE,
  LIMIT_IDLE,
  LIMIT_PACING,
  LIMIT_RWND,
  LIMIT_SNDBUF,
} from "./send_limit.ts";
import type { RackTlp } from "./rack.ts";
import { CA_LOSS, type LossRecovery } from "./recovery.ts";
import { RX_MTU } from "./retrans_log.ts";
import { HANDSHAKE_RETRY_RTO_MS, RttEstimator } from "./rtt_estimator.ts";
import { SB_FIN, type Scoreboard, SCOREBOARD_TX_MS } from "./scoreboard.ts";
import type { RxSegment } from "./segment.ts";
import { seqAdd, seqBetween, seqDiff, seqGt, seqLe, seqLt } from "./seq.ts";
import { TcpEvent, TcpState } from "./state.ts";

/** Linux's TCP_CORK bound: a corked partial segment leaves after at most this long. */
export const CORK_TIMEOUT_MS = 200;
/** TSO deferral waits only while the last transmission is at most this recent (Linux: 1 ms). */
const TSO_DEFER_MAX_MS = 1;
/**
 * The time of the transmission being made (ms): `output` reads the clock into it once a pass and
 * `#sendNewNow` reads it there. A fractional time passed to a call V8 does not inline is a new
 * heap number — per segment, once the clock is fractional, as a real one always is
 * (bench/README.md, "dbl34").
 */
const TX_NOW = new Float64Array(1);
/** The time a timer's arming reads (`#armPersist`): a cell, for the reason of {@link TX_NOW}. */
const ARM_NOW = new Float64Array(1);
/** TSO deferral: send anyway once a third of the window is free (Linux tcp_tso_win_divisor). */
const TSO_WIN_DIVISOR = 3;
/** Most doublings of the persist interval. */
const MAX_PERSIST_BACKOFF = 16;
/** RFC 5961 §5.2 bound on old ACKs while the peer never offered a window yet. */
const DEFAULT_MAX_SND_WND = 0x10000;
/**
 * The unit of {@link TcpSender.bytesAcked}'s high part: 2^29 bytes, so the low part (below it)
 * stays a small integer (2^31 - 1 on this Deno's V8, 2^30 - 1 with pointer compression).
 */
const BYTES_ACKED_UNIT = 0x2000_0000;

/** {@link TcpSender.checkAck}: the ACK may be processed. */
export const ACK_OK = 0;
/** {@link TcpSender.checkAck}: acknowledges data never sent: answer with an ACK and drop. */
export const ACK_TOO_NEW = 1;
/** {@link TcpSender.checkAck}: older than the window allows: challenge ACK and drop. */
export const ACK_TOO_OLD = 2;
/** One of the `ACK_*` verdicts. */
export type AckVerdict = typeof ACK_OK | typeof ACK_TOO_NEW | typeof ACK_TOO_OLD;

/** What a sender needs from its connection; `TcpEndpoint` implements it. */
export interface SenderConnection extends LossConnection {
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
  /** The send MSS the path MTU towards the peer allows now (RFC 1191, RFC 8201). */
  pathMss(): number;
  /** Report a state-machine event (our FIN acknowledged). */
  transition(ev: TcpEvent): void;
  /** Retries are exhausted: give up (ETIMEDOUT, or the ICMP error seen). */
  timedOut(): void;
  /** Recompute readiness (send-buffer room). */
  updateReadiness(): void;
}

/** What {@link TcpSender.start} reads: our ISS and when the SYN (or SYN-ACK) first left. */
export interface SynStart {
  /** Our ISS (RFC 9293 §3.4.1). */
  readonly iss: number;
  /** When our SYN or SYN-ACK was first sent (ms). */
  readonly firstSentMs: number;
}

/**
 * The send side of one connection, created with it.
 *
 * @example
 * ```ts ignore
 * const snd = new TcpSender(endpoint, layer);
 * snd.start({ iss, firstSentMs: now });
 * snd.write(bytes, 0, bytes.length);
 * snd.output();
 * ```
 */
export class TcpSender implements LossSender {
  /** ISS. */
  get iss(): number {
    return this.#iss >>> 0;
  }
  /** ISS as an int32, as {@link TcpSender.sndWl1}: read through the getter or `seq*`. */
  #iss = 0;
  /** SND.UNA: oldest unacknowledged sequence number. */
  sndUna = 0;
  /** SND.NXT: next sequence number to send (SND.MAX once established: lost data is resent by the scoreboard). */
  sndNxt = 0;
  /** Highest sequence number sent + 1. */
  sndMax = 0;
  /** SND.WND: the peer's window in bytes. */
  sndWnd = 0;
  /**
   * SND.WL1: SEG.SEQ of the last window update, kept as an int32 (compare through `seq*`): a
   * uint32 field would be a double, a 16-byte heap number in every connection.
   */
  sndWl1 = 0;
  /** SND.WL2: SEG.ACK of the last window update, an int32 as {@link TcpSender.sndWl1}. */
  sndWl2 = 0;
  /** Largest window the peer offered (sender SWS, RFC 1122 §4.2.3.4; RFC 5961 §5.2). */
  maxSndWnd = 0;
  /**
   * Sequence number of the first byte in `sndBuf`, an int32 as {@link TcpSender.sndWl1} (only
   * ever read through `seqAdd`/`seqDiff`, which give the same for a uint32 and its int32).
   */
  sndBufSeq = 0;
  /** Unacknowledged and unsent data. */
  readonly sndBuf: ByteRing;
  /** The application shut the write side: a FIN follows the data. */
  finQueued = false;
  /**
   * End of the last short segment sent (Minshall's Nagle variant), an int32 as
   * {@link TcpSender.sndWl1}.
   */
  sndSml = 0;
  /** Send MSS (payload bytes per segment, timestamp option excluded): `mssControl`'s smallest. */
  mss: number = DEFAULT_PEER_MSS;
  /** Where the MSS comes from: the handshake, the path MTU, a black-hole fallback. */
  readonly mssControl: MssControl = new MssControl();
  /** The peer's window shift. */
  sndShift = 0;
  /** Congestion control (replaced by `setCongestionControl`). */
  cc: CongestionControl;
  /** RTT estimate and RTO (`loss.rtt`). */
  get rtt(): RttEstimator {
    return this.loss.rtt;
  }
  /** Loss control: scoreboard, RACK-TLP, recovery, pacing, the retransmission timer. */
  readonly loss: LossControl;
  // The loss control's parts are read through it (getters V8 inlines), not kept in fields of
  // their own: five fields less in every connection (bench/README.md, branch held9d).
  /** The SACK scoreboard (`loss.sb`). */
  get sb(): Scoreboard {
    return this.loss.sb;
  }
  /** Delivery-rate estimation (`loss.rate`). */
  get rate(): DeliveryRate {
    return this.loss.rate;
  }
  /** RACK-TLP (`loss.rack`). */
  get rack(): RackTlp {
    return this.loss.rack;
  }
  /**
   * Recovery state, PRR, undo (`loss.rec`: a shared Open record until the connection needs its
   * own; changes go through `loss.ownRecovery()`).
   */
  get rec(): LossRecovery {
    return this.loss.rec;
  }
  /** Pacing (`loss.pacer`). */
  get pacer(): Pacer {
    return this.loss.pacer;
  }
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
  /**
   * Bytes of our data the peer acknowledged, below {@link BYTES_ACKED_UNIT}; the rest counts in
   * whole units (`#bytesAckedUnits`). Two small integers, never a double: the total passes
   * 2^31 ~0.5 s into a 35 Gbit/s stream, and as a field turning double it changed the sender's
   * map and V8 threw away the send path's optimised code ("wrong map": bench/README.md, "tx13i").
   */
  #bytesAckedLow = 0;
  /** Whole {@link BYTES_ACKED_UNIT}s of {@link TcpSender.bytesAcked}. */
  #bytesAckedUnits = 0;
  /** TCP_NODELAY. */
  noDelay = false;
  /** TCP_CORK. */
  cork = false;
  /**
   * The writer waits for room: its last write did not fit in the send buffer (and no write
   * has fitted whole since). An output pass that empties the buffer then is not
   * application-limited — the writer has more, its reaction to the room an ACK made runs
   * later in the loop — see {@link TcpSender.output}.
   */
  writerWaiting = false;
  // Timers are made when first armed: an idle connection of a crowd holds none it never used.
  #persistT: Timer | null = null;
  #corkT: Timer | null = null;
  #pacingT: Timer | null = null;
  readonly #conn: SenderConnection;
  readonly #svc: TcpServices;
  /** When data was last sent (idle restart, RFC 5681 §4.1). */
  #lastSendMs = -1;

  /** The send side of `conn`. */
  constructor(conn: SenderConnection, svc: TcpServices) {
    this.#conn = conn;
    this.#svc = svc;
    const o = svc.opts;
    this.sndBuf = new ByteRing(o.sendBufferBytes, svc.ctx.rings ?? null, svc.sndCopyViews ?? null);
    this.cc = createCongestionControl(o.congestionControl);
    const rtt = new RttEstimator({
      initialRtoMs: o.initialRtoMs,
      minRtoMs: o.minRtoMs,
      maxRtoMs: o.maxRtoMs,
      samplesNs: svc.rttNs,
    });
    this.loss = new LossControl(this, conn, svc, rtt);
  }

  /**
   * What holds output back now (a `LIMIT_*` of `send_limit.ts`), judged from the state the
   * next output pass would find — TCP_INFO's `sendLimit`, which `uperf` samples. Read only when
   * asked: nothing on the data path. A CLOSED connection sends nothing more, whatever it
   * still holds: idle.
   */
  sendLimitNow(): number {
    if (this.#conn.state === TcpState.CLOSED) return LIMIT_IDLE;
    const sb = this.sb;
    const lost = sb.nextLost() >= 0;
    if (!lost && this.unsentBytes <= 0) {
      if (this.sndUna === this.sndMax) return LIMIT_IDLE;
      const b = this.sndBuf;
      // The writer is woken once the free space is at least half of what is queued.
      return 2 * b.free < b.length ? LIMIT_SNDBUF : LIMIT_APP;
    }
    if (this.cc.cwnd <= sb.pipe(seqDiff(this.sndMax, this.sndUna))) return LIMIT_CWND;
    if (!this.pacer.ready(this.#svc.ctx.clock.nowMs())) return LIMIT_PACING;
    if (!lost && seqDiff(seqAdd(this.sndUna, this.sndWnd), this.sndNxt) <= 0) return LIMIT_RWND;
    return LIMIT_DUE;
  }

  /** Zero-window probe timer. */
  get persistTimer(): Timer {
    return this.#persistT ??= new Timer(TcpSender.#firePersist, this);
  }

  /** TCP_CORK holds a short segment at most {@link CORK_TIMEOUT_MS}. */
  get corkTimer(): Timer {
    return this.#corkT ??= new Timer(TcpSender.#fireCork, this);
  }

  /** Pacing (and TSO deferral): restarts output at the pacer's release time. */
  get pacingTimer(): Timer {
    return this.#pacingT ??= new Timer(TcpSender.#firePacing, this);
  }

  // One function per timer for every sender (no closure per connection).
  static #firePersist(s: TcpSender): void {
    s.#onPersist();
  }
  static #fireCork(s: TcpSender): void {
    s.#onCork();
  }
  static #firePacing(s: TcpSender): void {
    s.#onPacing();
  }

  /** Cancel `t` if it was ever made. */
  #cancel(t: Timer | null): void {
    if (t !== null) this.#svc.ctx.timers.cancel(t);
  }

  /** Bytes of our data the peer acknowledged (TCP_INFO's `tcpi_bytes_acked`). */
  get bytesAcked(): number {
    return this.#bytesAckedUnits * BYTES_ACKED_UNIT + this.#bytesAckedLow;
  }

  /** Sequence number of our FIN (valid when `finQueued`): right after the data. */
  get finSeq(): number {
    return seqAdd(this.sndBufSeq, this.sndBuf.length);
  }

  /**
   * Bytes queued and not yet sent: `finSeq − SND.NXT` (-1 once the FIN went). The form for
   * the per-segment paths: a small integer, where `finSeq` returned from a getter V8 does not
   * inline is a new heap number at or above 2**30.
   */
  get unsentBytes(): number {
    // seqDiff(seqAdd(…)) written out: a helper not inlined takes the uint32s boxed ("sack33").
    return (this.sndBufSeq + this.sndBuf.length - this.sndNxt) | 0;
  }

  /** True while sent data is unacknowledged. */
  get inFlight(): boolean {
    return this.sndUna !== this.sndMax;
  }

  /** RFC 6675 pipe: bytes estimated in the network. */
  get pipe(): number {
    return this.loss.pipe;
  }

  /** Retransmission timer: RTO, RACK reordering timeout, loss probes (and SYN retries). */
  get rtoTimer(): Timer {
    return this.loss.timer;
  }

  /** Segments deemed lost over the connection's life. */
  get lostSegments(): number {
    return this.loss.lostSegments;
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

  /**
   * Our SYN (or SYN-ACK) carries `open.iss`, first sent at `open.firstSentMs`; data starts
   * after it. Read from a record, not taken as numbers: an ISS ≥ 2**30 or a fractional time
   * passed to a call V8 does not inline is a new heap number per connection.
   */
  start(open: SynStart): void {
    const iss = open.iss;
    this.#iss = iss | 0;
    this.sndUna = iss;
    this.sndNxt = iss;
    this.sndMax = iss;
    this.sndBufSeq = (iss + 1) | 0;
    this.sndSml = iss | 0;
    this.synSentMs = open.firstSentMs;
    this.loss.start(seqAdd(iss, 1));
  }

  /** The peer's SYN (RFC 7323 §2.2: its window is not scaled) with SEG.SEQ, SEG.ACK. */
  peerSyn(window: number, seq: number, ack: number): void {
    this.sndWnd = window;
    this.maxSndWnd = window;
    this.sndWl1 = seq | 0;
    this.sndWl2 = ack | 0;
  }

  /** {@link TcpSender.peerSyn} from the peer's SYN-ACK itself (its numbers read here). */
  peerSynFrom(syn: RxSegment): void {
    this.sndWnd = syn.window;
    this.maxSndWnd = syn.window;
    this.sndWl1 = syn.seq | 0;
    this.sndWl2 = syn.ack | 0;
  }

  /** What the SYN exchange settled: the peer's window shift and our send MSS. */
  setPeerOptions(shift: number, mss: number): void {
    this.sndShift = shift;
    const m = this.mssControl;
    m.negotiated = mss;
    m.syncPath(this.#conn.pathMss());
    this.mss = m.effective();
  }

  /**
   * RFC 9293 §3.10.7.3: a SYN_SENT ACK must acknowledge our SYN and nothing beyond. `seg`'s
   * ACK number is read here: passed, a number ≥ 2**31 is a heap number.
   */
  acksSynOf(seg: RxSegment): boolean {
    const ack = seg.ack;
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
      this.rtt.sample(this.#conn.tsEchoAgeMs(seg.opts));
    }
    this.loss.stop();
  }

  /** The ACK completing a passive handshake carries the peer's first scaled window. */
  synAckAcked(seg: RxSegment): void {
    this.sndWnd = seg.window << this.sndShift;
    this.sndWl1 = seg.seq | 0;
    this.sndWl2 = seg.ack | 0;
    if (this.sndWnd > this.maxSndWnd) this.maxSndWnd = this.sndWnd;
    if (this.synRetries === 0) this.rtt.sample(this.#svc.ctx.clock.nowMs() - this.synSentMs);
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
    this.cc.init(this.mss, nowMs, this.rtt.hasSample ? this.rtt.srttMs : 0);
    if (this.synRetries > 0 && !this.rtt.hasSample) this.rtt.reset(HANDSHAKE_RETRY_RTO_MS);
    this.retries = 0;
    this.loss.reset(this.sndUna);
    if (this.sndUna === this.sndMax) this.loss.stop();
  }

  /** Send the SYN (SYN_SENT) or SYN-ACK (SYN_RECEIVED) if it is due, and time it. */
  sendSyn(): void {
    if (this.sndNxt !== this.iss) return;
    const flags = this.#conn.state === TcpState.SYN_SENT
      ? TCP_FLAG_SYN
      : TCP_FLAG_SYN | TCP_FLAG_ACK;
    if (this.#conn.emit(seqDiff(this.iss, this.sndUna), flags, 0, 0)) {
      this.sndNxt = seqAdd(this.iss, 1);
      if (seqGt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
    }
    this.loss.armRto(this.#svc.ctx.clock.nowMs());
  }

  // ---- ACK processing --------------------------------------------------------------------

  /**
   * RFC 5961 §5.2: an ACK outside [SND.UNA − MAX.SND.WND, SND.MAX] is not processed; a too
   * new one is answered with an ACK, a too old one with a challenge ACK. Takes the segment,
   * not its ACK field: a uint32 at or above 2**30 passed to a call V8 does not inline is a new
   * heap number per segment (bench/README.md, "flake31").
   */
  checkAck(seg: Pick<RxSegment, "ack">): AckVerdict {
    // The comparisons written out (`seqGt`, `seqLt`, `seqSub`): a helper V8's mid tier did
    // not inline — a call on a path fewer than 95 % of calls took when it compiled — takes
    // and returns uint32s as heap numbers (bench/README.md, "box32").
    const ack = seg.ack;
    if (((ack - this.sndMax) | 0) > 0) return ACK_TOO_NEW;
    const maxWnd = this.maxSndWnd > 0 ? this.maxSndWnd : DEFAULT_MAX_SND_WND;
    return ((ack - this.sndUna + maxWnd) | 0) < 0 ? ACK_TOO_OLD : ACK_OK;
  }

  /**
   * The ACK field of an acceptable segment in a synchronized state (see the module doc for
   * the steps). Returns false when the connection ended (LAST_ACK done).
   */
  onAck(seg: RxSegment): boolean {
    const conn = this.#conn;
    const svc = this.#svc;
    const ack = seg.ack;
    const loss = this.loss;
    const o = seg.opts;
    const scaledWnd = seg.window << this.sndShift;
    const priorUna = this.sndUna;
    // Every sequence comparison of this ACK made here, on the path every call takes, and
    // written out (`seqDiff`, `seqLt`, `seqLe`): V8's mid tier inlines a call only on a path
    // at least 95 % of calls took when it compiled, and not always then; a helper called
    // takes sequence numbers (at or above 2**30) as new heap numbers ("box32").
    const priorOut = (this.sndMax - priorUna) | 0;
    const ackDist = (ack - priorUna) | 0;
    const advanced = ackDist > 0; // seqGt(ack, priorUna)
    const pastBuf = (ack - this.sndBufSeq) | 0;
    const nxtBefore = ((this.sndNxt - ack) | 0) < 0;
    const smlBefore = ((this.sndSml - ack) | 0) < 0;
    const wl1Before = ((this.sndWl1 - seg.seq) | 0) < 0;
    const wl2NotAfter = ((this.sndWl2 - ack) | 0) <= 0;
    loss.beginAck(seg); // reads the ACK's time itself: no double passed
    // The cumulative part.
    let acked = 0;
    if (advanced) {
      acked = ackDist;
      let dataAcked = pastBuf;
      if (dataAcked > this.sndBuf.length) dataAcked = this.sndBuf.length;
      if (dataAcked > 0) {
        this.sndBuf.consume(dataAcked);
        this.sndBufSeq = (this.sndBufSeq + dataAcked) | 0; // seqAdd, inline, as int32
        let low = this.#bytesAckedLow + dataAcked;
        while (low >= BYTES_ACKED_UNIT) {
          low -= BYTES_ACKED_UNIT;
          this.#bytesAckedUnits++;
        }
        this.#bytesAckedLow = low;
      }
      this.sndUna = ack;
      if (nxtBefore) this.sndNxt = ack;
      if (smlBefore) this.sndSml = ack | 0; // keep Minshall's marker from wrapping
      loss.ackTo();
      if (this.mssControl.confirm()) svc.stats.TCPMTUPSuccess++;
      this.retries = 0;
      this.probes = 0;
      this.persistBackoff = 0;
    }
    // SACK blocks (RFC 2018), the first one maybe a D-SACK (RFC 2883).
    const dsackRight = conn.sackOk && o.sackBlockCount > 0 ? loss.sack(seg) : -1;
    // RFC 5681 §2 duplicate ACK.
    const dup = !advanced && ack === priorUna && seg.dataLen === 0 &&
      (seg.flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) === 0 && scaledWnd === this.sndWnd &&
      priorOut > 0;
    const news = advanced || seg.dataLen > 0 || scaledWnd !== this.sndWnd;
    if (loss.onAck(seg, acked, dup, dsackRight, news)) conn.scheduleOutput();
    if (advanced) {
      if (this.finQueued && seqGt(ack, this.finSeq)) {
        conn.transition(TcpEvent.RCV_ACK_OF_FIN);
        if (conn.state === TcpState.CLOSED) return false; // LAST_ACK done
      }
      conn.updateReadiness();
    }
    // RFC 9293 §3.10.7.4: window update from a newer segment.
    if (wl1Before || (this.sndWl1 === (seg.seq | 0) && wl2NotAfter)) {
      const opened = scaledWnd > this.sndWnd;
      this.sndWnd = scaledWnd;
      this.sndWl1 = seg.seq | 0;
      this.sndWl2 = ack | 0;
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

  /** Payload of a full segment now: the MSS less the SACK option it would carry. */
  segMss(): number {
    const m = this.mss - this.#conn.sackOptionBytes();
    return m > 64 ? m : 64;
  }

  /**
   * Send what the windows allow, lost segments first (RFC 6675 NextSeg), honouring the
   * pacer, and keep the retransmission/persist timers armed as needed.
   */
  output(): void {
    // Sequence arithmetic written out here and in `sendNew` (`seqAdd`, `seqDiff`, `seqGt`):
    // V8's mid tier inlines a call only on a path ≥ 95 % of calls took when it compiled, and a
    // helper called takes and returns uint32s as heap numbers (bench/README.md, "box32").
    const conn = this.#conn;
    const svc = this.#svc;
    readClockMs(svc.ctx.clock, TX_NOW);
    const now = TX_NOW[0];
    this.#syncMss();
    const mss = this.segMss();
    const sb = this.sb;
    const rec = this.rec;
    const pacer = this.pacer;
    const dataEnd = (this.sndBufSeq + this.sndBuf.length) >>> 0; // finSeq, not returned boxed
    const force = this.forceSend;
    this.forceSend = false;
    // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the restart window.
    if (this.sndUna === this.sndMax && this.#lastSendMs >= 0) {
      if (now - this.#lastSendMs > this.rtt.rtoMs && ((dataEnd - this.sndNxt) | 0) > 0) {
        this.cc.onIdleRestart(now);
        this.#lastSendMs = now;
        this.loss.updatePacingRate();
      }
    }
    const burst = pacer.burstBytes(mss, conn.tsoLimit(mss));
    let sentNew = false;
    let sent = false;
    let held = false;
    for (;;) {
      // `pacer.ready(now)` written out: the time not passed (TX_NOW).
      if (!(pacer.rateBytesPerMs <= 0 || pacer.releaseMs <= now)) {
        this.#armPacing();
        held = this.#pacerHolds();
        break;
      }
      const pipe = sb.pipe((this.sndMax - this.sndUna) | 0);
      let budget = this.cc.cwnd - pipe;
      // Whole segments, as Linux counts packets: a part of a segment is a whole one — in this
      // pass, so the tick's data leaves as one super-segment, not k segments and then one.
      if (budget > 0) {
        const part = budget % mss;
        if (part !== 0) budget += mss - part;
      }
      // NextSeg rule 1: what is deemed lost and not retransmitted yet.
      const li = sb.nextLost();
      if (li >= 0) {
        if (budget <= 0) {
          this.loss.cwndLimited = true;
          this.#countCwndStop();
          break;
        }
        const len = this.retransmit(li, budget < burst ? budget : burst, now, -1);
        if (len <= 0) break;
        if (rec.state === CA_LOSS) svc.stats.TCPSlowStartRetrans++;
        else svc.stats.TCPFastRetrans++;
        sent = true;
        continue;
      }
      // NextSeg rule 2: new data.
      let unsent = (dataEnd - this.sndNxt) | 0;
      if (unsent < 0) unsent = 0;
      const finNow = this.finQueued && this.sndNxt === dataEnd;
      // (No RFC 6675 rescue retransmission, NextSeg rule 4: with SACK the loss detection is
      // RACK-TLP (RFC 8985), which repairs a tail by RACK, its reordering timer and the loss
      // probe, as Linux does, which has no rescue retransmission. Removing it measured no
      // different under 1 % loss: bench/README.md, "rack11".)
      if (unsent === 0 && !finNow) {
        if (this.writerWaiting) {
          // The buffer ran dry, but the writer is blocked on it with more to write: not the
          // application's limit (no app-limited mark: the samples are the path's). When the
          // room is enough to wake it (free ≥ half of what is queued, `sendLimitNow`'s rule)
          // it refills the buffer when its reaction runs, later in the loop: the time until
          // the next pass is the loop's, as for a held pacer, and is credited
          // ({@link Pacer.held}) — or a loop that stalls with the buffer empty paces below
          // its rate after every stall. Otherwise it waits for ACKs (all the buffer in
          // flight): the network's time, not credited.
          const b = this.sndBuf;
          held = budget > 0 && 2 * b.free >= b.length;
        } else if (budget > 0 && sb.lostBytes <= sb.retransBytes) {
          // §3.4 of the delivery-rate draft: nothing to send though the window is open.
          this.rate.markAppLimited(pipe);
        }
        break;
      }
      let len = unsent < burst ? unsent : burst;
      if (len > 0) {
        const wndAvail = (this.sndUna + this.sndWnd - this.sndNxt) | 0;
        let allow = wndAvail < budget ? wndAvail : budget;
        if (force && allow <= 0 && wndAvail > 0) allow = wndAvail < mss ? wndAvail : mss;
        if (allow <= 0) {
          if (budget <= 0) {
            this.loss.cwndLimited = true;
            this.#countCwndStop();
          }
          break;
        }
        if (len > allow && !force && this.#deferTso(allow, budget, unsent, burst)) break;
        const windowLimited = len > allow;
        if (windowLimited) {
          len = allow;
          // A window-limited super-segment ends on an MSS boundary (no runt segment).
          if (len > mss) len -= len % mss;
        }
        const carriesFin = this.finQueued && ((this.sndNxt + len) >>> 0) === dataEnd;
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
            if (
              !this.noDelay && this.sndUna !== this.sndMax && ((this.sndSml - this.sndUna) | 0) > 0
            ) {
              break;
            }
          }
        }
      }
      // End the segment where the send ring's storage wraps: the next one starts at its first
      // byte, so the segments of every lap start at the same places and their copies out of
      // the ring reuse views (`sndCopyViews`). One segment shorter than the MSS per lap (4 MiB
      // of data at the most); not a short segment for Nagle's rule.
      const run = len > 0 && svc.opts.segmentsEndAtWrap
        ? this.sndBuf.runFrom((this.sndNxt - this.sndBufSeq) | 0)
        : len;
      TX_NOW[0] = now; // (again: a call in this pass may have read the clock into it)
      if (run > 0 && run < len) {
        const sml = this.sndSml;
        if (!this.#sendNewNow(run)) break;
        this.sndSml = sml;
      } else if (!this.#sendNewNow(len)) break;
      sent = true;
      sentNew = true;
      if (this.finQueued && this.sndNxt === ((dataEnd + 1) >>> 0)) break;
    }
    pacer.held = held;
    this.loss.afterOutput();
    if (this.sndUna !== this.sndMax) {
      if (sent) {
        this.loss.eventMs = now; // a field, not an argument (TX_NOW)
        this.loss.afterSend(sentNew);
      }
    } else if (((dataEnd - this.sndNxt) | 0) > 0) {
      // Data waits for a window that is closed (or too small to use): probe it.
      this.#armPersist();
    }
  }

  /** Count an output pass that stopped on the congestion window with data to send. */
  #countCwndStop(): void {
    const c = this.#svc.ackClock;
    if (c !== undefined) c.cwndStops++;
  }

  /**
   * Output stopped on the pacer: would the windows have let something go — a lost segment
   * within cwnd, or new data within cwnd and the peer's window? Then the pacer alone holds
   * it, and its wake-up's lateness is owed ({@link Pacer.held}).
   */
  #pacerHolds(): boolean {
    const sb = this.sb;
    if (this.cc.cwnd <= sb.pipe((this.sndMax - this.sndUna) | 0)) return false;
    if (sb.nextLost() >= 0) return true;
    return this.unsentBytes > 0 && ((this.sndUna + this.sndWnd - this.sndNxt) | 0) > 0;
  }

  /**
   * Send `len` bytes of new data at SND.NXT (with the FIN when they end the stream, or the
   * FIN alone for `len` 0) and record the transmission. False when nothing could be sent.
   */
  sendNew(len: number, now: number): boolean {
    TX_NOW[0] = now;
    return this.#sendNewNow(len);
  }

  /** {@link Sender.sendNew} at the time in `TX_NOW` (output's form: no double passed). */
  #sendNewNow(len: number): boolean {
    const now = TX_NOW[0];
    const conn = this.#conn;
    const mss = this.segMss();
    const dataEnd = (this.sndBufSeq + this.sndBuf.length) >>> 0; // finSeq, not returned boxed
    const seq = this.sndNxt;
    const fin = this.finQueued && ((seq + len) >>> 0) === dataEnd;
    if (len === 0 && !fin) return false;
    const sb = this.sb;
    if (!sb.hasRoom()) {
      this.#svc.stats.TCPSackScoreboardFull++;
      return false;
    }
    let flags = TCP_FLAG_ACK;
    if (fin) flags |= TCP_FLAG_FIN;
    if (len > 0 && ((seq + len) >>> 0) === dataEnd) flags |= TCP_FLAG_PSH;
    const ect = conn.ecnOk && len > 0;
    if (ect && this.rec.cwrPending) flags |= TCP_FLAG_CWR;
    if (!conn.emit((seq - this.sndUna) | 0, flags, len, len > mss ? mss : 0, ect)) return false;
    if ((flags & TCP_FLAG_CWR) !== 0) this.rec.cwrPending = false;
    const end = (seq + (len + (fin ? 1 : 0))) >>> 0;
    SCOREBOARD_TX_MS[0] = now; // a cell, not an argument (TX_NOW)
    sb.onSendAtTx((seq - sb.fack) | 0, len + (fin ? 1 : 0), fin ? SB_FIN : 0);
    if (len < mss && len > 0) this.sndSml = end | 0;
    this.loss.lastTxRetrans = false;
    this.sndNxt = end;
    if (((end - this.sndMax) | 0) > 0) this.sndMax = end;
    this.#lastSendMs = now;
    const pacer = this.pacer;
    pacer.sentAtMs = now; // a field, not an argument: no heap number per segment
    pacer.onSentAt(len);
    if (this.rec.inReduction) this.rec.prr.onSent(len);
    return true;
  }

  /**
   * Retransmit record `i` of the scoreboard, at most `cap` bytes of it (a whole record when
   * the scoreboard cannot split it), for `reason` (an `RX_*` of `retrans_log.ts`; -1: the one
   * it was deemed lost for). Returns the sequence space resent, 0 when nothing left.
   */
  retransmit(i: number, cap: number, now: number, reason: number): number {
    const sb = this.sb;
    const mss = this.segMss();
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
    const fromUna = seqDiff(start, this.sndUna);
    if (!this.#conn.emit(fromUna, flags, dataLen, dataLen > mss ? mss : 0)) return 0;
    const got = sb.onRetransmit(i, len, now, reason);
    this.loss.lastTxRetrans = true;
    const segs = Math.ceil(got / mss);
    this.#svc.stats.RetransSegs += segs;
    this.retransmits += segs;
    this.loss.ownRecovery().onRetransmit(got, mss, this.#conn.tsNow());
    if (this.rec.inReduction) this.rec.prr.onSent(got);
    const pacer = this.pacer;
    pacer.sentAtMs = now; // a field, not an argument (`#sendNewNow`)
    pacer.onSentAt(dataLen);
    this.#lastSendMs = now;
    return got;
  }

  /**
   * TSO deferral (Linux tcp_tso_should_defer): when the windows let only a sliver of a burst
   * go (`allow` bytes of `unsent`, less than a full `burst` and less than a third of the
   * window) and an ACK is due soon, wait for it instead of sending a small segment —
   * per-segment costs dominate a cwnd-limited flow that sends what each ACK frees. Never in
   * a reduction, not when the last transmission is more than 1 ms old, and only while the
   * oldest unacknowledged segment is between half an RTT and an RTT old: younger, its ACK is
   * too far off to hold the window for (Linux's test); older, the ACK is late (a wake-up is
   * set for then, where Linux waits for the next ACK or its loss-probe timer).
   */
  #deferTso(allow: number, budget: number, unsent: number, burst: number): boolean {
    const now = TX_NOW[0]; // the pass's time read, not passed: no heap number per pass
    if (burst <= this.mss || allow >= burst || unsent <= allow) return false;
    if (this.rec.inReduction || this.sndUna === this.sndMax || !this.rtt.hasSample) return false;
    if (now - this.#lastSendMs > TSO_DEFER_MAX_MS) return false;
    const wnd = this.sndWnd < this.cc.cwnd ? this.sndWnd : this.cc.cwnd;
    if (allow >= wnd / TSO_WIN_DIVISOR) return false;
    // Linux: while the oldest unacknowledged segment is younger than half an RTT, its ACK is
    // more than half an RTT away — too long to hold what the window allows: send. Older, an
    // ACK is due soon: wait for it, but not past a whole RTT, when it is late (a lost
    // super-segment must have followers, or only a timer could find the loss).
    // The oldest record's send time read in place: returned by `sb.xmitMs(0)`, a call V8 does
    // not always inline, it was a new heap number per deferral test ("box40").
    const sb = this.sb;
    const sentAt = sb.columns.xmit[sb.head];
    const srtt = this.rtt.srttMs;
    if (now < sentAt + srtt / 2) return false;
    const lateAt = sentAt + srtt;
    if (now >= lateAt) return false;
    const timers = this.#svc.ctx.timers;
    const pt = this.pacingTimer;
    if (!pt.armed || pt.deadlineMs > lateAt) {
      pt.armAtMs = lateAt; // a field, not an argument: no heap number (TimerWheel.arm)
      timers.arm(pt);
    }
    if (budget <= allow) this.loss.cwndLimited = true; // cwnd held us: it may grow
    return true;
  }

  /**
   * A segment the peer must answer and cannot take as data: SEQ = SND.UNA − 1, no payload
   * (zero-window probe as Linux sends it; keepalive probe, RFC 1122 §4.2.3.6).
   */
  sendProbe(): void {
    this.#conn.emit(-1, TCP_FLAG_ACK, 0, 0);
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
    if (n < len) this.#svc.stats.TCPSendBufferFull++;
    this.writerWaiting = n < len;
    return n;
  }

  /** A FIN follows the queued data. */
  queueFin(): void {
    this.finQueued = true;
    this.writerWaiting = false; // nothing more will be written
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

  /**
   * A "too big" error about this connection was believed and the path MTU cache updated: the
   * MSS follows the path at once (and the segments too big for it are resent now).
   */
  pathMtuChanged(): void {
    readClockMs(this.#svc.ctx.clock, TX_NOW);
    this.#syncMss();
  }

  /**
   * The MSS follows its sources ({@link MssControl}): the path MTU cache (lowered by an
   * error about any connection to the peer, raised by its expiry) and the black-hole cap's
   * expiry. Called at every output pass, as Linux's `tcp_current_mss` checks its PMTU cookie.
   */
  #syncMss(): void {
    const nowMs = TX_NOW[0]; // the time read, not passed: no heap number per output pass
    const m = this.mssControl;
    const pathChanged = m.syncPath(this.#conn.pathMss());
    // `expire` called only with a black hole to expire: the time passed to it (fractional) was
    // a new heap number per output pass where V8 did not inline the call ("box40").
    const expired = m.blackhole !== 0 && m.expire(nowMs);
    if (!expired && !pathChanged) return;
    const mss = m.effective();
    if (mss === this.mss) return;
    if (mss < this.mss) {
      this.#svc.stats.TCPPathMtuLowered++;
      this.#lowerMss(mss);
      return;
    }
    this.mss = mss;
    if (this.#conn.state >= TcpState.ESTABLISHED) this.cc.setMss(mss);
  }

  /**
   * The path MTU went down: a smaller MSS; what was sent in larger segments is deemed lost and
   * resent now (Linux tcp_simple_retransmit: no congestion response).
   */
  #lowerMss(mss: number): void {
    this.mss = mss;
    if (this.#conn.state < TcpState.ESTABLISHED) return;
    this.cc.setMss(mss);
    const sb = this.sb;
    for (let i = 0; i < sb.count; i++) if (sb.length(i) > mss) sb.markLost(i, RX_MTU);
    if (sb.lostBytes > 0 && !this.rec.repairing) {
      // Not a congestion event: the Loss state only so that the resends go first, with no
      // window reduction and nothing to undo.
      const rec = this.loss.ownRecovery();
      rec.state = CA_LOSS;
      rec.recover = this.sndMax;
      rec.undoPossible = false;
    }
    this.#conn.scheduleOutput();
  }

  // ---- timers ----------------------------------------------------------------------------

  /** TIME_WAIT: nothing is retransmitted or probed any more. */
  stopRetransmitting(): void {
    this.loss.stop();
    this.#cancel(this.#persistT);
    this.#cancel(this.#pacingT);
  }

  /** The connection is gone: every timer stops. */
  stop(): void {
    this.stopRetransmitting();
    this.#cancel(this.#corkT);
  }

  /** Arm the persist timer (unless it or the RTO timer runs), backed off. */
  #armPersist(): void {
    if (this.#persistT?.armed || this.rtoTimer.armed) return;
    const svc = this.#svc;
    const base = this.rtt.rtoMs * 2 ** this.persistBackoff;
    const max = svc.opts.maxRtoMs;
    // The time through a cell and the deadline through the timer's field: `nowMs()` returned
    // and `schedule` took a fractional time, a heap number each where V8 did not inline them
    // — per output pass of a sender waiting for a window ("box40").
    readClockMs(svc.ctx.clock, ARM_NOW);
    const t = this.persistTimer;
    t.armAtMs = ARM_NOW[0] + (base < max ? base : max);
    svc.ctx.timers.arm(t);
  }

  /** Arm the cork timer if a short segment is being held by TCP_CORK. */
  #armCork(): void {
    if (this.#corkT?.armed) return;
    const ctx = this.#svc.ctx;
    ctx.timers.schedule(this.corkTimer, ctx.clock.nowMs() + CORK_TIMEOUT_MS);
  }

  /** Restart output at the pacer's release time. */
  #armPacing(): void {
    if (this.#pacingT?.armed) return;
    const pt = this.pacingTimer;
    pt.armAtMs = this.pacer.releaseMs; // a field, not an argument: no heap number per packet
    this.#svc.ctx.timers.arm(pt);
  }

  /** The pacer's release time came. */
  #onPacing(): void {
    const st = this.#conn.state;
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
    this.#conn.flushOutput();
  }

  /**
   * The retransmission timeout ({@link LossSender.rtoExpired}): resend the SYN (give up
   * after `synRetries`), or let loss control collapse cwnd and deem every unSACKed segment
   * lost (RFC 6298 §5.4–5.7, RFC 5681 §3.1) and resend from SND.UNA (give up after
   * `maxRetries`).
   */
  rtoExpired(): void {
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
    if (
      svc.opts.mtuProbing &&
      this.mssControl.onTimeout(this.retries, seqDiff(this.sndMax, this.sndUna), now)
    ) {
      // RFC 4821 §7.7 black hole: the resend below goes out in smaller segments.
      stats.TCPMTUPFail++;
      this.mss = this.mssControl.effective();
      this.cc.setMss(this.mss);
    }
    this.loss.onRto(now);
    conn.flushOutput();
  }

  /** The persist timer fired: probe the zero window, or send what fits a too small one. */
  #onPersist(): void {
    const conn = this.#conn;
    const st = conn.state;
    if (st < TcpState.ESTABLISHED || st === TcpState.TIME_WAIT) return;
    const unsent = this.unsentBytes;
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
    return this.loss.recover;
  }
}
