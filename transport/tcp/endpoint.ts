/**
 * A TCP connection: its transmission control block (RFC 9293 §3.3.1) and the socket-side API
 * (read, write, shutdown, close, options). The segment-arrival logic lives in `input.ts`, the
 * transmit logic in `output.ts`, the timers in `timers.ts`; this file holds the state they
 * share and what the application calls.
 *
 * @module
 */

import type { RouteResult } from "../../net/route_table.ts";
import { ByteRing } from "../../core/byte_ring.ts";
import { type ErrnoCode, StackError } from "../../core/errors.ts";
import { EV_ERROR, EV_HANGUP, EV_READABLE, EV_WRITABLE, WaitQueue } from "../../core/event_mux.ts";
import type { OutputSource } from "../../core/output_queue.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { Assembler } from "./assembler.ts";
import { type CongestionControl, createCongestionControl } from "./congestion/mod.ts";
import { RttEstimator } from "./rtt_estimator.ts";
import { sendAck, tcpOutput } from "./output.ts";
import {
  countsAsEstablished,
  nextState,
  NO_TRANSITION,
  TcpEvent,
  TcpState,
  tcpStateName,
} from "./state.ts";
import type { TcpInfo } from "./tcp_info.ts";
import type { TcpLayer } from "./tcp_layer.ts";
import type { TcpListener } from "./listener.ts";
import {
  armKeepalive,
  onCorkTimeout,
  onDelayedAck,
  onKeepalive,
  onLinger,
  onPersist,
  onRto,
} from "./timers.ts";
import { seqDiff } from "./seq.ts";
import { MAX_WINDOW_FIELD } from "./window_scale.ts";
import { advertisedMss, DEFAULT_PEER_MSS } from "./mss.ts";

/**
 * One TCP connection.
 *
 * Readiness (`wq.readiness`): `EV_READABLE` when data, EOF or an error is waiting;
 * `EV_WRITABLE` when connected with send-buffer room (Linux's rule: free ≥ half of what is
 * queued); `EV_ERROR` with a pending error; `EV_HANGUP` when the connection is gone or both
 * directions are shut.
 *
 * Writes before the handshake completes are buffered and sent once ESTABLISHED (Linux would
 * block or return EAGAIN).
 *
 * @example
 * ```ts ignore
 * const c = tcp.connect(parseIpv4("198.18.0.1"), 80);
 * await c.wq.wait(EV_WRITABLE);
 * c.write(bytes, 0, bytes.length);
 * ```
 */
export class TcpEndpoint implements OutputSource {
  /** Readiness and waiters. */
  readonly wq: WaitQueue = new WaitQueue();
  /** Managed by the stack's output queue. */
  outputQueued = false;
  /** Local address. */
  readonly localAddr: number;
  /** Local port. */
  readonly localPort: number;
  /** Remote address. */
  readonly remoteAddr: number;
  /** Remote port. */
  readonly remotePort: number;
  /** Pending error (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, …). */
  error: ErrnoCode | null = null;

  /** @internal */
  readonly layer: TcpLayer;
  /** @internal Route to the peer, looked up once. */
  readonly route: RouteResult;
  /** @internal The listener that spawned this connection until it is accepted. */
  listener: TcpListener | null;
  /** @internal Opened by connect() (vs. a listener). */
  readonly activeOpen: boolean;
  /** @internal Soft error (ICMP) reported instead of ETIMEDOUT on give-up. */
  softError: ErrnoCode | null = null;

  // ---- send sequence space (RFC 9293 §3.3.1) ----
  /** @internal */ iss = 0;
  /** @internal */ sndUna = 0;
  /** @internal Next sequence number to send (moves back on RTO: go-back-N). */
  sndNxt = 0;
  /** @internal Highest sequence number sent + 1. */
  sndMax = 0;
  /** @internal Peer's window in bytes. */
  sndWnd = 0;
  /** @internal */ sndWl1 = 0;
  /** @internal */ sndWl2 = 0;
  /** @internal Largest window the peer offered (sender SWS, RFC 1122 §4.2.3.4). */
  maxSndWnd = 0;
  /** @internal Sequence number of the first byte in `sndBuf`. */
  sndBufSeq = 0;
  /** @internal Unacknowledged and unsent data. */
  sndBuf: ByteRing;
  /** @internal The application shut the write side: a FIN follows the data. */
  finQueued = false;
  /** @internal End of the last short segment sent (Minshall's Nagle variant). */
  sndSml = 0;

