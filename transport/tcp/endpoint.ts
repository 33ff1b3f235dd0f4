/**
 * A TCP connection: the socket-side API (read, write, shutdown, close, options), the state
 * machine applied (`transition`, the only writer of the state), the options negotiated at the
 * SYN, and the assembly of its segments (`emit`). The two halves of the data path own their
 * state: the send side in `sender.ts` ({@link TcpSender}), the receive side in `receiver.ts`
 * ({@link TcpReceiver}); keepalive in `keepalive.ts`. Segment arrival is in `input.ts` and
 * `handshake.ts`.
 *
 * The endpoint reaches its layer and listener only through the interfaces defined here
 * ({@link ConnectionLayer}, {@link ConnectionListener}), so nothing below the layer imports
 * it back.
 *
 * Why this file is over 600 lines: the public socket API with its documentation (about half
 * the file) and the connection's lifecycle — state transitions and their entry actions,
 * segment assembly — belong to one object; the data path itself is in the sender and the
 * receiver.
 *
 * @module
 */

import { readClockMs } from "../../core/clock.ts";
import type { ErrnoCode } from "../../core/errors.ts";
import { StackError } from "../../core/errors.ts";
import { EV_ERROR, EV_HANGUP, EV_READABLE, EV_WRITABLE, WaitQueue } from "../../core/event_mux.ts";
import type { OutputSource } from "../../core/output_queue.ts";
import { Timer } from "../../core/timer_wheel.ts";
import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import type { IpAddress } from "../../net/ip_address.ts";
import type { NetRoute } from "../../net/network_layer.ts";
import type { TcpServices } from "./context.ts";
import { TCP_FLAG_ACK, TCP_FLAG_CWR, TCP_FLAG_ECE, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import type { IsnGenerator } from "./isn.ts";
import { TcpKeepalive } from "./keepalive.ts";
import { TCP_OPT_SACK_BLOCK_BYTES, TCP_OPT_WORD_BYTES, type TcpHeaderOptions } from "./options.ts";
import { advertisedMss, defaultPeerMss, pathMtuMss, sendMss } from "./mss.ts";
import { NO_PATH_MSS_LIMIT } from "./mss_control.ts";
import { TcpReceiver } from "./receiver.ts";
import type { RxSegment } from "./segment.ts";
import { type SynStart, TcpSender } from "./sender.ts";
import {
  awaitsFinAck,
  canReceiveData,
  countsAsEstablished,
  nextState,
  NO_TRANSITION,
  TcpEvent,
  TcpState,
  tcpStateName,
} from "./state.ts";
import { type TcpInfo, tcpInfo } from "./tcp_info.ts";
import { IP_ECN_ECT0, type TcpTransmitter } from "./transmit.ts";
import type { Flow } from "../flow_table.ts";
import { FLOW_CONNECTION, type TcpFlow, type TimeWaitTable } from "./time_wait.ts";

/** The cell this module's per-segment clock reads go through ({@link readClockMs}). */
const NOW = new Float64Array(1);

/**
 * The last connection of the process that reached CLOSED, kept alive for its objects' maps.
 * V8's optimised code holds the maps it checks weakly: when no object of a class's final map is
 * left — every connection closed, the warm-up's stacks gone — the next full GC frees those maps
 * and throws away every function compiled against them ("embedded weak objects cleared": ~170
 * functions of the connection path at once), and the next connection runs and recompiles cold
 * code (bench/README.md, "End of the thirtieth session"). One closed endpoint (its sender,
 * receiver, scoreboard, RACK, pacer, congestion control, buffers' holders) keeps the maps; it is
 * replaced at every close, so at most one is held — with its stack, until a connection of
 * another stack closes.
 */
let lastClosed: object | null = null;

/** @internal The connection {@link lastClosed} holds (for tests). */
export function connectionHeldForMaps(): object | null {
  return lastClosed;
}

// Bits of TcpEndpoint's facts.
const B_ACTIVE_OPEN = 1;
const B_WS = 2;
const B_TS = 4;
const B_SACK = 8;
const B_ECN = 16;
const B_WRITE_SHUT = 32;
const B_APP_CLOSED = 64;
const B_COUNTED_ESTAB = 128;
const B_COUNTED_FIN_WAIT = 256;
/**
 * The segment being processed carries a FIN: FIN_WAIT_2 entered on its ACK waits for that FIN
 * before arming its timeout ({@link TcpEndpoint.finSegmentDone}).
 */
const B_FIN_IN_SEGMENT = 512;

/** What a connection needs from its TCP layer; `TcpLayer` provides it. */
export interface ConnectionLayer extends TcpServices {
  /** RFC 6528 ISNs and timestamp offsets. */
  readonly isn: IsnGenerator;
  /** Every segment leaves through it. */
  readonly tx: TcpTransmitter;
  /** Where a connection entering TIME_WAIT leaves its record. */
  readonly timeWait: TimeWaitTable;
  /** Remove `ep` from the demux (no-op when it is not there). */
  unregister(ep: TcpEndpoint): void;
  /** Take one challenge-ACK token (RFC 5961 §7 rate limit); false when none is left. */
  takeChallengeToken(): boolean;
  /**
   * Connections whose FIN is not yet acknowledged (FIN_WAIT_1, CLOSING, LAST_ACK); kept by
   * {@link TcpEndpoint.transition}.
   */
  finPending: number;
}

/**
 * The numbers a new connection starts from, read as fields by its constructor and
 * {@link TcpSender.start}: a uint32 ≥ 2**30 or a fractional time passed as an argument to a
 * call V8 does not inline is a new heap number each time (16 B here, one per number per
 * connection). A syncache record or cookie gives them to a passive open; `connect` fills one
 * {@link EndpointOpenRecord} per layer.
 */
export interface EndpointOpen extends SynStart {
  /** The connection's TSval offset (RFC 7323 §5.4; the other half of its ISN's SipHash). */
  readonly tsOffset: number;
}

/** A reusable {@link EndpointOpen} (an active open's: its numbers start as doubles). */
export class EndpointOpenRecord implements EndpointOpen {
  /** Our ISS. */
  iss: number = DOUBLE_ZERO;
  /** The SYN's time: the connect's clock read (ms). */
  firstSentMs: number = DOUBLE_ZERO;
  /** The TSval offset. */
  tsOffset: number = DOUBLE_ZERO;
}

/**
 * The peer's SYN options as a syncache record or cookie keeps them, read as fields by
 * {@link TcpEndpoint.negotiateOptions} (its TSval is a uint32: a heap number as an argument).
 */
export interface PeerOptions {
  /** Its MSS option (0 when absent). */
  peerMss: number;
  /** Its window shift, -1 when it offered none. */
  peerWindowScale: number;
  /** It offered SACK. */
  peerSack: boolean;
  /** It sent timestamps. */
  peerTimestamps: boolean;
  /** ECN agreed (RFC 3168 §6.1.1: it asked, we accept). */
  peerEcn: boolean;
  /** Its TSval (TS.Recent). */
  tsRecent: number;
}

/** The listener a passive connection came from, until accepted; `TcpListener` provides it. */
export interface ConnectionListener {
  /** True when the accept queue can take one more connection. */
  hasRoom(): boolean;
  /** The handshake of `ep` completed: queue it for accept. */
  established(ep: TcpEndpoint): void;
  /** `ep` died before it was accepted. */
  forget(ep: TcpEndpoint): void;
}

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
 * const c = tcp.connect(IpAddress.parse("198.18.0.1"), 80);
 * await c.wq.wait(EV_WRITABLE);
 * c.write(bytes, 0, bytes.length);
 * ```
 */
export class TcpEndpoint implements OutputSource, TcpFlow {
  /** Always {@link FLOW_CONNECTION} (on the prototype: no field per connection). */
  get flowKind(): number {
    return FLOW_CONNECTION;
  }
  /** @internal Flow-table bucket link. */
  flowNext: Flow | null = null;
  /** Readiness and waiters. */
  readonly wq: WaitQueue = new WaitQueue();
  /** Managed by the stack's output queue. */
  outputQueued = false;
  /** Local address (IPv4 ones IPv4-mapped). */
  readonly localAddr: IpAddress;
  /** Local port. */
  readonly localPort: number;
  /** Remote address. */
  readonly remoteAddr: IpAddress;
  /** Remote port. */
  readonly remotePort: number;
  /** Pending error (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, …). */
  error: ErrnoCode | null = null;

  /** @internal */
  readonly layer: ConnectionLayer;
  /** @internal Route to the peer, looked up once; its network layer carries every segment. */
  readonly route: NetRoute;
  /** @internal The listener that spawned this connection until it is accepted. */
  listener: ConnectionListener | null;
  /** @internal Soft error (ICMP) reported instead of ETIMEDOUT on give-up. */
  softError: ErrnoCode | null = null;
  /** @internal The send side: SND.*, the send ring, congestion control, RTO. */
  readonly snd: TcpSender;
  /** @internal The receive side: RCV.*, the receive ring, ACK generation. */
  readonly rcv: TcpReceiver;
  /** @internal Keepalive, made when SO_KEEPALIVE is first turned on. */
  keepalive: TcpKeepalive | null = null;
  /** @internal When the last acceptable segment arrived from the peer (ms). */
  lastRecvMs: number;

  /** @internal Per-connection TSval offset (RFC 7323 §5.4). */
  readonly tsOffset: number;
  /** The FIN_WAIT_2 timer of a closed connection, made when first needed. */
  #lingerT: Timer | null = null;

  #state: TcpState = TcpState.CLOSED;
  /**
   * The connection's yes/no facts as bits of one small integer (`B_*`; a field each would
   * cost 8 bytes each in every connection): read and written through the accessors below.
   */
  #bits = 0;

  /** @internal The NIC the peer is reached through (a link-local peer's zone). */
  get peerNic(): number {
    return this.route.nicIndex;
  }
  /** @internal Opened by connect() (vs. a listener). */
  get activeOpen(): boolean {
    return (this.#bits & B_ACTIVE_OPEN) !== 0;
  }
  /** @internal Window scaling negotiated (RFC 7323). */
  get wsOk(): boolean {
    return (this.#bits & B_WS) !== 0;
  }
  set wsOk(on: boolean) {
    this.#bits = on ? this.#bits | B_WS : this.#bits & ~B_WS;
  }
  /** @internal Timestamps negotiated (RFC 7323). */
  get tsOk(): boolean {
    return (this.#bits & B_TS) !== 0;
  }
  set tsOk(on: boolean) {
    this.#bits = on ? this.#bits | B_TS : this.#bits & ~B_TS;
  }
  /** @internal SACK negotiated (RFC 2018). */
  get sackOk(): boolean {
    return (this.#bits & B_SACK) !== 0;
  }
  set sackOk(on: boolean) {
    this.#bits = on ? this.#bits | B_SACK : this.#bits & ~B_SACK;
  }
  /** @internal ECN negotiated (RFC 3168 §6.1.1). */
  get ecnOk(): boolean {
    return (this.#bits & B_ECN) !== 0;
  }
  set ecnOk(on: boolean) {
    this.#bits = on ? this.#bits | B_ECN : this.#bits & ~B_ECN;
  }
  /** @internal shutdownWrite() or close() was called. */
  get writeShutdown(): boolean {
    return (this.#bits & B_WRITE_SHUT) !== 0;
  }
  set writeShutdown(on: boolean) {
    this.#bits = on ? this.#bits | B_WRITE_SHUT : this.#bits & ~B_WRITE_SHUT;
  }
  /** @internal close() was called: the application reads no more (orphan). */
  get appClosed(): boolean {
    return (this.#bits & B_APP_CLOSED) !== 0;
  }
  set appClosed(on: boolean) {
    this.#bits = on ? this.#bits | B_APP_CLOSED : this.#bits & ~B_APP_CLOSED;
  }

  /**
   * @internal Use `TcpLayer.connect` or `TcpListener.accept`. `open` gives the TSval offset
   * (read here) and the ISS with the SYN's time ({@link TcpSender.start} reads them). An
   * active open's last-receive time starts at its SYN's time (the connect's one clock read);
   * a passive open's at the clock's time now.
   */
  constructor(
    layer: ConnectionLayer,
    localAddr: IpAddress,
    localPort: number,
    remoteAddr: IpAddress,
    remotePort: number,
    route: NetRoute,
    listener: ConnectionListener | null,
    open: EndpointOpen,
  ) {
    this.layer = layer;
    this.localAddr = localAddr;
    this.localPort = localPort;
    this.remoteAddr = remoteAddr;
    this.remotePort = remotePort;
    this.route = route;
    this.listener = listener;
    // Whole ms: a small integer field. Two stores, not one of a value that is a double read
    // from a field on one branch and a call's result on the other (V8 boxes such a merge).
    if (listener === null) {
      this.#bits = B_ACTIVE_OPEN;
      this.lastRecvMs = Math.floor(open.firstSentMs);
    } else this.lastRecvMs = Math.floor(layer.ctx.clock.nowMs());
    this.snd = new TcpSender(this, layer);
    // RFC 9293 §3.7.1, RFC 8200 §8.3: MTU − 40 over IPv4, MTU − 60 over IPv6.
    this.rcv = new TcpReceiver(
      this,
      layer,
      advertisedMss(route.linkMtu, route.net!),
      this.snd.rtt,
    );
    // As int32 (TSvals add it modulo 2^32 anyway): a small integer field, not a boxed double.
    this.tsOffset = open.tsOffset | 0;
  }

  static #fireLinger(ep: TcpEndpoint): void {
    ep.#onLinger();
  }

  // ---- public API ----------------------------------------------------------------------

  /** Current state (changed only by {@link TcpEndpoint.transition}). */
  get state(): TcpState {
    return this.#state;
  }

  /** The state's RFC name. */
  stateName(): string {
    return tcpStateName(this.#state);
  }

  /** Unread bytes. */
  get readableBytes(): number {
    return this.rcv.unreadBytes;
  }

  /** Bytes `write` would accept now. */
  get writableBytes(): number {
    if (this.writeShutdown || this.error !== null || this.#state === TcpState.CLOSED) return 0;
    return this.snd.sndBuf.free;
  }

  /** Bytes written and not yet acknowledged by the peer (sent or not). */
  get unacknowledgedBytes(): number {
    return this.snd.sndBuf.length;
  }

  /** True once the peer's FIN was received and every byte before it read. */
  get eof(): boolean {
    return this.rcv.finReceived && this.rcv.unreadBytes === 0;
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
    if (this.rcv.posted) return this.#readAfterPost(dst, off, len);
    const n = this.rcv.read(dst, off, len);
    if (n > 0) {
      this.updateReadiness();
      return n;
    }
    return this.#nothingRead(len);
  }

  /**
   * Drop up to `len` received bytes without copying them (Linux `recv(MSG_TRUNC)` on TCP): a
   * discard server's read. Same results and window updates as {@link TcpEndpoint.read}: the
   * count (> 0), 0 at EOF (or once closed), -1 when nothing is there yet (EAGAIN).
   *
   * @throws {StackError} the pending error (cleared), once the buffered data is dropped.
   */
  skip(len: number): number {
    const rcv = this.rcv;
    // Bytes a posted read took come first (dropped with the rest); the post ends here.
    let n = rcv.takePosted(null, 0, len);
    if (rcv.postedBytes === 0 && n < len) n += rcv.skip(len - n);
    if (n > 0) {
      this.updateReadiness();
      return n;
    }
    return this.#nothingRead(len);
  }

  /**
   * {@link TcpEndpoint.read} — or with `dst` null {@link TcpEndpoint.skip} — that, when nothing
   * is there yet (-1), leaves the read posted: in-order data that arrives while the receive
   * buffer is empty goes straight from the frame into `dst[off, off + len)` (or is dropped),
   * one copy instead of two, as Linux copies to a reader waiting in `recvmsg`. Wait for
   * readiness, then call again with the same arguments: what was posted is returned first.
   * Leave `dst[off, off + len)` alone in between. Any other read or skip ends the post.
   *
   * @throws {StackError} the pending error (cleared), once the buffered data is read.
   */
  readPosted(dst: Uint8Array | null, off: number, len: number): number {
    const n = dst === null ? this.skip(len) : this.read(dst, off, len);
    if (n === -1) this.rcv.post(dst, off, len);
    return n;
  }

  /**
   * A read while a read is posted: the posted bytes first (copied into `dst` unless they
   * already are there), then the receive buffer's; the post ends.
   *
   * @throws {StackError} EINVAL when a posted skip holds bytes (they are gone: collect them
   * with `skip` or `readPosted(null, …)`).
   */
  #readAfterPost(dst: Uint8Array, off: number, len: number): number {
    const rcv = this.rcv;
    if (rcv.postedSkip && rcv.postedBytes > 0) {
      throw new StackError("EINVAL", "read: a posted skip holds bytes; collect them with skip");
    }
    let n = rcv.takePosted(dst, off, len);
    if (rcv.postedBytes === 0 && n < len) n += rcv.read(dst, off + n, len - n);
    if (n > 0) {
      this.updateReadiness();
      return n;
    }
    return this.#nothingRead(len);
  }

  /** What a read that found no data returns: the pending error (thrown), EOF (0) or EAGAIN (-1). */
  #nothingRead(len: number): number {
    if (this.error !== null) {
      const e = this.error;
      this.error = null;
      this.updateReadiness();
      throw new StackError(e, "read");
    }
    if (this.rcv.finReceived || this.#state === TcpState.CLOSED) return 0;
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
    const st = this.#state;
    if (this.writeShutdown || st === TcpState.CLOSED || st > TcpState.CLOSE_WAIT) {
      throw new StackError("EPIPE", "write: the connection is shut for writing");
    }
    const n = this.snd.write(src, off, len);
    if (n > 0 && st >= TcpState.ESTABLISHED) this.scheduleOutput();
    this.updateReadiness();
    return n;
  }

  /** Half-close (SHUT_WR): a FIN follows the queued data. Idempotent. */
  shutdownWrite(): void {
    if (this.writeShutdown) return;
    this.writeShutdown = true;
    switch (this.#state) {
      case TcpState.SYN_SENT:
      case TcpState.SYN_RECEIVED:
        this.snd.queueFin(); // sent once established
        break;
      case TcpState.ESTABLISHED:
      case TcpState.CLOSE_WAIT:
        this.snd.queueFin();
        this.transition(TcpEvent.CLOSE);
        this.scheduleOutput();
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
    switch (this.#state) {
      case TcpState.CLOSED:
        this.rcv.rcvBuf.clear();
        return;
      case TcpState.SYN_SENT:
        this.destroy();
        return;
      default:
        break;
    }
    if (this.rcv.unreadBytes > 0 && this.#state !== TcpState.TIME_WAIT) {
      this.layer.stats.TCPAbortOnClose++;
      this.sendReset();
      this.destroy();
      return;
    }
    this.shutdownWrite();
    if (this.#state === TcpState.FIN_WAIT_2) this.#armFinWait2();
  }

  /** Abortive close (SO_LINGER 0): send a RST and drop the connection at once. */
  abort(): void {
    const st = this.#state;
    if (st === TcpState.CLOSED) return;
    this.appClosed = true;
    this.writeShutdown = true;
    if (st !== TcpState.SYN_SENT && st !== TcpState.TIME_WAIT) this.sendReset();
    this.destroy();
  }

  /** TCP_NODELAY: send short segments at once (Nagle off). */
  setNoDelay(on: boolean): void {
    this.snd.setNoDelay(on);
    if (on) this.scheduleOutput();
  }

  /** TCP_CORK: hold short segments until uncorked (a FIN still goes out). */
  setCork(on: boolean): void {
    this.snd.setCork(on);
    if (!on) this.scheduleOutput();
  }

  /** SO_KEEPALIVE with TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT (ms, ms, probes). */
  setKeepAlive(on: boolean, idleMs?: number, intervalMs?: number, count?: number): void {
    if (this.keepalive === null) {
      if (!on) return;
      this.keepalive = new TcpKeepalive(this, this.snd, this.layer);
    }
    this.keepalive.configure(on, idleMs, intervalMs, count);
  }

  /** SO_SNDBUF: resize the send buffer (not below what it holds). */
  setSendBufferSize(bytes: number): void {
    this.snd.setBufferSize(bytes);
    this.updateReadiness();
  }

  /**
   * SO_RCVBUF: resize the receive buffer and turn auto-tuning off (as Linux does). The window
   * scale is fixed at the SYN: set this before the handshake to get a larger one.
   */
  setReceiveBufferSize(bytes: number): void {
    this.rcv.setBufferSize(bytes);
  }

  /** A TCP_INFO-like snapshot. */
  info(): TcpInfo {
    return tcpInfo(
      this.stateName(),
      this.snd,
      this.rcv,
      this.wsOk,
      this.tsOk,
      this.sackOk,
      this.ecnOk,
    );
  }

  /**
   * TCP_CONGESTION: the algorithm this connection uses from now on ("cubic", "bbr",
   * "newreno"/"reno").
   *
   * @throws {UnknownCongestionControlError} (code ENOENT) for an unknown name.
   */
  setCongestionControl(name: string): void {
    this.snd.setCongestionControl(name);
  }

  /** TCP_CONGESTION: the name of the algorithm in use. */
  get congestionControl(): string {
    return this.snd.cc.name;
  }

  /**
   * Produce queued output (the stack calls it at the end of a tick): the SYN or SYN-ACK in
   * the handshake, else what the sender may send, and an ACK still owed.
   */
  flushOutput(): void {
    const st = this.#state;
    if (st === TcpState.CLOSED || st === TcpState.LISTEN) return;
    if (st === TcpState.SYN_SENT || st === TcpState.SYN_RECEIVED) {
      this.snd.sendSyn();
      return;
    }
    if (st !== TcpState.TIME_WAIT) this.snd.output();
    // A delayed ACK stays delayed: output scheduled for another reason (an ACK of our data
    // that let nothing new out) must not send it bare before the application's answer.
    if (this.rcv.ackDue) {
      // A bulk receiver's ACK may wait a little for more data to cover (TcpReceiver.deferAck;
      // its timer sends it at the latest).
      if (!this.rcv.deferAck()) this.sendAck();
    }
  }

  // ---- the state machine ---------------------------------------------------------------

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
    if (estab !== ((this.#bits & B_COUNTED_ESTAB) !== 0)) {
      this.#bits = estab ? this.#bits | B_COUNTED_ESTAB : this.#bits & ~B_COUNTED_ESTAB;
      this.layer.stats.CurrEstab += estab ? 1 : -1;
    }
    const finWait = awaitsFinAck(to);
    if (finWait !== ((this.#bits & B_COUNTED_FIN_WAIT) !== 0)) {
      this.#bits = finWait ? this.#bits | B_COUNTED_FIN_WAIT : this.#bits & ~B_COUNTED_FIN_WAIT;
      this.layer.finPending += finWait ? 1 : -1;
    }
    switch (to) {
      case TcpState.TIME_WAIT:
        this.#enterTimeWait();
        break;
      case TcpState.FIN_WAIT_2:
        // The peer's FIN on the ACK of ours (a short connection's usual close) takes the
        // connection on to TIME_WAIT at once: the timeout is armed after that FIN, if needed.
        if (this.appClosed && (this.#bits & B_FIN_IN_SEGMENT) === 0) this.#armFinWait2();
        break;
      case TcpState.CLOSED:
        this.#release();
        break;
      default:
        break;
    }
  }

  /** @internal The connection ends here: CLOSED (see {@link TcpEndpoint.transition}). */
  destroy(): void {
    this.transition(TcpEvent.DELETE_TCB);
  }

  /** @internal Fail with `err`: the application sees it on its next call. */
  fail(err: ErrnoCode): void {
    this.error = err;
    this.destroy();
  }

  /**
   * @internal Retries ran out (handshake, retransmission, zero-window probes or keepalive):
   * a passive handshake just ends (the listener forgets it), anything else fails with the
   * ICMP error seen, else ETIMEDOUT (Linux tcp_write_err).
   */
  timedOut(): void {
    const st = this.#state;
    if (!this.activeOpen && (st === TcpState.SYN_RECEIVED || st === TcpState.SYN_SENT)) {
      this.destroy();
    } else {
      this.fail(this.softError ?? "ETIMEDOUT");
    }
  }

  /**
   * @internal The peer reset the connection (RFC 9293 §3.10.7.4, second check): refused
   * during an active handshake, reset once synchronized (before our FIN was acknowledged),
   * quietly gone otherwise; a passive half-open connection returns to LISTEN.
   */
  resetReceived(): void {
    const stats = this.layer.stats;
    switch (this.#state) {
      case TcpState.SYN_RECEIVED:
        stats.AttemptFails++;
        if (this.activeOpen) this.fail("ECONNREFUSED");
        else this.destroy(); // back to LISTEN: the listener simply forgets it
        return;
      case TcpState.ESTABLISHED:
      case TcpState.CLOSE_WAIT:
        stats.EstabResets++;
        this.fail("ECONNRESET");
        return;
      case TcpState.FIN_WAIT_1:
      case TcpState.FIN_WAIT_2:
        this.fail("ECONNRESET");
        return;
      default:
        this.destroy(); // CLOSING, LAST_ACK, TIME_WAIT
        return;
    }
  }

  /**
   * TIME_WAIT (RFC 9293 §3.10.7.4) is kept by a compact record, as Linux keeps a timewait
   * sock: the connection itself ends now (CLOSED: timers stop, the send buffer goes back to
   * the pool, data not yet read stays readable) and the layer's TIME_WAIT table answers for
   * its four-tuple for 2·MSL.
   */
  #enterTimeWait(): void {
    const rcv = this.rcv;
    const sndNxt = this.snd.sndMax;
    const rcvNxt = rcv.rcvNxt;
    const window = rcv.windowField();
    const tsRecent = rcv.tsRecent;
    this.destroy();
    this.layer.timeWait.add(this, sndNxt, rcvNxt, window, tsRecent);
  }

  /**
   * @internal A segment carrying a FIN is about to be processed: a FIN_WAIT_2 entered on its
   * ACK leaves its timeout to {@link TcpEndpoint.finSegmentDone}. Without it a short
   * connection that closed first armed the timeout (a timer, a clock read) and cancelled it on
   * the same segment's FIN.
   */
  finSegmentBegins(): void {
    this.#bits |= B_FIN_IN_SEGMENT;
  }

  /**
   * @internal The segment {@link TcpEndpoint.finSegmentBegins} announced was processed (or
   * dropped): still in FIN_WAIT_2 (its FIN out of order, say), a closed connection's timeout
   * is armed now, as on entry.
   */
  finSegmentDone(): void {
    this.#bits &= ~B_FIN_IN_SEGMENT;
    if (this.#state === TcpState.FIN_WAIT_2 && this.appClosed) {
      const t = this.#lingerT;
      if (t === null || !t.armed) this.#armFinWait2();
    }
  }

  /** The FIN_WAIT_2 timeout of a closed connection (Linux tcp_fin_timeout). */
  #armFinWait2(): void {
    const ctx = this.layer.ctx;
    this.#lingerT ??= new Timer(TcpEndpoint.#fireLinger, this);
    ctx.timers.schedule(this.#lingerT, ctx.clock.nowMs() + this.layer.opts.finWait2TimeoutMs);
  }

  /** The FIN_WAIT_2 timeout hit: RST, gone. */
  #onLinger(): void {
    if (this.#state === TcpState.FIN_WAIT_2) {
      this.sendReset();
      this.destroy();
    }
  }

  /**
   * Entering CLOSED: stop every timer, leave the demux and the listener, give the send buffer
   * back (and the receive buffer too once the application closed). Idempotent.
   */
  #release(): void {
    this.snd.stop();
    this.rcv.stop();
    if (this.keepalive !== null) this.keepalive.stop();
    if (this.#lingerT !== null) this.layer.ctx.timers.cancel(this.#lingerT);
    this.snd.sndBuf.clear();
    if (this.appClosed) this.rcv.rcvBuf.clear();
    this.layer.unregister(this);
    lastClosed = this;
    if (this.listener !== null) {
      this.listener.forget(this);
      this.listener = null;
    }
    this.updateReadiness();
  }

  // ---- segments ------------------------------------------------------------------------

  /**
   * @internal Build and send one segment of this connection: `len` bytes of the send ring
   * from `SND.UNA + fromUna`, `flags`; the receive side adds ACK, window, SACK blocks and
   * ECN-Echo, the negotiation adds the options (all offered on our SYN) and the ECN bits of the
   * SYN (RFC 3168 §6.1.1); `ect` marks the IP packet ECN-capable (ECT(0)). Returns false when
   * no packet buffer was free: nothing was sent and nothing changed.
   *
   * The sequence number comes as its distance from SND.UNA (within the window, so a small
   * integer): V8 passes numbers between functions it does not inline as tagged values, and a
   * sequence number at or above 2**30 would be a new heap number per segment.
   */
  emit(fromUna: number, flags: number, len: number, gsoSize: number, ect = false): boolean {
    const layer = this.layer;
    const tx = layer.tx;
    const pb = tx.begin();
    if (pb === null) return false;
    const s = tx.seg;
    const o = s.opts;
    const rcv = this.rcv;
    const snd = this.snd;
    const isAck = (flags & TCP_FLAG_ACK) !== 0;
    if ((flags & TCP_FLAG_SYN) !== 0) {
      const offer = this.#state === TcpState.SYN_SENT;
      const lo = layer.opts;
      if (offer && lo.windowScaling) rcv.chooseWindowShift();
      o.mss = rcv.advMss;
      if (this.wsOk || (offer && lo.windowScaling)) o.windowScale = rcv.rcvShift;
      o.sackPermitted = this.sackOk || (offer && lo.sack);
      o.hasTimestamps = this.tsOk || (offer && lo.timestamps);
      s.window = rcv.synWindowField(this.#state === TcpState.SYN_RECEIVED);
      // RFC 3168 §6.1.1: an ECN-setup SYN carries ECE and CWR, the SYN-ACK ECE alone.
      if (offer && lo.ecn === "on") flags |= TCP_FLAG_ECE | TCP_FLAG_CWR;
      else if (!offer && this.ecnOk) flags |= TCP_FLAG_ECE;
    } else {
      o.hasTimestamps = this.tsOk;
      s.window = (flags & TCP_FLAG_RST) !== 0 ? 0 : rcv.windowField();
      if (this.sackOk) rcv.writeSackBlocks(o);
      if (isAck && this.ecnOk && rcv.ecnEcho) flags |= TCP_FLAG_ECE;
    }
    if (o.hasTimestamps) {
      // tsNow() inline: a TSval returned from a call may be a new heap number (as above), and
      // so may the clock's answer (the time read into a cell).
      readClockMs(layer.ctx.clock, NOW);
      o.tsVal = (Math.floor(NOW[0]) + this.tsOffset) >>> 0;
      // An if, not `isAck ? rcv.tsRecent : 0`: V8's mid tier (Maglev) keeps a value merged
      // from two branches tagged, and a TSval at or above 2**30 would be a new heap number.
      if (isAck) o.tsEcr = rcv.tsRecent;
      else o.tsEcr = 0;
    }
    s.route = this.route;
    s.src = this.localAddr;
    s.dst = this.remoteAddr;
    s.srcPort = this.localPort;
    s.dstPort = this.remotePort;
    // `seqAdd` and `seqDiff` written out: V8's mid tier inlines a call only on a path at least
    // 95 % of calls took when it compiled, and not always then; a helper called takes and
    // returns sequence numbers (above 2**30) as new heap numbers (bench/README.md, "box32").
    const seq = (snd.sndUna + fromUna) >>> 0;
    const bufOff = (seq - snd.sndBufSeq) | 0;
    s.seq = seq;
    s.ack = rcv.rcvNxt;
    s.flags = flags;
    s.ecn = ect && this.ecnOk ? IP_ECN_ECT0 : 0;
    if (len > 0) {
      s.payload = snd.sndBuf;
      s.payloadOffset = bufOff;
      s.payloadLength = len;
      s.gsoSize = gsoSize;
    }
    tx.write(pb, s);
    if (isAck) rcv.ackSent();
    tx.send(pb, s);
    return true;
  }

  /**
   * @internal Negotiate from the peer's SYN (or SYN-ACK) `seg` (RFC 7323, RFC 2018): each
   * option is on only when both sides offer it; the send MSS follows the peer's option
   * (RFC 9293 §3.7.1). The only writer of `wsOk`, `tsOk`, `sackOk`, `ecnOk`.
   */
  negotiate(seg: RxSegment): void {
    const o = seg.opts;
    this.#settleOptions(
      o.windowScale,
      o.hasTimestamps,
      o.sackPermitted,
      o.mss,
      ecnAgreed(seg.flags, this.layer.opts.ecn),
    );
    this.rcv.setPeerOptions(this.wsOk, this.tsOk, o.tsVal);
  }

  /**
   * @internal {@link TcpEndpoint.negotiate} from the options themselves (a syncache record
   * or a SYN cookie kept them), read as fields: the TSval is not an argument of its own.
   */
  negotiateOptions(o: PeerOptions): void {
    this.#settleOptions(o.peerWindowScale, o.peerTimestamps, o.peerSack, o.peerMss, o.peerEcn);
    this.rcv.setPeerOptions(this.wsOk, this.tsOk, o.tsRecent);
  }

  /**
   * Each option on only when both sides offer it: the peer's window shift (-1 for none),
   * timestamps, SACK, MSS (0 for none), and whether ECN was agreed; the send side's shift
   * and MSS follow.
   */
  #settleOptions(
    windowScale: number,
    timestamps: boolean,
    sack: boolean,
    mss: number,
    ecn: boolean,
  ): void {
    const lo = this.layer.opts;
    this.wsOk = windowScale >= 0 && lo.windowScaling;
    this.tsOk = timestamps && lo.timestamps;
    this.sackOk = sack && lo.sack;
    this.ecnOk = ecn;
    this.snd.setPeerOptions(
      this.wsOk ? windowScale : 0,
      sendMss(mss, this.rcv.advMss, this.tsOk, defaultPeerMss(this.route.net!)),
    );
  }

  /** @internal Send a bare ACK now (also a window update, or the answer to a bad segment). */
  sendAck(): void {
    this.emit((this.snd.sndNxt - this.snd.sndUna) | 0, TCP_FLAG_ACK, 0, 0); // seqDiff, written out
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
      this.snd.sndMax,
      this.rcv.rcvNxt,
      true,
      this.route.nicIndex,
    );
  }

  /**
   * @internal Segment text and FIN (RFC 9293 §3.10.7.4, seventh and eighth checks). Data for
   * a socket the application closed is answered with a RST, as Linux does.
   */
  receiveText(seg: RxSegment): void {
    if (seg.dataLen > 0 && this.appClosed && canReceiveData(this.#state)) {
      this.layer.stats.TCPAbortOnData++;
      this.sendReset();
      this.destroy();
      return;
    }
    this.rcv.receive(seg);
  }

  // ---- what the sender, receiver and keepalive ask of the connection --------------------

  /** @internal A segment from the peer was accepted at `nowMs`: it is alive (keepalive). */
  segmentArrived(nowMs: number): void {
    this.lastRecvMs = Math.floor(nowMs); // whole ms: a small integer field, not a boxed double
    if (this.keepalive !== null) this.keepalive.segmentArrived();
  }

  /**
   * @internal {@link TcpEndpoint.segmentArrived} now, the clock read through a cell: the
   * per-segment form (`nowMs()`'s fractional result passed on was a new heap number per
   * segment where V8 did not inline the calls: bench/README.md, "box40").
   */
  segmentArrivedNow(): void {
    readClockMs(this.layer.ctx.clock, NOW);
    this.lastRecvMs = Math.floor(NOW[0]);
    if (this.keepalive !== null) this.keepalive.segmentArrived();
  }

  /** @internal TSval now: the ms clock plus the per-connection offset (RFC 7323 §5.4). */
  tsNow(): number {
    readClockMs(this.layer.ctx.clock, NOW);
    return (Math.floor(NOW[0]) + this.tsOffset) >>> 0;
  }

  /**
   * @internal TSval now less the TSecr `opts` echoes (uint32 arithmetic): the RFC 7323 §4.1 RTT
   * sample in ms. One call instead of `tsNow() - tsEcr`: a TSval at or above 2**30 returned
   * from a call is a new heap number per segment, the difference is a small integer.
   */
  tsEchoAgeMs(opts: TcpHeaderOptions): number {
    readClockMs(this.layer.ctx.clock, NOW); // a cell, not `nowMs()`'s result ("box40")
    return (Math.floor(NOW[0]) + this.tsOffset - opts.tsEcr) >>> 0;
  }

  /** @internal Largest TSO payload for `mss` on this route (0: the NIC does not segment). */
  tsoLimit(mss: number): number {
    return this.layer.tx.tsoLimit(this.route, mss);
  }

  /** @internal Bytes of the SACK option our next segment carries (0 without one). */
  sackOptionBytes(): number {
    if (!this.sackOk) return 0;
    const n = this.rcv.sackBlocksToSend(this.tsOk);
    // NOP NOP kind len + blocks. The product on every call (0 without blocks): the data path's
    // segment sizing met blocks to send first after a real receiver's ready line, at its first
    // out-of-order frame, and V8 threw that code away (bench/README.md, "jit13l").
    return (n > 0 ? TCP_OPT_WORD_BYTES : 0) + TCP_OPT_SACK_BLOCK_BYTES * n;
  }

  /** @internal The send MSS the path MTU towards the peer allows (shared cache, per family). */
  pathMss(): number {
    const route = this.route;
    const net = route.net!;
    const mtu = net.pathMtu(this.remoteAddr, route);
    return mtu > 0 ? pathMtuMss(mtu, this.tsOk, net.headerBytes) : NO_PATH_MSS_LIMIT;
  }

  /** @internal Produce output at the end of the tick. */
  scheduleOutput(): void {
    this.layer.ctx.scheduleOutput(this);
  }

  /** @internal Recompute readiness and notify rising bits (and `extra`, e.g. new data). */
  updateReadiness(extra = 0): void {
    let r = 0;
    const s = this.#state;
    const rcv = this.rcv;
    const sndBuf = this.snd.sndBuf;
    if (rcv.unreadBytes > 0 || rcv.finReceived || this.error !== null || s === TcpState.CLOSED) {
      r |= EV_READABLE;
    }
    if (
      (s === TcpState.ESTABLISHED || s === TcpState.CLOSE_WAIT) && !this.writeShutdown &&
      sndBuf.free > 0 && 2 * sndBuf.free >= sndBuf.length
    ) {
      r |= EV_WRITABLE;
    }
    if (this.error !== null) r |= EV_ERROR;
    if (s === TcpState.CLOSED || (rcv.finReceived && this.writeShutdown)) r |= EV_HANGUP;
    const wq = this.wq;
    const rising = (r & ~wq.readiness) | (extra & r);
    wq.readiness = r;
    if (rising !== 0) this.layer.ctx.mux.notify(wq, rising);
  }
}

/**
 * RFC 3168 §6.1.1: ECN is agreed when a SYN asks with ECE and CWR (and we accept it: `ecn`
 * not "off"), or a SYN-ACK answers our request with ECE alone (we asked: `ecn` "on").
 *
 * @example
 * ```ts ignore
 * ecnAgreed(TCP_FLAG_SYN | TCP_FLAG_ECE | TCP_FLAG_CWR, "passive"); // true
 * ```
 */
export function ecnAgreed(flags: number, ecn: "on" | "passive" | "off"): boolean {
  const bits = flags & (TCP_FLAG_ECE | TCP_FLAG_CWR);
  return (flags & TCP_FLAG_ACK) !== 0
    ? ecn === "on" && bits === TCP_FLAG_ECE
    : ecn !== "off" && bits === (TCP_FLAG_ECE | TCP_FLAG_CWR);
}
