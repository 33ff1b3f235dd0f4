/**
 * TIME_WAIT as compact records (RFC 9293 §3.10.7.4, Linux `inet_timewait_sock`): when a
 * connection enters TIME_WAIT its endpoint ends at once — buffers back to the pool, timers
 * stopped, gone from the flow table — and a small record takes its place under the same
 * four-tuple for 2·MSL: the sequence numbers to acknowledge a retransmitted FIN, the last
 * timestamp seen (PAWS, RFC 6191 reuse), and the expiry.
 *
 * Every record lives exactly 2·MSL from its last (re)start, so the records form one FIFO in
 * expiry order (a restart moves a record to the tail) and one timer — armed at the head's
 * expiry — retires them: O(1) per record, whatever their number. The table is bounded like
 * Linux's `tcp_max_tw_buckets`: when full, a connection closes without TIME_WAIT and
 * `TCPTimeWaitOverflow` counts it.
 *
 * Reuse: a new SYN for the four-tuple may reopen it (RFC 6191: a newer timestamp, or without
 * timestamps a higher sequence number), and `connect()` may take the four-tuple over when
 * timestamps make it safe (Linux `tcp_tw_reuse`: the last timestamp is at least
 * `timeWaitReuseMs` old, so any new segment carries a newer one and PAWS protects both ends).
 * Either way the new ISS starts beyond anything the old connection could have sent.
 *
 * @module
 */

import type { Counters } from "../../core/counters.ts";
import { Timer, type TimerWheel } from "../../core/timer_wheel.ts";
import type { Clock } from "../../core/clock.ts";
import type { IpAddress } from "../../net/ip_address.ts";
import type { Flow, FlowTable } from "../flow_table.ts";
import { TCP_FLAG_ACK, TCP_FLAG_FIN, TCP_FLAG_RST, TCP_FLAG_SYN } from "./header.ts";
import type { RxSegment } from "./segment.ts";
import { seqAdd, seqGt, seqLe, seqLt } from "./seq.ts";

/** {@link TcpFlow.flowKind} of a connection endpoint. */
export const FLOW_CONNECTION = 0;
/** {@link TcpFlow.flowKind} of a TIME_WAIT record. */
export const FLOW_TIME_WAIT = 1;
/** {@link TcpFlow.flowKind} of a half-open syncache entry. */
export const FLOW_SYN_RECEIVED = 2;

/** A TCP flow: what the layer's flow table holds, told apart by `flowKind`. */
export interface TcpFlow extends Flow {
  /** One of the `FLOW_*` kinds. */
  readonly flowKind: number;
}

/**
 * RFC 6191 / Linux `tcp_twsk_unique`: a connection reopened from TIME_WAIT starts its ISS
 * beyond anything the old one could have sent (its SND.NXT plus a maximal unscaled window
 * and the SYN and FIN).
 */
export const TIME_WAIT_ISN_GAP = 65536 + 2;

/** What a TIME_WAIT record is made from: the end of a connection. */
export interface TimeWaitSource {
  /** Local address (either family; the record keeps this immutable object). */
  readonly localAddr: IpAddress;
  /** Local port. */
  readonly localPort: number;
  /** Remote address. */
  readonly remoteAddr: IpAddress;
  /** Remote port. */
  readonly remotePort: number;
  /** The NIC of a link-local peer (where the record's ACKs go); 0 otherwise. */
  readonly peerNic: number;
  /** Timestamps were negotiated. */
  readonly tsOk: boolean;
  /** The connection's TSval offset (RFC 7323 §5.4). */
  readonly tsOffset: number;
}

/**
 * The last TIME_WAIT record made in the process, kept alive for its map. V8's optimised code
 * holds the maps it checks weakly: a stack that never holds a record itself (a server whose
 * peers close first) meets the class only in its warm-up, and once the warm-up's records are
 * gone a full GC that retains no maps — V8's memory reducer's, after a quiet spell — frees the
 * map and throws away the flow table's and the TCP layer's code compiled against it
 * (`lookup`, `insertVacant`, `remove`, `receive`; bench/README.md, branch `idle32`). One record
 * (~100 B and its two addresses), replaced at every record made.
 */
const heldForMap: { record: TimeWaitRecord | null } = { record: null };

