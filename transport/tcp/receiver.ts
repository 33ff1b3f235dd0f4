/**
 * The receiving half of a TCP connection (gVisor's `receiver`, rcv.go): the receive sequence
 * space (IRS, RCV.NXT, the right edge of the window we advertised), the receive ring with
 * out-of-order data stored in place and tracked by the assembler, the peer's FIN, TS.Recent
 * (RFC 7323 §4.3), ACK generation (delayed ACKs, RFC 1122 §4.2.3.2, quick-ack mode), the
 * window we advertise (receiver SWS avoidance, RFC 1122 §4.2.3.3, never shrinking,
 * RFC 9293 §3.8.6.2.2), receive-buffer auto-tuning, the SACK blocks of our ACKs with a
 * D-SACK block for data received twice (RFC 2883 §4), and the ECN-Echo state (RFC 3168
 * §6.1.3).
 *
 * Only this file writes these fields. The connection learns of what happens through
 * {@link ReceiverConnection}; sending a segment that carries an ACK is reported back through
 * {@link TcpReceiver.ackSent}. Nothing is allocated per segment.
 *
 * @module
 */

import { ByteRing } from "../../core/byte_ring.ts";
import { copyBytes } from "../../core/copy_bytes.ts";
import { EV_READABLE } from "../../core/event_mux.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { readClockMs } from "../../core/clock.ts";
import { AckDeferProbe, PROBE_DECIDED_OFF, PROBE_DECIDED_ON } from "./ack_defer_probe.ts";
import { Assembler } from "./assembler.ts";
import type { TcpServices } from "./context.ts";
import { TCP_FLAG_CWR, TCP_FLAG_FIN, TCP_FLAG_PSH, TCP_FLAG_SYN } from "./header.ts";
import { DEFAULT_PEER_MSS } from "./mss.ts";
import type { TcpHeaderOptions } from "./options.ts";
import type { RttEstimator } from "./rtt_estimator.ts";
import type { RxSegment } from "./segment.ts";
import { seqAdd, seqGt, seqLe, seqSegmentAcceptableAt } from "./seq.ts";
import { canReceiveData, TcpEvent, TcpState } from "./state.ts";
import { encodeWindow, MAX_WINDOW_FIELD, windowShiftFor } from "./window_scale.ts";

/**
 * The unit of {@link TcpReceiver.bytesReceived}'s high part: 2^29 bytes, so the low part (below
 * it) stays a small integer (2^31 - 1 on this Deno's V8, 2^30 - 1 with pointer compression).
 */
const BYTES_RECEIVED_UNIT = 0x2000_0000;
/** log2 of {@link BYTES_RECEIVED_UNIT}. */
const BYTES_RECEIVED_UNIT_BITS = 29;

/** Most SACK blocks sent beside timestamps (RFC 2018 §3). */
const SACK_BLOCKS_WITH_TS = 3;
/** Most SACK blocks sent without timestamps. */
const SACK_BLOCKS_NO_TS = 4;
/** The hold bound of an adaptive deferral when `ackDeferUs` does not give one (µs). */
export const ACK_DEFER_AUTO_US = 150;
/** The IP ECN field's CE codepoint (RFC 3168 §5). */
const ECN_CE = 3;

/** What a receiver needs from its connection; `TcpEndpoint` implements it. */
export interface ReceiverConnection {
  /** The connection's state. */
  readonly state: TcpState;
  /** Timestamps were negotiated. */
  readonly tsOk: boolean;
  /** TSval now (RFC 7323 §5.4). */
  tsNow(): number;
  /**
   * TSval now less the TSecr `opts` echoes (uint32): the RFC 7323 §4.1 RTT sample, in ms.
   */
  tsEchoAgeMs(opts: TcpHeaderOptions): number;
  /** Send a bare ACK now. */
  sendAck(): void;
  /** Produce output at the end of the tick (an ACK still owed then goes out, or rides on data). */
  scheduleOutput(): void;
  /** Report a state-machine event (the peer's FIN). */
  transition(ev: TcpEvent): void;
  /** Recompute readiness; `extra` bits are notified even when already set (new data). */
  updateReadiness(extra?: number): void;
}

/**
 * The assembler of every receiver that never saw out-of-order data: empty, only read (its
 * `add` is never called; a receiver makes its own first).
 */
const NO_RANGES = new Assembler(1);

/** The largest timestamp RTT sample the receiver's average takes (ms; larger ones count as it). */
const RCV_RTT_MAX_MS = 1_000_000;

/** Where `#autotune` reads the clock (a cell: no time returned across a call). */
const AUTOTUNE_CLOCK = new Float64Array(1);
/**
 * The cell the ACK decisions' clock reads go through (the delayed-ACK timer's arming, ACK
 * deferral: per segment received): {@link readClockMs}, for the reason of `AUTOTUNE_CLOCK`.
 */
const ACK_CLOCK = new Float64Array(1);

/**
 * The receive side of one connection, created with it.
 *
 * @example
 * ```ts ignore
 * const rcv = new TcpReceiver(endpoint, layer, advMss);
 * rcv.init(seg.seq); // the peer's SYN
 * if (rcv.acceptable(seg)) rcv.receive(seg);
 * ```
 */