  // ---- receive sequence space ----
  /** @internal */ irs = 0;
  /** @internal */ rcvNxt = 0;
  /** @internal Right edge of the window last advertised (never moves left). */
  rcvAdvRight = 0;
  /** @internal Received data; out-of-order data is stored in place beyond the readable part. */
  rcvBuf: ByteRing;
  /** @internal Out-of-order ranges. */
  readonly asm: Assembler;
  /** @internal A FIN arrived (maybe out of order) at `rcvFinSeq`. */
  rcvFinPending = false;
  /** @internal */ rcvFinSeq = 0;
  /** @internal The peer's FIN was consumed: EOF after the buffered data. */
  finReceived = false;
  /** @internal Auto-tuning may grow the receive buffer. */
  rcvAutotune = true;
  /** @internal Send-buffer auto-tuning (off once SO_SNDBUF is set). */
  sndAutotune = true;
  /** @internal Auto-tuning: bytes read by the application in the current measurement. */
  rcvSpaceCopied = 0;
  /** @internal Auto-tuning: start of the measurement. */
  rcvSpaceStartMs = 0;
  /** @internal Receiver RTT estimate from timestamps (ms), 0 when unknown. */
  rcvRttMs = 0;

  // ---- options ----
  /** @internal Send MSS (payload bytes per segment, timestamp option excluded). */
  mss = DEFAULT_PEER_MSS;
  /** @internal MSS we advertise (route MTU − 40). */
  advMss: number;
  /** @internal Largest segment seen from the peer (delayed-ACK "full-sized"). */
  rcvMss = DEFAULT_PEER_MSS;
  /** @internal Our window shift (announced), 0 when scaling is off. */
  rcvShift = 0;
  /** @internal Peer's window shift. */
  sndShift = 0;
  /** @internal Window scaling negotiated. */
  wsOk = false;
  /** @internal Timestamps negotiated. */
  tsOk = false;
  /** @internal RFC 7323 TS.Recent. */
  tsRecent = 0;
  /** @internal Per-connection TSval offset. */
  tsOffset = 0;
  /** @internal RCV.NXT carried by the last ACK sent (RFC 7323 Last.ACK.sent). */
  lastAckSent = 0;
  /** @internal SACK negotiated. */
  sackOk = false;

  // ---- ACK generation ----
  /** @internal An ACK is owed (delayed). */
  ackPending = false;
  /** @internal Bytes received since the last ACK. */
  rcvUnackedBytes = 0;
  /** @internal ACKs still sent at once (quick-ack mode). */
  quickAcks = 0;

  // ---- loss recovery and RTT ----
  /** @internal */
  readonly cc: CongestionControl;
  /** @internal */
  readonly rtt: RttEstimator;
  /** @internal Timing one segment for RTT without timestamps (Karn). */
  rttTiming = false;
  /** @internal */ rttSeq = 0;
  /** @internal */ rttStartMs = 0;
  /** @internal */ dupAcks = 0;
  /** @internal RFC 6582 `recover`. */
  recover = 0;
  /** @internal Consecutive RTOs without progress. */
  retries = 0;
  /** @internal SYN / SYN-ACK retransmissions. */
  synRetries = 0;
  /** @internal When the SYN was first sent (RTT sample if it was not retransmitted). */
  synSentMs = 0;
  /** @internal Total segments retransmitted. */
  retransmits = 0;
  /** @internal Zero-window probes sent without an answer. */
  probes = 0;
  /** @internal Persist backoff count. */
  persistBackoff = 0;
  /** @internal The next output pass may ignore sender SWS once (persist timer fired). */
  forceSend = false;

  // ---- keepalive ----
  /** @internal */ keepAlive = false;
  /** @internal */ keepIdleMs: number;
  /** @internal */ keepIntervalMs: number;
  /** @internal */ keepCount: number;
  /** @internal Keepalive probes sent without an answer. */
  keepProbes = 0;
  /** @internal When the last segment arrived. */
  lastRecvMs = 0;

  // ---- application side ----
  /** @internal */ noDelay = false;
  /** @internal */ cork = false;
  /** @internal shutdownWrite() or close() was called. */
  writeShutdown = false;
  /** @internal close() was called: the application reads no more (orphan). */
  appClosed = false;
  /** @internal */ bytesAcked = 0;
  /** @internal */ bytesReceived = 0;