/**
 * One connection in TIME_WAIT. A record is valid while {@link TimeWaitRecord.live}: once it
 * leaves the table it may be taken for another connection's TIME_WAIT (a bounded free list),
 * so a record kept after that describes whichever connection holds it then.
 */
export class TimeWaitRecord implements TcpFlow {
  /** Always {@link FLOW_TIME_WAIT} (on the prototype: no field per record). */
  get flowKind(): number {
    return FLOW_TIME_WAIT;
  }
  /** @internal Flow-table bucket link. */
  flowNext: Flow | null = null;
  /** Local address (shared with the connection it was). */
  readonly localAddr: IpAddress;
  /** Local port. */
  readonly localPort: number;
  /** Remote address. */
  readonly remoteAddr: IpAddress;
  /** Remote port. */
  readonly remotePort: number;
  /** The NIC a link-local peer is on (0: route as usual). */
  readonly nicIndex: number;
  /** Our SND.NXT (past our FIN). */
  sndNxt = 0;
  /** RCV.NXT (past the peer's FIN). */
  rcvNxt = 0;
  /** The window field our ACKs carry. */
  window = 0;
  /** Timestamps were negotiated. */
  readonly tsOk: boolean;
  /** Our TSval offset. */
  readonly tsOffset: number;
  /** TS.Recent: the peer's last timestamp. */
  tsRecent = 0;
  /** When TS.Recent was last updated (ms): tcp_tw_reuse waits until it is old enough. */
  tsRecentMs = 0;
  /** When the record expires (ms). */
  expiresMs = 0;
  /** @internal FIFO links (expiry order). */
  older: TimeWaitRecord | null = null;
  /** @internal */
  newer: TimeWaitRecord | null = null;
  /** @internal True while in the table. */
  live = false;

  /** A record for the connection `src` ends. */
  constructor(src: TimeWaitSource) {
    this.localAddr = src.localAddr;
    this.localPort = src.localPort;
    this.remoteAddr = src.remoteAddr;
    this.remotePort = src.remotePort;
    this.nicIndex = src.peerNic;
    this.tsOk = src.tsOk;
    this.tsOffset = src.tsOffset;
  }

  /** @internal A record back from the table's free list takes the connection `src`. */
  reuseFor(src: TimeWaitSource): void {
    // Read-only to everyone else (the record's public type); written here alone.
    const w = this as { -readonly [K in keyof TimeWaitRecord]: TimeWaitRecord[K] };
    w.localAddr = src.localAddr;
    w.localPort = src.localPort;
    w.remoteAddr = src.remoteAddr;
    w.remotePort = src.remotePort;
    w.nicIndex = src.peerNic;
    w.tsOk = src.tsOk;
    w.tsOffset = src.tsOffset;
  }
}

/**
 * Records the table keeps for reuse once they leave it. A client reusing TIME_WAIT four-tuples
 * (`tcp_tw_reuse`) removes one record per connection and adds one as it closes: each record
 * lives seconds, long enough for V8 to move it to the old generation, where a new one per
 * connection was garbage for the major collector. Bounded (the rest go to the collector).
 */
const FREE_RECORDS_MAX = 1024;

/** What the table needs to answer for a record: send one ACK of the old connection. */
export interface TimeWaitSender {
  /** Send `<SEQ=seq><ACK=ack><CTL=ACK>` with `window` (and timestamps when `tsOk`). */
  sendTimeWaitAck(rec: TimeWaitRecord): void;
  /** Take one challenge-ACK token (RFC 5961 §7); false when none is left. */
  takeChallengeToken(): boolean;
}

/** {@link TimeWaitTable.input}: the segment was handled (answered or dropped). */
export const TW_HANDLED = 0;
/** {@link TimeWaitTable.input}: a SYN that may reopen the four-tuple (RFC 6191). */
export const TW_REOPEN = 1;

/**
 * The TIME_WAIT records of one TCP layer.
 *
 * @example
 * ```ts ignore
 * const rec = tw.add(endpoint, sndNxt, rcvNxt, window, tsRecent); // null when full
 * ```
 */