export class TcpReceiver {
  /** IRS: the peer's initial sequence number. */
  get irs(): number {
    return this.#irs >>> 0;
  }
  /** IRS as an int32, as {@link TcpReceiver.rcvAdvRight}'s edge. */
  #irs = 0;
  /** RCV.NXT. */
  rcvNxt = 0;
  /** Right edge of the window last advertised (never moves left). */
  get rcvAdvRight(): number {
    return this.#advRight >>> 0;
  }
  /**
   * {@link TcpReceiver.rcvAdvRight} kept as an int32 (compared only through `seq*`, which give
   * the same for a uint32 and its int32): a uint32 field would be a double, a 16-byte heap
   * number in every connection.
   */
  #advRight = 0;
  /** Received data; out-of-order data is stored in place beyond the readable part. */
  readonly rcvBuf: ByteRing;
  /** Out-of-order ranges. */
  /** Out-of-order ranges (a shared empty one until the first out-of-order segment). */
  asm: Assembler = NO_RANGES;
  /** A FIN arrived (maybe out of order) at `rcvFinSeq`. */
  rcvFinPending = false;
  /** Sequence number of the peer's FIN (valid with `rcvFinPending`). */
  rcvFinSeq = 0;
  /** The peer's FIN was consumed: EOF after the buffered data. */
  finReceived = false;
  /** Our window shift (announced), 0 when scaling is off. */
  rcvShift = 0;
  /** MSS we advertise (route MTU − 40). */
  readonly advMss: number;
  /** Largest segment seen from the peer ("full-sized" for delayed ACKs). */
  rcvMss: number = DEFAULT_PEER_MSS;
  /**
   * RFC 7323 TS.Recent. A uint32 field (a heap number per connection), not an int32 behind a
   * getter as the edges below: every ACK sent reads it (`emit`), and the getter's uint32 came
   * back boxed there — +30 to +40 B per segment in `tcp_merged_seq_alloc_test` (branch held9c).
   */
  tsRecent = 0;
  /** RCV.NXT carried by the last ACK sent (RFC 7323 Last.ACK.sent). */
  get lastAckSent(): number {
    return this.#lastAckSent >>> 0;
  }
  /** Last.ACK.sent as an int32, as {@link TcpReceiver.rcvAdvRight}'s edge. */
  #lastAckSent = 0;
  /** An ACK is owed (delayed, or due at the end of the tick when {@link ackDue}). */
  ackPending = false;
  /**
   * The owed ACK goes out at the end of this tick (on data the application writes meanwhile,
   * else bare). Without it a pending ACK waits for data to ride on or for the delayed-ACK
   * timer — even when the connection produces output for another reason (an ACK of our data
   * that sent nothing new): RFC 1122 §4.2.3.2, Linux `__tcp_ack_snd_check`.
   */
  ackDue = false;
  /** Bytes received since the last ACK. */
  rcvUnackedBytes = 0;
  /**
   * The owed ACK must not be deferred ({@link TcpReceiver.deferAck}): it is more than the ACK of
   * in-order data (a FIN, a window update, a quick-ack, the handshake's).
   */
  #ackUrgent = false;
  /** When the owed ACK, deferred, is due at the latest (ms); -1: not deferred. */
  #deferDueMs = -1;
  /** The adaptive deferral's probe ({@link TcpOptions.ackDeferAuto}), made when first needed. */
  #probe: AckDeferProbe | null = null;
  /** ACKs still sent at once (quick-ack mode). */
  quickAcks: number;
  /** Auto-tuning may grow the receive buffer (off once SO_RCVBUF is set). */
  autotune = true;
  /** Auto-tuning: bytes read by the application in the current measurement. */
  spaceCopied = 0;
  /** Auto-tuning: start of the measurement. */
  spaceStartMs = 0;
  /** Receiver RTT estimate from timestamps (ms), 0 when unknown. */
  get rttMs(): number {
    return this.#rttUs / 1000;
  }
  /**
   * {@link TcpReceiver.rttMs} in whole µs: a small integer field always. In ms the average of
   * whole-ms samples turned fractional at a process's first sample of 1 ms or more after
   * smaller ones, mid-transfer, and the field's change to a double changed every receiver's
   * map (~25 receive-path functions thrown away: bench/README.md, "box40").
   */
  #rttUs = 0;
  /**
   * Bytes of the peer's data received in order, below {@link BYTES_RECEIVED_UNIT}; the rest
   * counts in whole units (`#bytesReceivedUnits`). Two small integers, never a double: a total
   * that passed 2^31 (~1 s of a 20 Gbit/s stream) turned the field into a double mid-run, and
   * V8 threw away the receive path's optimised code ("wrong map": bench/README.md, "rx13h").
   */
  #bytesReceivedLow = 0;
  /** Whole {@link BYTES_RECEIVED_UNIT}s of {@link TcpReceiver.bytesReceived}. */
  #bytesReceivedUnits = 0;
  /** A D-SACK block (RFC 2883) goes first in the next ACK: `[dsackStart, dsackEnd)`. */
  dsackPending = false;
  /**
   * Left edge of the pending D-SACK block, as an int32 (the uint32's bits; the SACK block
   * array takes it back): a uint32 at or above 2**31 stored here turned the field double at a
   * process's first such D-SACK — every receiver's map changed mid-run and ~30 receive-path
   * functions lost their code ("wrong map", bench/README.md, "box40").
   */
  dsackStart = 0;
  /** Right edge of the pending D-SACK block, an int32 as {@link TcpReceiver.dsackStart}. */
  dsackEnd = 0;
  /** RFC 3168 §6.1.3: a CE mark arrived and no CWR since: our ACKs carry ECE. */
  ecnEcho = false;
  /**
   * A posted read ({@link TcpReceiver.post}): the application's buffer (null: a skip) that
   * in-order data arriving at an empty receive buffer goes to straight from the frame.
   */
  #postDst: Uint8Array | null = null;
  /** Where in {@link TcpReceiver.#postDst} the posted read starts. */
  #postOff = 0;
  /** Bytes the posted read takes, all told (0: no read posted). */
  #postLen = 0;
  /** Bytes the posted read has taken. */
  #postDone = 0;
  /** Delayed-ACK timer, made when first armed. */
  #delackT: Timer | null = null;
  readonly #conn: ReceiverConnection;
  readonly #svc: TcpServices;