  // ---- timers (one per purpose, created once) ----
  /** @internal Retransmission (and SYN retry) timer. */
  readonly rtoTimer: Timer;
  /** @internal Zero-window probe timer. */
  readonly persistTimer: Timer;
  /** @internal Delayed ACK timer. */
  readonly delackTimer: Timer;
  /** @internal Keepalive timer. */
  readonly keepTimer: Timer;
  /** @internal TIME_WAIT and FIN_WAIT_2 timer. */
  readonly lingerTimer: Timer;
  /** @internal TCP_CORK holds a short segment at most this long (Linux: 200 ms). */
  readonly corkTimer: Timer;

  /** @internal Use `TcpLayer.connect` or `TcpListener.accept`. */
  constructor(
    layer: TcpLayer,
    localAddr: number,
    localPort: number,
    remoteAddr: number,
    remotePort: number,
    route: RouteResult,
    listener: TcpListener | null,
  ) {
    const o = layer.opts;
    this.layer = layer;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.route = route;
    this.listener = listener;
    this.activeOpen = listener === null;
    this.sndBuf = new ByteRing(o.sendBufferBytes);
    this.rcvBuf = new ByteRing(o.receiveBufferBytes);
    this.asm = new Assembler(o.ooqMaxRanges);
    this.cc = createCongestionControl(o.congestionControl);
    this.rtt = new RttEstimator({
      initialRtoMs: o.initialRtoMs,
      minRtoMs: o.minRtoMs,
      maxRtoMs: o.maxRtoMs,
    });
    this.advMss = advertisedMss(layer.ctx.ipv4.mtuOf(route.nicIndex));
    this.keepIdleMs = o.keepaliveIdleMs;
    this.keepIntervalMs = o.keepaliveIntervalMs;
    this.keepCount = o.keepaliveCount;
    this.quickAcks = o.quickAcks;
    this.tsOffset = layer.isn.timestampOffset(localAddr, localPort, remoteAddr, remotePort);
    this.lastRecvMs = layer.ctx.clock.nowMs();
    this.rtoTimer = new Timer(() => onRto(this));
    this.persistTimer = new Timer(() => onPersist(this));
    this.delackTimer = new Timer(() => onDelayedAck(this));
    this.keepTimer = new Timer(() => onKeepalive(this));
    this.lingerTimer = new Timer(() => onLinger(this));
    this.corkTimer = new Timer(() => onCorkTimeout(this));
  }

  #state: TcpState = TcpState.CLOSED;
  /** Counted in CurrEstab. */
  #countedEstab = false;

  // ---- public API ----------------------------------------------------------------------

  /** Current state (changed only by {@link TcpEndpoint.transition}). */
  get state(): TcpState {
    return this.#state;
  }

  /** The state's RFC name. */
  stateName(): string {
    return tcpStateName(this.state);
  }

  /** Unread bytes. */
  get readableBytes(): number {
    return this.rcvBuf.length;
  }

  /** Bytes `write` would accept now. */
  get writableBytes(): number {
    if (this.writeShutdown || this.error !== null || this.state === TcpState.CLOSED) return 0;
    return this.sndBuf.free;
  }

  /** True once the peer's FIN was received and every byte before it read. */
  get eof(): boolean {
    return this.finReceived && this.rcvBuf.length === 0;
  }

  /** Return and clear the pending error. */
  takeError(): ErrnoCode | null {
    const e = this.error;
    this.error = null;
    this.updateReadiness();
    return e;
  }

  /**
   * Read up to `len` bytes into `dst[off..]`: the count (> 0), 0 at EOF (or once closed),
   * -1 when nothing is there yet (EAGAIN).
   *
   * @throws {StackError} the pending error (cleared), once the buffered data is read.
   */
  read(dst: Uint8Array, off: number, len: number): number {
    const n = this.rcvBuf.read(dst, off, len);
    if (n > 0) {
      this.#afterRead(n);
      return n;
    }
    if (this.error !== null) {
      const e = this.error;
      this.error = null;
      this.updateReadiness();
      throw new StackError(e, "read");
    }
    if (this.finReceived || this.state === TcpState.CLOSED) return 0;
    return len > 0 ? -1 : 0;
  }