export class TimeWaitTable {
  /** Most records held (Linux tcp_max_tw_buckets). */
  readonly maxRecords: number;
  /** How long a record lives: 2·MSL. */
  readonly durationMs: number;
  /** How old the last timestamp must be before `connect()` may reuse a record. */
  readonly reuseAfterMs: number;
  readonly #flows: FlowTable<TcpFlow>;
  readonly #timers: TimerWheel;
  readonly #clock: Clock;
  readonly #stats: Counters;
  readonly #sender: TimeWaitSender;
  readonly #timer: Timer;
  /** FIFO ends: `#oldest` expires first. */
  #oldest: TimeWaitRecord | null = null;
  #newest: TimeWaitRecord | null = null;
  #count = 0;
  /** Records that left the table, for the next {@link TimeWaitTable.add} (bounded). */
  readonly #free: TimeWaitRecord[] = [];
  /** Records made so far (not taken from the free list): tests and tools. */
  recordsMade = 0;

  /** A table adding its records to `flows`; `stats` are the `tcp` counters. */
  constructor(
    flows: FlowTable<TcpFlow>,
    timers: TimerWheel,
    clock: Clock,
    stats: Counters,
    sender: TimeWaitSender,
    opts: { maxRecords: number; durationMs: number; reuseAfterMs: number },
  ) {
    this.#flows = flows;
    this.#timers = timers;
    this.#clock = clock;
    this.#stats = stats;
    this.#sender = sender;
    this.maxRecords = opts.maxRecords;
    this.durationMs = opts.durationMs;
    this.reuseAfterMs = opts.reuseAfterMs;
    this.#timer = new Timer(expire, this);
  }

  /** Records held. */
  get size(): number {
    return this.#count;
  }

  /**
   * A connection entered TIME_WAIT (and has left the flow table): its record, with our
   * SND.NXT, RCV.NXT, the window to advertise and the peer's last timestamp — or null when
   * the table is full (counted: the connection just ends).
   */
  add(
    src: TimeWaitSource,
    sndNxt: number,
    rcvNxt: number,
    window: number,
    tsRecent: number,
  ): TimeWaitRecord | null {
    if (this.#count >= this.maxRecords) {
      this.#stats.TCPTimeWaitOverflow++;
      return null;
    }
    let rec = this.#free.pop();
    if (rec === undefined) {
      rec = new TimeWaitRecord(src);
      heldForMap.record = rec;
      this.recordsMade++;
    } else rec.reuseFor(src);
    rec.sndNxt = sndNxt;
    rec.rcvNxt = rcvNxt;
    rec.window = window;
    rec.tsRecent = tsRecent;
    const now = this.#clock.nowMs();
    rec.tsRecentMs = now;
    // The connection has just left the four-tuple (`add`'s contract): no second lookup, and
    // the tuple never came free.
    if (!this.#flows.takeOver(rec)) {
      this.#free.push(rec);
      return null;
    }
    rec.live = true;
    this.#count++;
    this.#append(rec, now);
    return rec;
  }