  /**
   * The sender's RTT estimator (its smoothed RTT is auto-tuning's period while this side has
   * no RTT sample of its own), read here rather than handed to each read: a double passed to a
   * call V8 does not inline is a new heap number (bench/README.md, "heap13m").
   */
  readonly #senderRtt: RttEstimator | null;

  /**
   * The receive side of `conn`, advertising `advMss`; `senderRtt` is the connection's sender's
   * RTT estimator (none: auto-tuning's period is this side's own RTT sample, else 1 ms).
   */
  constructor(
    conn: ReceiverConnection,
    svc: TcpServices,
    advMss: number,
    senderRtt: RttEstimator | null = null,
  ) {
    this.#conn = conn;
    this.#svc = svc;
    this.#senderRtt = senderRtt;
    this.advMss = advMss;
    const o = svc.opts;
    this.rcvBuf = new ByteRing(
      o.receiveBufferBytes,
      svc.ctx.rings ?? null,
      svc.rcvReadViews ?? null,
    );
    this.quickAcks = o.quickAcks;
  }

  /** Delayed-ACK timer. */
  get delackTimer(): Timer {
    return this.#delackT ??= new Timer(TcpReceiver.#fireDelack, this);
  }

  static #fireDelack(r: TcpReceiver): void {
    r.#onDelayedAck();
  }

  // ---- handshake -------------------------------------------------------------------------

  /** The peer's SYN carried `irs`: RCV.NXT follows it. */
  init(irs: number): void {
    this.#irs = irs | 0;
    this.rcvNxt = seqAdd(irs, 1);
    this.#advRight = this.rcvNxt | 0;
  }

  /**
   * {@link TcpReceiver.init} from the peer's SYN itself (a SYN-ACK in SYN_SENT): its sequence
   * number read here, not passed — an argument ≥ 2**31 is a heap number.
   */
  initFrom(syn: RxSegment): void {
    const irs = syn.seq;
    this.#irs = irs | 0;
    this.rcvNxt = (irs + 1) >>> 0;
    this.#advRight = this.rcvNxt | 0;
  }

  /**
   * Choose the window shift to announce (RFC 7323 §2.2: fixed for the connection's life), big
   * enough for the largest the buffer may grow to.
   */
  chooseWindowShift(): void {
    const cap = this.rcvBuf.capacity;
    const max = this.#svc.opts.maxReceiveBufferBytes;
    this.rcvShift = windowShiftFor(this.autotune && max > cap ? max : cap);
  }

  /** What the SYN exchange settled: no scaling means no shift; TS.Recent from the SYN. */
  setPeerOptions(windowScaling: boolean, timestamps: boolean, tsVal: number): void {
    if (!windowScaling) this.rcvShift = 0;
    if (timestamps) this.tsRecent = tsVal;
    this.rcvMss = Math.min(this.advMss, DEFAULT_PEER_MSS);
  }

  /** Auto-tuning starts measuring (the connection is established). */
  startMeasuring(nowMs: number): void {
    this.spaceStartMs = nowMs;
  }

  // ---- segment arrival -------------------------------------------------------------------

  /** The receive window in bytes (RCV.WND: up to the right edge advertised). */
  get window(): number {
    // `seqDiff` written out: its two uint32 arguments are heap numbers whenever V8 does not
    // inline it (bench/README.md, "box32").
    const w = (this.#advRight - this.rcvNxt) | 0;
    return w > 0 ? w : 0;
  }

  /**
   * RFC 9293 §3.10.7.4 first check: is `seg` in the window? A segment at RCV.NXT on a zero
   * window still counts for its ACK and RST: its payload and FIN are dropped from `seg`.
   */
  acceptable(seg: RxSegment): boolean {
    const wnd = this.window;
    // The distance, not the two sequence numbers, crosses the call: a small integer for
    // any segment near the window (uint32s ≥ 2**30 would be heap numbers; "box32").
    if (seqSegmentAcceptableAt((seg.seq - this.rcvNxt) | 0, seg.segLen, wnd)) return true;
    if (wnd !== 0 || seg.seq !== this.rcvNxt) return false;
    seg.dataLen = 0;
    seg.flags &= ~TCP_FLAG_FIN;
    seg.segLen = (seg.flags & TCP_FLAG_SYN) !== 0 ? 1 : 0;
    return true;
  }

  /**
   * RFC 7323 §5.3 PAWS: the segment's TSval is older than TS.Recent (a duplicate from the
   * past). Takes the segment, not the TSval: a uint32 at or above 2**30 passed to a call V8
   * does not inline is a new heap number per segment (bench/README.md, "flake31").
   */
  isOldTimestamp(seg: RxSegment): boolean {
    // `seqLt` written out (as in the rest of this file's per-segment paths): V8's mid tier
    // calls a helper on a path fewer than 95 % of calls took when it compiled, and the two
    // uint32s would be heap numbers (bench/README.md, "box32").
    return ((seg.opts.tsVal - this.tsRecent) | 0) < 0;
  }

  /** RFC 7323 §4.3: remember the timestamp to echo, from a segment covering Last.ACK.sent. */
  noteTimestamp(seg: RxSegment): void {
    // `seqLe`/`seqGe` written out: a helper V8's mid tier did not inline (a call on a path
    // below 95 % of calls when it compiled) takes its uint32s as heap numbers ("box32").
    const covers = ((seg.seq - this.#lastAckSent) | 0) <= 0;
    const newer = ((seg.opts.tsVal - this.tsRecent) | 0) >= 0;
    if (covers && newer) this.tsRecent = seg.opts.tsVal;
  }

  /**
   * Data and FIN of an acceptable segment (RFC 9293 §3.10.7.4, seventh and eighth checks):
   * in-order data into the ring, out-of-order data in place (SACKed at once), the FIN once
   * everything before it arrived; then the ACK, at once or delayed.
   */
  receive(seg: RxSegment): void {
    const stats = this.#svc.stats;
    const conn = this.#conn;
    const seq = seg.seq;
    let off = seg.dataOff;
    let len = seg.dataLen;
    const hasFin = (seg.flags & TCP_FLAG_FIN) !== 0;
    if (len > 0 && !canReceiveData(conn.state)) len = 0; // after the peer's FIN nothing is new
    let immediate = false;
    // RFC 3168 §6.1.3: ECE on every ACK from a CE mark until the sender's CWR.
    if ((seg.flags & TCP_FLAG_CWR) !== 0) this.ecnEcho = false;
    if (seg.ecn === ECN_CE && len > 0) {
      if (!this.ecnEcho) immediate = true;
      this.ecnEcho = true;
    }
    if (len > 0) {
      // Math.min, not `len < advMss ? len : advMss`: a super-frame longer than the MSS was the
      // only way to the second arm, which the warm-up's connections did not take ("jit13l").
      if (len > this.rcvMss) this.rcvMss = Math.min(len, this.advMss);
      // Sequence arithmetic written out on this path (`seqDiff`, `seqAdd`): a helper V8's mid
      // tier did not inline takes and returns uint32s as heap numbers ("box32").
      const trim = (this.rcvNxt - seq) | 0;
      if (trim > 0) {
        this.#setDsack(seq, trim < len ? this.rcvNxt : seqAdd(seq, len));
        stats.TCPDSACKOldSent++;
        off += trim;
        len -= trim;
        immediate = true; // a duplicate: ACK at once (RFC 5681 §4.2)
      }
    }
    let advanced = 0;
    if (len > 0) {
      const rx = this.rcvBuf;
      // The offset from RCV.NXT (0 after a trim), not SEG.SEQ moved to RCV.NXT: a sequence
      // number set in one branch is a merge V8's mid tier keeps tagged, a heap number per
      // segment that overlaps what arrived (retransmissions under loss, "sack33").
      const dist = (seq - this.rcvNxt) | 0;
      const at = dist < 0 ? 0 : dist;
      if (at === 0) {
        let direct = 0;
        if (this.#postLen > this.#postDone && rx.length === 0 && this.asm.isEmpty) {
          direct = this.#takeDirect(seg.buf, off, len);
          stats.TCPRcvDirectBytes += direct;
          off += direct;
          len -= direct;
        }
        const views = this.#svc.rcvCopyViews ?? null;
        const n = len > 0 ? rx.write(seg.buf, off, len, views) : 0;
        if (n < len) stats.TCPRcvQDrop++;
        advanced = direct + n;
        if (!this.asm.isEmpty) {
          this.asm.shift(n);
          const more = this.asm.removeFront();
          if (more > 0) advanced += rx.commit(more);
          immediate = true; // a hole was filled (RFC 5681 §4.2)
        }
      } else {
        let n = rx.free - at;
        if (n > len) n = len;
        if (n > 0 && this.#ofoDuplicate(at, n)) stats.TCPDSACKOfoSent++;
        if (n > 0 && this.asm === NO_RANGES) this.asm = new Assembler(this.#svc.opts.ooqMaxRanges);
        if (n > 0 && this.asm.add(at, n)) {
          rx.writeAt(at, seg.buf, off, n, this.#svc.rcvCopyViews ?? null);
          stats.TCPOFOQueue++;
        } else {
          stats.TCPOFODrop++;
        }
        immediate = true; // out of order: a duplicate ACK with SACK blocks at once
      }
    }
    // On every path (adding 0 changes nothing), and `seqAdd` written out: V8's mid tier
    // inlines a call only on a path nearly every call takes, and even then not always.
    this.rcvNxt = (this.rcvNxt + advanced) >>> 0;
    if (advanced > 0) {
      // The carry without a branch: a loop or `if` taken only once 2^29 bytes arrived was a
      // path no warm-up connection (a few MiB each) reached, and the optimised receive path
      // was thrown away ~0.3 s into a real stream ("Insufficient type feedback":
      // bench/README.md, "jit13l"). `low` < 2^31: `advanced` is below the window.
      const low = this.#bytesReceivedLow + advanced;
      this.#bytesReceivedUnits += low >>> BYTES_RECEIVED_UNIT_BITS;
      this.#bytesReceivedLow = low & (BYTES_RECEIVED_UNIT - 1);
      if (conn.tsOk && seg.opts.hasTimestamps && seg.opts.tsEcr !== 0) {
        const r = conn.tsEchoAgeMs(seg.opts);
        if (r < 0x7fffffff) {
          // The first sample or the average by one formula, weights chosen (small integers):
          // `rttMs === 0 ? r : (7 · rttMs + r) / 8` merged a fraction, which V8's mid tier keeps
          // as a new heap number — per segment once a real (fractional) clock gave one ("sack33").
          // In whole µs, samples capped at 1,000 s: the average stays an int32.
          const rUs = (r < RCV_RTT_MAX_MS ? r : RCV_RTT_MAX_MS) * 1000;
          const g = this.#rttUs === 0 ? 8 : 1;
          this.#rttUs = (((8 - g) * this.#rttUs + g * rUs) / 8) | 0;
        }
      }
    }
    if (hasFin && canReceiveData(conn.state) && !this.rcvFinPending) {
      this.rcvFinPending = true;
      this.rcvFinSeq = seqAdd(seg.seq, seg.dataLen);
    }
    if (this.rcvFinPending && !this.finReceived && this.rcvNxt === this.rcvFinSeq) {
      this.#finArrived();
      return;
    }
    if (advanced > 0) conn.updateReadiness(EV_READABLE);
    if (immediate) conn.sendAck();
    else if (advanced > 0) this.#ackData(advanced, (seg.flags & TCP_FLAG_PSH) !== 0);
  }

  /**
   * A segment wholly before RCV.NXT (refused by {@link TcpReceiver.acceptable}) carried data
   * we already have: report it with a D-SACK (RFC 2883 §4.1.1).
   */
  noteOldDuplicate(seg: RxSegment): void {
    if (seg.dataLen === 0) return;
    const end = seqAdd(seg.seq, seg.dataLen);
    if (!seqLe(end, this.rcvNxt)) return;
    this.#setDsack(seg.seq, end);
    this.#svc.stats.TCPDSACKOldSent++;
  }

  /** The next ACK reports `[start, end)` as received twice. */
  #setDsack(start: number, end: number): void {
    this.dsackPending = true;
    this.dsackStart = start | 0; // int32s: a small integer field always
    this.dsackEnd = end | 0;
  }

  /**
   * Out-of-order data `[at, at + n)` (offsets from RCV.NXT; offsets, not sequence numbers,
   * which V8 would pass as new heap numbers) overlaps data held already: the overlap becomes
   * the D-SACK block (RFC 2883 §4.1.2). Returns true when it did.
   */
  #ofoDuplicate(at: number, n: number): boolean {
    const asm = this.asm;
    const end = at + n;
    for (let i = 0; i < asm.rangeCount; i++) {
      const rs = asm.rangeStart(i);
      const re = asm.rangeEnd(i);
      if (re <= at || rs >= end) continue;
      const s = rs > at ? rs : at;
      const e = re < end ? re : end;
      this.#setDsack(seqAdd(this.rcvNxt, s), seqAdd(this.rcvNxt, e));
      return true;
    }
    return false;
  }

  /** The peer's FIN is next in sequence: EOF (RFC 9293 §3.10.7.4, eighth check). */
  #finArrived(): void {
    const conn = this.#conn;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.finReceived = true;
    conn.transition(TcpEvent.RCV_FIN);
    // ACK at the end of the tick, with our FIN if the application closes meanwhile; a
    // connection that just entered TIME_WAIT (and so ended) ACKs now.
    if (conn.state === TcpState.CLOSED) conn.sendAck();
    else this.ackAtEndOfTick();
    conn.updateReadiness(EV_READABLE);
  }

  // ---- ACK generation --------------------------------------------------------------------

  /** ACK now, or delay it (RFC 1122 §4.2.3.2: every second full-sized segment; quick-acks). */
  #ackData(bytes: number, push: boolean): void {
    this.rcvUnackedBytes += bytes;
    if (this.quickAcks > 0) {
      // Quick-ack mode: every segment is ACKed at once — but the last of a message (PSH) at the
      // end of the tick, so that it can ride on the reply if the application answers at once.
      this.quickAcks--;
      if (push) this.ackAtEndOfTick();
      else this.#conn.sendAck();
      return;
    }
    if (this.rcvUnackedBytes >= 2 * this.rcvMss) {
      // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: an ACK for at least every second full-sized segment.
      // Coalesced, it is built at the end of the tick for all the tick's in-order data: the
      // frames would leave in the tick's one TX kick anyway, so the sender hears as early, from
      // one ACK instead of one per GRO super-segment (on veth the sender's ACK processing runs
      // inside our kick: bench/README.md, slow13).
      if (this.#svc.opts.coalesceAcks) {
        // Due, but not urgent: with ackDeferUs it may wait for more data to cover (deferAck).
        this.ackPending = true;
        this.ackDue = true;
        this.#conn.scheduleOutput();
      } else this.#conn.sendAck();
      return;
    }
    this.ackPending = true;
    if (this.#delackT === null || !this.#delackT.armed) {
      const ctx = this.#svc.ctx;
      const t = this.delackTimer;
      // A field, not an argument: no heap number (TimerWheel.arm); the time through a cell,
      // not returned by `nowMs()` (a heap number where V8 did not inline it: "box40").
      readClockMs(ctx.clock, ACK_CLOCK);
      t.armAtMs = ACK_CLOCK[0] + this.#svc.opts.delayedAckMs;
      ctx.timers.arm(t);
    }
  }

  /**
   * An ACK is owed now, but it goes out at the end of the tick: on the data or FIN the
   * application sends meanwhile (one segment instead of two), else bare.
   */
  ackAtEndOfTick(): void {
    this.ackPending = true;
    this.ackDue = true;
    this.#ackUrgent = true;
    this.#conn.scheduleOutput();
  }

  /**
   * The transmit half found an ACK due and nothing to carry it: may it wait instead of going
   * out bare now? True (counted in `TCPAckDeferred`) while all of these hold:
   *
   * - deferral is on (`ackDeferUs` > 0) and the ACK is only the one owed for in-order data
   *   (not a FIN's, a window update's, a quick-ack; no out-of-order ranges, D-SACK or ECN
   *   echo to report: those go at once, RFC 5681 §4.2);
   * - the bytes it leaves unacknowledged stay under `ackDeferBytes` and under a quarter of the
   *   window our last ACK gave the sender, so the sender never runs short of window;
   * - it has waited less than `ackDeferUs`: the delayed-ACK timer is armed for that bound,
   *   so it goes out then at the latest.
   *
   * The data that arrives meanwhile is covered by the same ACK. RFC 9293 §3.8.6.3 / RFC 1122
   * §4.2.3.2 ask for an ACK for at least every second full-sized segment; a GRO receiver
   * already stretches that to one per super-segment (Linux), and this to one per few
   * super-segments, bounded in bytes and time. On veth each ACK's TX kick runs the kernel
   * sender's ACK processing and transmit inside our `sendto` (bench/README.md, slow13).
   */
  deferAck(): boolean {
    const opts = this.#svc.opts;
    const auto = opts.ackDeferAuto;
    const us = opts.ackDeferUs > 0 ? opts.ackDeferUs : auto ? ACK_DEFER_AUTO_US : 0;
    if (
      us <= 0 || this.#ackUrgent || this.quickAcks > 0 || this.dsackPending || this.ecnEcho ||
      !this.asm.isEmpty || this.rcvFinPending
    ) return false;
    const ctx = this.#svc.ctx;
    readClockMs(ctx.clock, ACK_CLOCK); // a cell, not `nowMs()`'s result (as `#ackData`)
    const now = ACK_CLOCK[0];
    if (auto) {
      // Adaptive: only while deferring is found to cost this sender no rate (AckDeferProbe).
      const p = this.#probe ??= new AckDeferProbe(now);
      if (now >= p.nextMs) this.#advanceProbe(p, now);
      if (!p.on) return false;
    }
    const unacked = this.rcvUnackedBytes;
    if (unacked >= opts.ackDeferBytes) return false;
    // The window our last ACK gave is what the sender has used (unacked) and what is left:
    // held back, at most a quarter of it.
    if (3 * unacked > this.window) return false;
    if (this.#deferDueMs < 0) {
      const due = now + us / 1000;
      this.#deferDueMs = due;
      const t = this.delackTimer;
      if (!t.armed || t.deadlineMs > due) {
        t.armAtMs = due;
        ctx.timers.arm(t);
      }
    } else if (now >= this.#deferDueMs) return false;
    this.#svc.stats.TCPAckDeferred++;
    return true;
  }

  /** Bytes of the peer's data received in order (TCP_INFO's `tcpi_bytes_received`). */
  get bytesReceived(): number {
    return this.#bytesReceivedUnits * BYTES_RECEIVED_UNIT + this.#bytesReceivedLow;
  }

  /** Move the adaptive deferral's probe on (a few times per epoch), counting its decisions. */
  #advanceProbe(p: AckDeferProbe, now: number): void {
    const cpu = this.#svc.ctx.clock.cpuMs?.() ?? 0;
    const r = p.advance(now, this.bytesReceived, cpu);
    const stats = this.#svc.stats;
    if (r === PROBE_DECIDED_ON) stats.TCPAckDeferAutoOn++;
    else if (r === PROBE_DECIDED_OFF) stats.TCPAckDeferAutoOff++;
  }

  /** The adaptive deferral's probe of this connection (null: none yet, or not adaptive). */
  get ackDeferProbe(): AckDeferProbe | null {
    return this.#probe;
  }

  /** The delayed-ACK timer fired. */
  #onDelayedAck(): void {
    if (!this.ackPending || this.#conn.state === TcpState.CLOSED) return;
    if (this.#deferDueMs < 0) this.#svc.stats.TCPDelayedAcks++;
    this.#conn.sendAck();
  }

  /** A segment carrying ACK = RCV.NXT is being sent: nothing is owed any more. */
  ackSent(): void {
    this.ackPending = false;
    this.ackDue = false;
    this.dsackPending = false; // RFC 2883 §4: a D-SACK block is reported once
    this.rcvUnackedBytes = 0;
    this.#ackUrgent = false;
    this.#deferDueMs = -1;
    this.#lastAckSent = this.rcvNxt | 0;
    if (this.#delackT !== null && this.#delackT.armed) this.#svc.ctx.timers.cancel(this.#delackT);
  }

  /** The connection is gone: no ACK is owed, the timer stops. */
  stop(): void {
    if (this.#postDone === 0) this.#clearPost();
    if (this.#delackT !== null) this.#svc.ctx.timers.cancel(this.#delackT);
    this.ackPending = false;
    this.ackDue = false;
    this.#ackUrgent = false;
    this.#deferDueMs = -1;
  }

  // ---- what segments carry ---------------------------------------------------------------

  /**
   * The window field of a non-SYN segment, moving `rcvAdvRight`. RFC 1122 §4.2.3.3: the right
   * edge moves only by at least min(buffer/2, MSS); RFC 9293 §3.8.6.2.2: it never moves left.
   */
  windowField(): number {
    const shift = this.rcvShift;
    const maxWin = MAX_WINDOW_FIELD * (1 << shift);
    let free = this.rcvBuf.free;
    if (free > maxWin) free = maxWin;
    const cur = this.window;
    const step = Math.min(this.rcvBuf.capacity >>> 1, this.advMss);
    let win = free;
    if (free <= cur || free - cur < step) win = cur;
    const field = encodeWindow(win, shift);
    // `seqAdd`/`seqGt` written out: uint32s cross no call ("box32").
    const right = (this.rcvNxt + field * (1 << shift)) >>> 0;
    if (((right - this.#advRight) | 0) > 0) this.#advRight = right | 0;
    return field;
  }

  /**
   * The window field of a SYN or SYN-ACK (RFC 7323 §2.2: never scaled). A SYN-ACK sets the
   * right edge (`synReceived`); a SYN only moves it right.
   */
  synWindowField(synReceived: boolean): number {
    let w = this.rcvBuf.free;
    if (w > MAX_WINDOW_FIELD) w = MAX_WINDOW_FIELD;
    const right = seqAdd(this.rcvNxt, w);
    if (synReceived || seqGt(right, this.#advRight)) this.#advRight = right | 0;
    return w;
  }

  /** How many SACK blocks the next ACK carries (`timestamps`: beside the timestamps option). */
  sackBlocksToSend(timestamps: boolean): number {
    const max = timestamps ? SACK_BLOCKS_WITH_TS : SACK_BLOCKS_NO_TS;
    const n = (this.dsackPending ? 1 : 0) + this.asm.rangeCount;
    return n < max ? n : max;
  }

  /**
   * SACK blocks of the out-of-order data into `o` (RFC 2018 §3: 3 beside timestamps, else 4),
   * a pending D-SACK block first (RFC 2883 §4).
   */
  writeSackBlocks(o: TcpHeaderOptions): void {
    const max = o.hasTimestamps ? SACK_BLOCKS_WITH_TS : SACK_BLOCKS_NO_TS;
    let first = 0;
    if (this.dsackPending) {
      o.sackBlocks[0] = this.dsackStart; // a Uint32Array: the int32 back to its uint32
      o.sackBlocks[1] = this.dsackEnd;
      first = 1;
    }
    if (this.asm.isEmpty) {
      o.sackBlockCount = first;
      return;
    }
    // The regular blocks follow the D-SACK one (RFC 2883 §4: it goes first). The assembler
    // writes offsets (base 0) and RCV.NXT is added here: passed to a call V8 does not inline,
    // the uint32 (often ≥ 2**30) would be a new heap number per ACK.
    const blocks = o.sackBlocks;
    const n = this.asm.sackBlocks(blocks, 0, max - first, first);
    const rcvNxt = this.rcvNxt;
    for (let k = 2 * first; k < 2 * (first + n); k++) blocks[k] = blocks[k] + rcvNxt; // mod 2**32
    o.sackBlockCount = first + n;
  }

  // ---- the application side --------------------------------------------------------------

  /**
   * Read up to `len` bytes into `dst[off..]` (0 when nothing is there), then auto-tune and,
   * when the window opened enough, send a window update.
   */
  read(dst: Uint8Array, off: number, len: number): number {
    const n = this.rcvBuf.read(dst, off, len);
    if (n > 0) this.#consumed(n);
    return n;
  }

  /**
   * Drop up to `len` bytes of in-order data without copying them anywhere (what Linux's
   * `recv(MSG_TRUNC)` does on a TCP socket), with the same auto-tuning and window update as
   * {@link TcpReceiver.read}. Returns the bytes dropped (0 when nothing is there).
   */
  skip(len: number): number {
    const n = this.rcvBuf.consume(len);
    if (n > 0) this.#consumed(n);
    return n;
  }

  // ---- posted reads: one copy instead of two ---------------------------------------------

  /**
   * Post a read of up to `len` bytes into `dst[off..]` (`dst` null: the bytes are dropped, as
   * by {@link TcpReceiver.skip}) for data still to come. While the receive buffer is empty,
   * in-order data goes straight from the arriving frame into `dst` — one copy instead of two
   * (into the receive buffer, then out of it), as Linux copies straight to a reader waiting in
   * `recvmsg`. {@link TcpReceiver.takePosted} collects what arrived. A new post replaces an
   * empty one; one holding bytes must be collected first (returns false).
   */
  post(dst: Uint8Array | null, off: number, len: number): boolean {
    if (this.#postDone > 0) return false;
    if (dst !== null && (off < 0 || len > dst.length - off)) len = Math.max(0, dst.length - off);
    this.#postDst = dst;
    this.#postOff = off;
    this.#postLen = len > 0 ? len : 0;
    return true;
  }

  /** Bytes a posted read holds (they come before anything in the receive buffer). */
  get postedBytes(): number {
    return this.#postDone;
  }

  /** Bytes received and not yet read: in the receive buffer and in a posted read. */
  get unreadBytes(): number {
    return this.rcvBuf.length + this.#postDone;
  }

  /** A read is posted (with or without bytes taken). */
  get posted(): boolean {
    return this.#postLen > 0;
  }

  /** The posted read drops its bytes (posted with no buffer). */
  get postedSkip(): boolean {
    return this.#postLen > 0 && this.#postDst === null;
  }

  /**
   * Collect the posted read: the bytes it took (at most `len`; a remainder stays posted for
   * the next call), the post cleared once empty. When `dst` is given and is not where the
   * bytes were posted, they are copied to `dst[off..]`; a posted skip's bytes are gone (the
   * caller checks {@link TcpReceiver.postedSkip}). Auto-tuning and the window are updated as
   * by a read.
   */
  takePosted(dst: Uint8Array | null, off: number, len: number): number {
    let n = this.#postDone;
    if (n === 0) {
      this.#clearPost();
      return 0;
    }
    if (n > len) n = len;
    const src = this.#postDst;
    if (dst !== null && src !== null && (dst !== src || off !== this.#postOff)) {
      copyBytes(src, this.#postOff, dst, off, n);
    }
    if (n === this.#postDone) this.#clearPost();
    else {
      this.#postOff += n;
      this.#postLen -= n;
      this.#postDone -= n;
    }
    this.#consumed(n);
    return n;
  }

  /** Drop the post (its bytes, if any, are the caller's: collect them first). */
  #clearPost(): void {
    this.#postDst = null;
    this.#postOff = 0;
    this.#postLen = 0;
    this.#postDone = 0;
  }

  /** In-order data `buf[off, off + len)` at RCV.NXT into the posted read: the bytes taken. */
  #takeDirect(buf: Uint8Array, off: number, len: number): number {
    let k = this.#postLen - this.#postDone;
    if (k > len) k = len;
    const wnd = this.window; // nothing beyond the window we advertised
    if (k > wnd) k = wnd;
    if (k <= 0) return 0;
    const dst = this.#postDst;
    if (dst !== null) {
      // The frame's view from the table the receive buffer's copies use: a ring slot holds
      // its segments at the same offset, so the view is made once per slot, not per segment.
      const views = this.#svc.rcvCopyViews ?? null;
      const at = this.#postOff + this.#postDone;
      if (views !== null) views.copy(buf, off, dst, at, k);
      else copyBytes(buf, off, dst, at, k);
    }
    this.#postDone += k;
    return k;
  }

  /** The application took `n` bytes: auto-tune, and announce a window that opened enough. */
  #consumed(n: number): void {
    if (this.autotune) this.#autotune(n);
    // Linux tcp_cleanup_rbuf: announce a window that at least doubled since the last ACK —
    // at the end of the tick, on the answer the application may be about to write (the
    // first read of a connection whose SYN-ACK could offer only 64 KiB doubles it: sent at
    // once, that update would cost every request/response connection a segment).
    if (this.#conn.state >= TcpState.ESTABLISHED && !this.finReceived) {
      const cap = this.rcvBuf.capacity;
      const adv = this.window;
      const free = Math.min(this.rcvBuf.free, MAX_WINDOW_FIELD * (1 << this.rcvShift));
      const swsStep = Math.min(cap >>> 1, this.advMss);
      if (2 * adv <= cap && free >= 2 * adv && free - adv >= swsStep) this.ackAtEndOfTick();
    }
  }

  /**
   * Dynamic right-sizing (Linux tcp_rcv_space_adjust): once per receiver RTT, if the
   * application read more than the buffer could carry in twice that time, grow the buffer to
   * twice the amount read, up to the cap.
   */
  #autotune(n: number): void {
    this.spaceCopied += n;
    // The time and the sender's smoothed RTT read here, not passed in: no double crosses a call.
    // The time through a cell (`readClockMs`), not returned by `nowMs()`; the period compared
    // on the branch that chose it: an RTT merged from two branches (ours or the sender's)
    // was a heap number per read once the clock was fractional ("sack33").
    readClockMs(this.#svc.ctx.clock, AUTOTUNE_CLOCK);
    const now = AUTOTUNE_CLOCK[0];
    const elapsed = now - this.spaceStartMs;
    const s = this.#senderRtt;
    const rttUs = this.#rttUs;
    if (rttUs > 0) {
      if (elapsed * 1000 < (rttUs > 1000 ? rttUs : 1000)) return; // max(rttMs, 1)
    } else if (s !== null && s.hasSample) {
      if (elapsed < Math.max(s.srttMs, 1)) return;
    } else if (elapsed < 1) return;
    const want = 2 * this.spaceCopied;
    const cap = this.rcvBuf.capacity;
    const max = this.#svc.opts.maxReceiveBufferBytes;
    if (want > cap && cap < max) {
      this.rcvBuf.resize(Math.min(max, Math.max(want, cap + (cap >>> 1))));
    }
    this.spaceCopied = 0;
    this.spaceStartMs = now;
  }

  /** SO_RCVBUF: resize (not below what is held) and stop auto-tuning, as Linux does. */
  setBufferSize(bytes: number): void {
    this.autotune = false;
    this.rcvBuf.resize(Math.max(bytes | 0, this.rcvBuf.length + this.asm.bufferedBytes, 1));
  }
}