  /**
   * Queue `src[off, off + len)` for sending: returns the bytes accepted (0 when the send
   * buffer is full).
   *
   * @throws {StackError} the pending error, or EPIPE after shutdownWrite/close/reset.
   */
  write(src: Uint8Array, off: number, len: number): number {
    if (this.error !== null) {
      const e = this.error;
      this.error = null;
      this.updateReadiness();
      throw new StackError(e, "write");
    }
    if (this.writeShutdown || this.state === TcpState.CLOSED || this.state > TcpState.CLOSE_WAIT) {
      throw new StackError("EPIPE", "write: the connection is shut for writing");
    }
    let n = this.sndBuf.write(src, off, len);
    if (n < len && this.sndAutotune) n += this.#growSendBuffer(src, off + n, len - n);
    if (n > 0 && this.state >= TcpState.ESTABLISHED) this.layer.ctx.scheduleOutput(this);
    this.updateReadiness();
    return n;
  }

  /** Half-close (SHUT_WR): a FIN follows the queued data. Idempotent. */
  shutdownWrite(): void {
    if (this.writeShutdown) return;
    this.writeShutdown = true;
    switch (this.state) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        this.finQueued = true; // sent once established
        break;
      case TcpState.ESTABLISHED:
      case TcpState.CLOSE_WAIT:
        this.finQueued = true;
        this.transition(TcpEvent.CLOSE);
        this.layer.ctx.scheduleOutput(this);
        break;
      default:
        break;
    }
    this.updateReadiness();
  }

  /**
   * Close: graceful (a FIN after the queued data), except that unread received data makes it
   * abortive (RST, RFC 2525 §2.17, as Linux does; `TCPAbortOnClose`). The application may
   * not read afterwards; data arriving later is answered with a RST (`TCPAbortOnData`).
   */
  close(): void {
    if (this.appClosed) return;
    this.appClosed = true;
    const st = this.layer.stats;
    switch (this.state) {
      case TcpState.CLOSED:
        return;
      case TcpState.SYN_SENT:
        this.destroy();
        return;
      default:
        break;
    }
    if (this.rcvBuf.length > 0 && this.state !== TcpState.TIME_WAIT) {
      st.TCPAbortOnClose++;
      this.sendReset();
      this.destroy();
      return;
    }
    this.shutdownWrite();
    if (this.state === TcpState.FIN_WAIT_2) this.#armFinWait2();
  }

  /** Abortive close (SO_LINGER 0): send a RST and drop the connection at once. */
  abort(): void {
    if (this.state === TcpState.CLOSED) return;
    this.appClosed = true;
    this.writeShutdown = true;
    if (this.state !== TcpState.SYN_SENT && this.state !== TcpState.TIME_WAIT) this.sendReset();
    this.destroy();
  }

  /** TCP_NODELAY: send short segments at once (Nagle off). */
  setNoDelay(on: boolean): void {
    this.noDelay = on;
    if (on) this.layer.ctx.scheduleOutput(this);
  }

  /** TCP_CORK: hold short segments until uncorked (a FIN still goes out). */
  setCork(on: boolean): void {
    this.cork = on;
    if (!on) {
      this.layer.ctx.timers.cancel(this.corkTimer);
      this.layer.ctx.scheduleOutput(this);
    }
  }

  /** SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT (ms, ms, probes). */
  setKeepAlive(on: boolean, idleMs?: number, intervalMs?: number, count?: number): void {
    this.keepAlive = on;
    if (idleMs !== undefined && idleMs > 0) this.keepIdleMs = idleMs;
    if (intervalMs !== undefined && intervalMs > 0) this.keepIntervalMs = intervalMs;
    if (count !== undefined && count > 0) this.keepCount = count;
    if (on) armKeepalive(this);
    else this.layer.ctx.timers.cancel(this.keepTimer);
  }

  /** SO_SNDBUF: resize the send buffer (not below what it holds). */
  setSendBufferSize(bytes: number): void {
    this.sndAutotune = false;
    const n = Math.max(bytes | 0, this.sndBuf.length, 1);
    this.sndBuf.resize(n);
    this.updateReadiness();
  }

  /**
   * Send-buffer auto-tuning (Linux tcp_sndbuf_expand in spirit): when the application fills
   * the buffer while the congestion window could carry at least half of it, double it up to
   * `maxSendBufferBytes`, then take more of the write. Returns the extra bytes accepted.
   */
  #growSendBuffer(src: Uint8Array, off: number, len: number): number {
    const cap = this.sndBuf.capacity;
    const max = this.layer.opts.maxSendBufferBytes;
    if (cap >= max || this.cc.cwnd * 2 < cap) return 0;
    this.sndBuf.resize(Math.min(max, cap * 2));
    return this.sndBuf.write(src, off, len);
  }

  /**
   * SO_RCVBUF: resize the receive buffer and turn auto-tuning off (as Linux does). The window
   * scale is fixed at the SYN: set this before the handshake to get a larger one.
   */
  setReceiveBufferSize(bytes: number): void {
    this.rcvAutotune = false;
    const n = Math.max(bytes | 0, this.rcvBuf.length + this.asm.bufferedBytes, 1);
    this.rcvBuf.resize(n);
  }

  /** A TCP_INFO-like snapshot. */
  info(): TcpInfo {
    return {
      state: this.stateName(),
      srttMs: this.rtt.srttMs,
      rttvarMs: this.rtt.rttvarMs,
      rtoMs: this.rtt.rtoMs,
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      mss: this.mss,
      rcvMss: this.rcvMss,
      retransmits: this.retransmits,
      backoff: this.retries,
      bytesAcked: this.bytesAcked,
      bytesReceived: this.bytesReceived,
      sndWnd: this.sndWnd,
      rcvWnd: Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt)),
      sndBufBytes: this.sndBuf.capacity,
      sndQueued: this.sndBuf.length,
      rcvBufBytes: this.rcvBuf.capacity,
      rcvQueued: this.rcvBuf.length,
      rcvWscale: this.wsOk ? this.rcvShift : -1,
      sndWscale: this.wsOk ? this.sndShift : -1,
      timestamps: this.tsOk,
      sack: this.sackOk,
      congestionControl: this.cc.name,
    };
  }

  /** Produce queued output (called by the stack at the end of a tick). */
  flushOutput(): void {
    tcpOutput(this);
  }

  // ---- internals shared with input/output/timers ---------------------------------------

  /** @internal Send the SYN (at the end of the tick). */
  startActiveOpen(): void {
    const now = this.layer.ctx.clock.nowMs();
    this.iss = this.layer.isn.next(
      this.localAddr,
      this.localPort,
      this.remoteAddr,
      this.remotePort,
    );
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.sndBufSeq = (this.iss + 1) >>> 0;
    this.recover = this.iss;
    this.sndSml = this.iss;
    this.synSentMs = now;
    this.transition(TcpEvent.CONNECT);
    this.layer.stats.ActiveOpens++;
    this.layer.ctx.scheduleOutput(this);
  }

  /**
   * @internal The one place the state changes: apply `ev` (RFC 9293 §3.3.2, see
   * {@link nextState}), keep `CurrEstab` right, and run the entry actions of the new state —
   * TIME_WAIT stops the other timers and (re)starts 2·MSL; FIN_WAIT_2 of a closed socket
   * starts the FIN_WAIT_2 timeout; CLOSED leaves the demux and stops every timer.
   */
  transition(ev: TcpEvent): void {
    const to = nextState(this.#state, ev);
    if (to === NO_TRANSITION) return;
    this.#state = to;
    const estab = countsAsEstablished(to);
    if (estab !== this.#countedEstab) {
      this.#countedEstab = estab;
      this.layer.stats.CurrEstab += estab ? 1 : -1;
    }
    switch (to) {
      case TcpState.TIME_WAIT:
        this.#enterTimeWait();
        break;
      case TcpState.FIN_WAIT_2:
        if (this.appClosed) this.#armFinWait2();
        break;
      case TcpState.CLOSED:
        this.#release();
        break;
      default:
        break;
    }
  }

  /** TIME_WAIT: every other timer stops; the connection lingers 2·MSL (RFC 9293 §3.10.7.4). */
  #enterTimeWait(): void {
    const ctx = this.layer.ctx;
    ctx.timers.cancel(this.rtoTimer);
    ctx.timers.cancel(this.persistTimer);
    ctx.timers.cancel(this.keepTimer);
    ctx.timers.schedule(this.lingerTimer, ctx.clock.nowMs() + 2 * this.layer.opts.mslMs);
    this.updateReadiness();
  }

  /** The FIN_WAIT_2 timeout of a closed connection (Linux tcp_fin_timeout). */
  #armFinWait2(): void {
    const ctx = this.layer.ctx;
    ctx.timers.schedule(this.lingerTimer, ctx.clock.nowMs() + this.layer.opts.finWait2TimeoutMs);
  }

  /** @internal Recompute readiness and notify rising bits (and new data). */
  updateReadiness(extra = 0): void {
    let r = 0;
    const s = this.state;
    if (
      this.rcvBuf.length > 0 || this.finReceived || this.error !== null || s === TcpState.CLOSED
    ) {
      r |= EV_READABLE;
    }
    if (
      (s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT) && !this.writeShutdown &&
      this.sndBuf.free > 0 && 2 * this.sndBuf.free >= this.sndBuf.length
    ) {
      r |= EV_WRITABLE;
    }
    if (this.error !== null) r |= EV_ERROR;
    if (s === TcpState.CLOSED || (this.finReceived && this.writeShutdown)) r |= EV_HANGUP;
    const wq = this.wq;
    const rising = (r & ~wq.readiness) | (extra & r);
    wq.readiness = r;
    if (rising !== 0) this.layer.ctx.mux.notify(wq, rising);
  }

  /** @internal Fail with `err`: the application sees it on its next call. */
  fail(err: ErrnoCode): void {
    this.error = err;
    this.destroy();
  }

  /** @internal The connection ends here: CLOSED (see {@link TcpEndpoint.transition}). */
  destroy(): void {
    this.transition(TcpEvent.DELETE_TCB);
  }

  /** Entering CLOSED: stop every timer, leave the demux and the listener. Idempotent. */
  #release(): void {
    const timers = this.layer.ctx.timers;
    timers.cancel(this.rtoTimer);
    timers.cancel(this.persistTimer);
    timers.cancel(this.delackTimer);
    timers.cancel(this.keepTimer);
    timers.cancel(this.lingerTimer);
    timers.cancel(this.corkTimer);
    this.layer.unregister(this);
    if (this.listener !== null) {
      this.listener.forget(this);
      this.listener = null;
    }
    this.ackPending = false;
    this.updateReadiness();
  }

  /**
   * @internal Reset the connection: `<SEQ=SND.MAX><ACK=RCV.NXT><CTL=RST,ACK>` (abort, close
   * with unread data, data after close, FIN_WAIT_2 timeout; RFC 9293 §3.10.4 ABORT).
   */
  sendReset(): void {
    this.layer.tx.sendRst(
      this.localAddr,
      this.localPort,
      this.remoteAddr,
      this.remotePort,
      this.sndMax,
      this.rcvNxt,
      true,
    );
  }

  /** After the application read `n` bytes: window update and auto-tuning. */
  #afterRead(n: number): void {
    const now = this.layer.ctx.clock.nowMs();
    if (this.rcvAutotune) this.#autotune(n, now);
    // Linux tcp_cleanup_rbuf: announce a window that at least doubled since the last ACK.
    if (this.state >= TcpState.ESTABLISHED && !this.finReceived) {
      const cap = this.rcvBuf.capacity;
      const adv = Math.max(0, seqDiff(this.rcvAdvRight, this.rcvNxt));
      const free = Math.min(this.rcvBuf.free, MAX_WINDOW_FIELD * (1 << this.rcvShift));
      const swsStep = Math.min(cap >>> 1, this.advMss);
      if (2 * adv <= cap && free >= 2 * adv && free - adv >= swsStep) {
        sendAck(this);
      }
    }
    this.updateReadiness();
  }

  /**
   * Dynamic right-sizing (Linux tcp_rcv_space_adjust): once per receiver RTT, if the
   * application read more than the buffer could carry in twice that time, grow the buffer to
   * twice the amount read, up to the cap.
   */
  #autotune(n: number, now: number): void {
    this.rcvSpaceCopied += n;
    const rtt = this.rcvRttMs > 0 ? this.rcvRttMs : (this.rtt.hasSample ? this.rtt.srttMs : 0);
    const period = rtt > 1 ? rtt : 1;
    if (now - this.rcvSpaceStartMs < period) return;
    const want = 2 * this.rcvSpaceCopied;
    const cap = this.rcvBuf.capacity;
    const max = this.layer.opts.maxReceiveBufferBytes;
    if (want > cap && cap < max) {
      this.rcvBuf.resize(Math.min(max, Math.max(want, cap + (cap >>> 1))));
    }
    this.rcvSpaceCopied = 0;
    this.rcvSpaceStartMs = now;
  }
}