  /**
   * Take `rec` out (reused, reset, or expired). The record goes back to the free list: read
   * what is needed of it before (the next {@link TimeWaitTable.add} may take it).
   */
  remove(rec: TimeWaitRecord): void {
    if (!rec.live) return;
    rec.live = false;
    this.#unlink(rec);
    this.#flows.remove(rec);
    this.#count--;
    rec.flowNext = null;
    if (this.#free.length < FREE_RECORDS_MAX) this.#free.push(rec);
  }

  /**
   * A segment for `rec` (RFC 9293 §3.10.7.4 in TIME_WAIT): a RST on RCV.NXT ends it (others
   * draw a rate-limited challenge ACK, RFC 5961 §3.2); a SYN that may reopen the four-tuple
   * is handed back ({@link TW_REOPEN}); a segment with an older timestamp (PAWS), a
   * retransmitted FIN (which also restarts 2·MSL) or anything not exactly at RCV.NXT is
   * answered with the old connection's ACK; an acceptable empty segment is ignored.
   */
  input(rec: TimeWaitRecord, seg: RxSegment): number {
    const flags = seg.flags;
    if ((flags & TCP_FLAG_RST) !== 0) {
      if (seg.seq === rec.rcvNxt) this.remove(rec);
      else this.#challenge(rec);
      return TW_HANDLED;
    }
    if ((flags & TCP_FLAG_SYN) !== 0) {
      if ((flags & TCP_FLAG_ACK) === 0 && this.reusableBySyn(rec, seg)) return TW_REOPEN;
      this.#challenge(rec);
      return TW_HANDLED;
    }
    const ts = rec.tsOk && seg.opts.hasTimestamps;
    if (ts && seqLt(seg.opts.tsVal, rec.tsRecent)) {
      // RFC 7323 §5.3 PAWS: a duplicate from the past.
      this.#stats.PAWSEstab++;
      this.#sender.sendTimeWaitAck(rec);
      return TW_HANDLED;
    }
    if (ts && seqLe(seg.seq, rec.rcvNxt) && seqLe(rec.rcvNxt, seqAdd(seg.seq, seg.segLen))) {
      // RFC 7323 §4.3: the segment covers Last.ACK.sent (RCV.NXT here).
      rec.tsRecent = seg.opts.tsVal;
      rec.tsRecentMs = this.#clock.nowMs();
    }
    if ((flags & TCP_FLAG_FIN) !== 0) {
      // The peer did not get our ACK of its FIN: ACK again, restart 2·MSL.
      this.#unlink(rec);
      this.#append(rec, this.#clock.nowMs());
      this.#sender.sendTimeWaitAck(rec);
      return TW_HANDLED;
    }
    if (seg.segLen !== 0 || seg.seq !== rec.rcvNxt) this.#sender.sendTimeWaitAck(rec);
    return TW_HANDLED;
  }

  /**
   * RFC 6191 §2: a SYN may reopen the four-tuple when its timestamp is newer than the last
   * one seen, or — without timestamps on both — its sequence number is beyond RCV.NXT.
   */
  reusableBySyn(rec: TimeWaitRecord, seg: RxSegment): boolean {
    if (rec.tsOk && seg.opts.hasTimestamps) return seqGt(seg.opts.tsVal, rec.tsRecent);
    return seqGt(seg.seq, rec.rcvNxt);
  }

  /**
   * Linux `tcp_tw_reuse`: `connect()` may take the four-tuple over when timestamps were on
   * and the last one is at least `reuseAfterMs` old (at `nowMs`, the clock's time when the
   * caller has just read it; else the clock is read).
   */
  reusableByConnect(rec: TimeWaitRecord, nowMs: number = this.#clock.nowMs()): boolean {
    return rec.tsOk && nowMs - rec.tsRecentMs >= this.reuseAfterMs;
  }

  /** The ISS of a connection reopening `rec`'s four-tuple: beyond the old one's sequence space. */
  reuseIss(rec: TimeWaitRecord, iss: number): number {
    const after = seqAdd(rec.sndNxt, TIME_WAIT_ISN_GAP);
    return seqGt(iss, after) ? iss : after;
  }

  /** Every record (tools and tests). */
  *records(): IterableIterator<TimeWaitRecord> {
    for (let r = this.#oldest; r !== null; r = r.newer) yield r;
  }

  /** Retire every record now (the layer shuts down). */
  clear(): void {
    while (this.#oldest !== null) this.remove(this.#oldest);
    this.#timers.cancel(this.#timer);
  }

  #challenge(rec: TimeWaitRecord): void {
    if (!this.#sender.takeChallengeToken()) return;
    this.#stats.TCPChallengeACK++;
    this.#sender.sendTimeWaitAck(rec);
  }

  /** Put `rec` at the tail, expiring 2·MSL from `now`, and keep the timer on the head. */
  #append(rec: TimeWaitRecord, now: number): void {
    rec.expiresMs = now + this.durationMs;
    rec.older = this.#newest;
    rec.newer = null;
    if (this.#newest !== null) this.#newest.newer = rec;
    else this.#oldest = rec;
    this.#newest = rec;
    if (!this.#timer.armed) this.#timers.schedule(this.#timer, this.#oldest!.expiresMs);
  }

  #unlink(rec: TimeWaitRecord): void {
    if (rec.older !== null) rec.older.newer = rec.newer;
    else if (this.#oldest === rec) this.#oldest = rec.newer;
    if (rec.newer !== null) rec.newer.older = rec.older;
    else if (this.#newest === rec) this.#newest = rec.older;
    rec.older = null;
    rec.newer = null;
  }

  /** @internal The timer fired: retire every record due, re-arm for the next. */
  expireDue(): void {
    const now = this.#clock.nowMs();
    let r = this.#oldest;
    while (r !== null && r.expiresMs <= now) {
      this.remove(r);
      this.#stats.TW++;
      r = this.#oldest;
    }
    if (r !== null) this.#timers.schedule(this.#timer, r.expiresMs);
  }
}

function expire(t: TimeWaitTable): void {
  t.expireDue();
}
