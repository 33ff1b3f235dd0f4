/**
 * The SACK scoreboard (RFC 6675 §3, Linux's retransmission queue): one record per
 * transmission unit of the data in flight, [SND.UNA, SND.MAX) covered in order without gaps.
 * A record is what one `emit` sent — up to a TSO super-segment — with its send time, its
 * state flags ({@link SB_SACKED}, {@link SB_LOST}, {@link SB_RETRANS}, …) and the delivery
 * snapshot of its last transmission ({@link DeliveryRate}). A record is split where a SACK
 * block, a cumulative ACK or a partial retransmission cuts it; SACKed neighbours are merged.
 *
 * The byte aggregates give RFC 6675's `pipe` (§4, "SetPipe") in O(1): everything sent and not
 * cumulatively acknowledged, minus what is SACKed, minus what is deemed lost, plus what was
 * retransmitted (and not deemed lost again) — Linux's `packets_out − (sacked_out + lost_out)
 * + retrans_out`, in bytes. Which record is lost is decided by RACK (`rack.ts`) or, without
 * SACK, by the NewReno rules in the sender; this file keeps the books.
 *
 * Each ACK's processing (cumulative part and SACK blocks) gathers what RTT measurement, RACK
 * and delivery-rate estimation need in the `ack*` fields, reset by {@link
 * Scoreboard.beginAck}.
 *
 * Storage: parallel typed arrays, allocated on the first transmission and doubled as needed
 * up to `maxRecords`; nothing is allocated per ACK or segment. When full, a new
 * transmission is refused (the sender checks {@link Scoreboard.hasRoom} first and waits),
 * and a SACK block that would need a split marks only the records it covers whole —
 * {@link Scoreboard.refused} counts both.
 *
 * Why this file is over 600 lines: one data structure — the records' columns, their splitting,
 * SACK marking, loss marking, retransmission and the column pool — whose operations share the
 * columns' invariants; what an ACK delivered is reported through one shared record.
 *
 * @module
 */

import type { DeliveryRate } from "./delivery_rate.ts";
import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";
import { RetransLog, RX_NONE, RX_RACK, RX_RACK_AFTER_RETRANS, RX_RTO } from "./retrans_log.ts";
import { seqDiff, seqLt } from "./seq.ts";

/** Record flag: SACKed (delivered, not cumulatively acknowledged). */
export const SB_SACKED = 1;
/** Record flag: deemed lost (and not SACKed since). */
export const SB_LOST = 2;
/** Record flag: retransmitted, and that retransmission is not known lost: counts in `pipe`. */
export const SB_RETRANS = 4;
/** Record flag: retransmitted at least once (Karn: no RTT sample from it). */
export const SB_EVER_RETRANS = 8;
/** Record flag: the record's last sequence number is our FIN. */
export const SB_FIN = 16;
/** Record flag: its last transmission was application-limited (rate sampling). */
export const SB_APP_LIMITED = 32;
/**
 * Record flag: its delivery by a SACK already fed a rate sample (a record acknowledged
 * cumulatively in parts feeds one with every part).
 */
export const SB_DELIVERED = 64;

/** Default bound on records per connection. */
export const SCOREBOARD_MAX_RECORDS = 8192;
/** Records allocated at first use. */
const INITIAL_RECORDS = 16;

/** The columns of a scoreboard that holds no record (zero-length: nothing is written). */
const NO_U32 = new Uint32Array(0);
const NO_F64 = new Float64Array(0);
const NO_U8 = new Uint8Array(0);
const NO_I32 = new Int32Array(0);

/**
 * What the ACK being processed delivered: the record behind the `ack*` getters of
 * {@link Scoreboard}, and {@link Scoreboard.ackResults} for the per-ACK readers (a field read
 * from it stays an unboxed number; a getter V8 does not inline returns a sequence number at
 * or above 2**30, or a fractional time, as a new heap number).
 */
export class AckResults {
  /** See {@link Scoreboard.ackDelivered}. */
  ackDelivered = 0;
  /** See {@link Scoreboard.ackSacked}. */
  ackSacked = 0;
  /** See {@link Scoreboard.ackRttOldestMs}. */
  ackRttOldestMs = DOUBLE_ZERO;
  /** See {@link Scoreboard.ackRttNewestMs}. */
  ackRttNewestMs = DOUBLE_ZERO;
  /** See {@link Scoreboard.ackRackValid}. */
  ackRackValid = false;
  /** See {@link Scoreboard.ackRackXmitMs}. */
  ackRackXmitMs = DOUBLE_ZERO;
  /**
   * See {@link Scoreboard.ackRackEndSeq}; kept as an int32 (`| 0`, as `fack`): a uint32 end
   * at or above 2^31 turned this field, and RACK's copy of it, into doubles mid-run.
   */
  ackRackEndSeq = 0;
  /** That record had been retransmitted (its delivery may be the original's). */
  ackRackRetrans = false;
  /** See {@link Scoreboard.ackReordered}. */
  ackReordered = false;
  /** See {@link Scoreboard.ackRetransDelivered}. */
  ackRetransDelivered = 0;
  /** When the ACK arrived. */
  now = DOUBLE_ZERO;
  /** The connection's min RTT then. */
  minRtt = DOUBLE_ZERO;
  /**
   * TSval now less the ACK's TSecr (ms ticks), -1 without one: the age of the transmission
   * the ACK echoes (RFC 7323 §4.3).
   */
  echoAgeMs = -1;
  /** `fack` when the ACK began (reordering is judged against it), an int32 as `fack` is. */
  priorFack = 0;
  /**
   * The newest RTT sample of never-retransmitted data before this ACK (ms; 0: none): the
   * queue a retransmission sent lately joined. Set by the loss control after `beginAck`.
   */
  queueRttMs = DOUBLE_ZERO;

  /**
   * The times start as doubles (DOUBLE_ZERO) and are set here: one record for the process,
   * whose fields took their first fractional values in a sender's first ACKs — a new map
   * for the code that had read it (bench/README.md, `deopt11l`). The RTTs are -1 (none) as
   * doubles.
   */
  constructor() {
    this.ackRttOldestMs = this.ackRttNewestMs = -1;
    this.ackRackXmitMs =
      this.now =
      this.minRtt =
      this.queueRttMs =
        0;
  }
}

/**
 * The time {@link Scoreboard.onSendAtTx} records (ms): the sender writes it here rather than
 * passing it, as a fractional time passed to a call V8 does not inline (this one is too large
 * for its mid tier) is a new heap number per segment (bench/README.md, "dbl34"). A cell of the
 * module, not a field: a double field is a boxed number of its own in every connection's
 * scoreboard (+16 B a connection, seen in `--hold` at the thirty-fourth session's end).
 */
export const SCOREBOARD_TX_MS = new Float64Array(1);

/** The edges {@link Scoreboard.sack} hands to {@link Scoreboard.sackBlock} (one thread). */
const SACK_BLOCK = new Uint32Array(2);

/**
 * A RACK retransmission's delivery sooner than this share of the queue's round trip
 * ({@link AckResults.queueRttMs}) is taken as its original's.
 */
const QUEUE_RTT_FRACTION = 0.5;

/** The one record of the ACK being processed (one ACK at a time on the one thread). */
const ACK = new AckResults();

/**
 * A scoreboard's record arrays (struct of arrays), record `i` at physical index `head + i`
 * ({@link Scoreboard.columns}, {@link Scoreboard.head}).
 */
export interface ScoreboardColumns {
  /** First sequence number of each record. */
  readonly start: Uint32Array<ArrayBuffer>;
  /** End (exclusive) of each record. */
  readonly end: Uint32Array<ArrayBuffer>;
  /** Last send time of each record (ms). */
  readonly xmit: Float64Array<ArrayBuffer>;
  /** `SB_*` flags of each record. */
  readonly flags: Uint8Array<ArrayBuffer>;
}

/** One scoreboard's columns at {@link INITIAL_RECORDS}, kept for reuse. */
interface Columns extends ScoreboardColumns {
  start: Uint32Array<ArrayBuffer>;
  end: Uint32Array<ArrayBuffer>;
  xmit: Float64Array<ArrayBuffer>;
  flags: Uint8Array<ArrayBuffer>;
  why: Uint8Array<ArrayBuffer>;
  snapDelivered: Float64Array<ArrayBuffer>;
  snapTime: Float64Array<ArrayBuffer>;
  snapFirst: Float64Array<ArrayBuffer>;
  logSerial: Int32Array<ArrayBuffer>;
}

/** The columns of a scoreboard with none of its own: every one a shared empty array. */
const NO_COLUMNS: Columns = {
  start: NO_U32,
  end: NO_U32,
  xmit: NO_F64,
  flags: NO_U8,
  why: NO_U8,
  snapDelivered: NO_F64,
  snapTime: NO_F64,
  snapFirst: NO_F64,
  logSerial: NO_I32,
};

/**
 * Columns given back by scoreboards that emptied (every record acknowledged), for the next
 * that needs some: a connection holds columns only while data is in flight, and short
 * connections by the million reuse a few sets instead of making seven arrays each. Bounded;
 * shared by every connection of the process (one thread).
 */
const FREE_COLUMNS: Columns[] = [];
/** Most sets kept. */
const FREE_COLUMNS_MAX = 4096;

/**
 * The scoreboard of one sender. Record `i` is addressed by its position `0 … count − 1`
 * from the oldest (at SND.UNA); positions change as records come and go.
 *
 * @example
 * ```ts ignore
 * const sb = new Scoreboard(rate);
 * sb.reset(iss + 1);
 * sb.onSend(1001, 3001, now, 0); // one 2000-byte TSO segment
 * sb.beginAck(now + 10, 0);
 * sb.sack(2001, 3001);           // the second half arrived, the first did not (yet)
 * sb.pipe(2000);                 // 1000
 * ```
 */
export class Scoreboard {
  /** Bytes SACKed (and not cumulatively acknowledged). */
  sackedBytes = 0;
  /** Bytes deemed lost (and not SACKed since). */
  lostBytes = 0;
  /** Bytes retransmitted and not deemed lost again (counted in `pipe` a second time). */
  retransBytes = 0;
  /** Without SACK: bytes that duplicate ACKs say have left the network (Linux "reno sacks"). */
  renoSackedBytes = 0;
  /**
   * RACK.fack: end of the highest sequence delivered (SACKed or cumulatively acknowledged), kept
   * as an int32 — read it through `seqDiff`/`seqAdd`, which give the same for a uint32 and its
   * int32; a uint32 field would be a double, a 16-byte heap number in every connection.
   */
  fack = 0;
  /** Transmissions or SACK splits refused because the scoreboard was full. */
  refused = 0;
  /**
   * Retransmissions deemed lost again (Linux TCPLostRetransmit) since the owner last took the
   * count (the loss control adds it to the stack's counters and zeroes it).
   */
  lostRetransmits = 0;
  /**
   * The last retransmissions and their reasons (D-SACK attribution); null until the first
   * retransmission.
   */
  retransLog: RetransLog | null = null;
  /**
   * RACK's reordering window at its last loss detection (set by `rack.ts`), logged with each
   * retransmission: whole µs, an int32 always (at most SRTT). In ms it turned into a double at
   * the first loss detection of a run — a new map for every scoreboard, mid-run, and the
   * per-ACK code that had read one lost its code (bench/README.md, `deopt11l`).
   */
  reoWndUs = 0;
  /** {@link Scoreboard.reoWndUs} in ms. */
  get reoWndMs(): number {
    return this.reoWndUs / 1000;
  }
  set reoWndMs(ms: number) {
    this.reoWndUs = (ms * 1000 + 0.5) | 0; // ≤ SRTT: an int32
  }

  // ---- what the current ACK delivered (reset by beginAck) ------------------------------
  // Kept in one record shared by every scoreboard (an ACK is processed whole before the
  // next, on one thread), not ~170 bytes in each connection.
  /** The record of what the current ACK delivered (shared by every scoreboard). */
  get ackResults(): AckResults {
    return ACK;
  }
  /** Bytes newly delivered: cumulatively acknowledged and not SACKed before, or newly SACKed. */
  get ackDelivered(): number {
    return ACK.ackDelivered;
  }
  /** Bytes newly SACKed. */
  get ackSacked(): number {
    return ACK.ackSacked;
  }
  /** RTT (ms) of the oldest newly delivered never-retransmitted record; -1: none. */
  get ackRttOldestMs(): number {
    return ACK.ackRttOldestMs;
  }
  /** RTT (ms) of the newest newly delivered never-retransmitted record; -1: none. */
  get ackRttNewestMs(): number {
    return ACK.ackRttNewestMs;
  }
  /** RACK: the most recently sent delivered record passing RFC 8985 §6.2 step 2's filter. */
  get ackRackValid(): boolean {
    return ACK.ackRackValid;
  }
  /** Its send time. */
  get ackRackXmitMs(): number {
    return ACK.ackRackXmitMs;
  }
  /** Its end sequence number. */
  get ackRackEndSeq(): number {
    return ACK.ackRackEndSeq >>> 0;
  }
  /** A never-retransmitted record was delivered below `fack`: reordering (RFC 8985 §6.2). */
  get ackReordered(): boolean {
    return ACK.ackReordered;
  }
  /** Newly delivered bytes that had been retransmitted. */
  get ackRetransDelivered(): number {
    return ACK.ackRetransDelivered;
  }

  readonly #rate: DeliveryRate;
  readonly #max: number;
  #cap = 0;
  /**
   * The columns, one record: until the first record (and again once emptied at the initial
   * size) the shared empty set, so a crowd of idle connections holds no arrays of its own — and
   * one field instead of nine (bench/README.md, branch held9d). Initial-size sets come from and
   * go back to the free list whole.
   */
  #c: Columns = NO_COLUMNS;
  #head = 0;
  #n = 0;
  /** Nothing before this sequence number is lost and unretransmitted (search hint). */
  #lostHint = 0;

  /** A scoreboard feeding `rate`, with at most `maxRecords` records. */
  constructor(rate: DeliveryRate, maxRecords: number = SCOREBOARD_MAX_RECORDS) {
    this.#rate = rate;
    this.#max = maxRecords > INITIAL_RECORDS ? maxRecords : INITIAL_RECORDS;
  }

  /** Records held. */
  get count(): number {
    return this.#n;
  }

  /** Records the arrays can hold now (grows on demand up to the bound). */
  get capacity(): number {
    return this.#cap;
  }

  /**
   * The record arrays, to read (never write) in a per-ACK scan: record `i` at `head + i`. A
   * time or sequence number read there stays unboxed, where one returned from
   * {@link Scoreboard.xmitMs} or {@link Scoreboard.end} is a heap number whenever V8 does not
   * inline the call ("sack33"). Valid until the scoreboard next records or splits.
   */
  get columns(): ScoreboardColumns {
    return this.#c;
  }

  /** Physical index of record 0 in {@link Scoreboard.columns}. */
  get head(): number {
    return this.#head;
  }

  /** Start of record `i`. */
  start(i: number): number {
    return this.#c.start[this.#head + i];
  }

  /** End (exclusive) of record `i`. */
  end(i: number): number {
    return this.#c.end[this.#head + i];
  }

  /** Flags of record `i`. */
  flags(i: number): number {
    return this.#c.flags[this.#head + i];
  }

  /** Why record `i` was deemed lost, or last retransmitted (`RX_*` of `retrans_log.ts`). */
  reason(i: number): number {
    return this.#c.why[this.#head + i];
  }

  /** Last send time of record `i` (ms). */
  xmitMs(i: number): number {
    return this.#c.xmit[this.#head + i];
  }

  /** Bytes (sequence space, a FIN counts one) of record `i`. */
  length(i: number): number {
    const p = this.#head + i;
    return seqDiff(this.#c.end[p], this.#c.start[p]);
  }

  /** End of the highest SACKed record, or `fack`'s floor when nothing is SACKed. */
  get highSacked(): number {
    for (let i = this.#n - 1; i >= 0; i--) {
      if ((this.#c.flags[this.#head + i] & SB_SACKED) !== 0) return this.#c.end[this.#head + i];
    }
    return this.#n > 0 ? this.#c.start[this.#head] : this.fack >>> 0;
  }

  /**
   * RFC 6675 §4 `pipe` for `outBytes` sent and not cumulatively acknowledged (SND.MAX −
   * SND.UNA): what is still in the network, retransmissions counted again.
   */
  pipe(outBytes: number): number {
    const p = outBytes - this.sackedBytes - this.lostBytes - this.renoSackedBytes +
      this.retransBytes;
    return p > 0 ? p : 0;
  }

  /** Forget everything; the data will start at `seq`. */
  reset(seq: number): void {
    this.#head = 0;
    this.#n = 0;
    this.#release();
    this.sackedBytes = 0;
    this.lostBytes = 0;
    this.retransBytes = 0;
    this.renoSackedBytes = 0;
    this.fack = seq | 0;
    this.#lostHint = seq | 0;
    if (this.retransLog !== null) this.retransLog.clear();
  }

  // ---- transmissions ---------------------------------------------------------------------

  /**
   * New data `[start, end)` was sent at `nowMs` (`flags`: {@link SB_FIN} when it ends with
   * our FIN). The delivery snapshot is taken from the rate estimator (a new flight starts its
   * sampling interval when nothing was outstanding). Returns false when the scoreboard is
   * full or `start` does not follow the last record.
   */
  onSend(start: number, end: number, nowMs: number, flags: number): boolean {
    return this.onSendFromFack(seqDiff(start, this.fack), seqDiff(end, start), nowMs, flags);
  }

  /**
   * {@link Scoreboard.onSend} of `[fack + fromFack, … + len)`: the sender's form. Sequence
   * numbers cross calls as distances from `fack` (small integers): V8 passes numbers between
   * functions it does not inline as tagged values, and one at or above 2**30 would be a new
   * heap number per segment.
   */
  onSendFromFack(fromFack: number, len: number, nowMs: number, flags: number): boolean {
    SCOREBOARD_TX_MS[0] = nowMs;
    return this.onSendAtTx(fromFack, len, flags);
  }

  /** {@link Scoreboard.onSendFromFack} at {@link SCOREBOARD_TX_MS}: the sender's form. */
  onSendAtTx(fromFack: number, len: number, flags: number): boolean {
    const nowMs = SCOREBOARD_TX_MS[0];
    // `seqAdd` written out here and in `ackToFromFack` and `#delivered`: V8's mid tier calls
    // a helper on a path fewer than 95 % of calls took when it compiled, and its uint32s are
    // heap numbers then — here two per segment in some processes (bench/README.md, "box32").
    const start = (this.fack + fromFack) >>> 0;
    const end = (start + len) >>> 0;
    // The delivery-rate record hears only of a flight's first segment: a fractional time passed
    // per segment to a call V8 does not inline was a new heap number each (16 B:
    // bench/README.md, "box40"), and for any later segment `onSend` changes nothing.
    if (this.#n === 0) this.#rate.onSend(nowMs, true);
    if (this.#n > 0 && this.#c.end[this.#head + this.#n - 1] !== start) return false;
    if (!this.#room(1)) {
      this.refused++;
      return false;
    }
    const p = this.#head + this.#n;
    const c = this.#c; // after #room, which may have replaced them
    c.start[p] = start;
    c.end[p] = end;
    c.xmit[p] = nowMs;
    c.flags[p] = (flags & SB_FIN) | (this.#rate.appLimitedNow ? SB_APP_LIMITED : 0);
    c.why[p] = RX_NONE;
    c.logSerial[p] = -1;
    this.#snap(p);
    this.#n++;
    return true;
  }

  /**
   * Record `i` is being retransmitted at `nowMs`, its first `len` bytes (split off when
   * shorter), for `reason` (an `RX_*` of `retrans_log.ts`; by default the one it was deemed
   * lost for), logged for D-SACK attribution. Returns the bytes the retransmission covers.
   */
  onRetransmit(i: number, len: number, nowMs: number, reason: number = -1): number {
    const recLen = this.length(i);
    if (len < recLen) {
      if (!this.#split(i, len)) len = recLen;
    } else {
      len = recLen;
    }
    const p = this.#head + i;
    const f = this.#c.flags[p];
    if ((f & SB_RETRANS) === 0) this.retransBytes += len;
    this.#c.flags[p] = (f | SB_RETRANS | SB_EVER_RETRANS) & ~(SB_DELIVERED | SB_APP_LIMITED) |
      (this.#rate.appLimitedNow ? SB_APP_LIMITED : 0);
    this.#c.xmit[p] = nowMs;
    if (reason >= 0) this.#c.why[p] = reason;
    this.#snap(p);
    if (this.retransLog === null) this.retransLog = new RetransLog();
    this.retransLog.windowMs = this.reoWndUs / 1000;
    this.#c.logSerial[p] = this.retransLog.add(
      this.#c.start,
      this.#c.end,
      this.#c.xmit,
      p,
      this.#c.why[p],
    );
    return len;
  }

  /**
   * Position of the first record deemed lost and not retransmitted since (RFC 6675 NextSeg
   * rule 1), or -1.
   */
  nextLost(): number {
    if (this.lostBytes === 0 || this.#n === 0) return -1;
    // Sequence numbers read from the arrays and `seqDiff` written out, here and on the rest of
    // the SACK path (`sackBlock`, `#sackOne`, `#findAt`, `#split`): with a call not inlined
    // (V8's mid tier, or inlining off) a uint32 ≥ 2**30 passed or returned is a heap number
    // per ACK or per retransmission ("sack33").
    const c = this.#c;
    const head = this.#head;
    let i = this.#findAt((this.#lostHint - c.start[head]) | 0);
    if (i < 0) i = 0;
    const flags = c.flags;
    for (; i < this.#n; i++) {
      const f = flags[head + i];
      if ((f & (SB_LOST | SB_RETRANS)) === SB_LOST) {
        this.#lostHint = c.start[head + i] | 0;
        return i;
      }
    }
    this.#lostHint = c.end[head + this.#n - 1] | 0;
    return -1;
  }

  /**
   * Deem record `i` lost (RACK, NewReno, RTO) for `reason` (an `RX_*` of `retrans_log.ts`,
   * which its retransmission will be logged with). A record whose retransmission was in flight
   * counts as a lost retransmission (TCPLostRetransmit). SACKed records are left alone.
   */
  markLost(i: number, reason: number = RX_NONE): void {
    const p = this.#head + i;
    const f = this.#c.flags[p];
    if ((f & SB_SACKED) !== 0) return;
    this.#c.why[p] = reason;
    const len = seqDiff(this.#c.end[p], this.#c.start[p]);
    if ((f & SB_RETRANS) !== 0) {
      this.retransBytes -= len;
      this.lostRetransmits++;
    }
    if ((f & SB_LOST) === 0) this.lostBytes += len;
    this.#c.flags[p] = (f | SB_LOST) & ~SB_RETRANS;
    if (seqLt(this.#c.start[p], this.#lostHint)) this.#lostHint = this.#c.start[p] | 0;
  }

  /**
   * The retransmission timer expired (RFC 5681 §3.1, Linux tcp_enter_loss): every record not
   * SACKed is lost — all of them when the receiver dropped SACKed data (reneging: the oldest
   * record is SACKed, RFC 2018 §8) — and what was retransmitted is retransmitted again.
   */
  markAllLost(): void {
    if (this.#n > 0 && (this.#c.flags[this.#head] & SB_SACKED) !== 0) this.clearSacks();
    for (let i = 0; i < this.#n; i++) this.markLost(i, RX_RTO);
  }

  /**
   * A reduction was undone: no record is deemed lost after all (Linux
   * tcp_undo_cwnd_reduction with `unmark_loss`); RACK marks again what really is.
   */
  unmarkLost(): void {
    const flags = this.#c.flags;
    for (let i = 0; i < this.#n; i++) {
      const p = this.#head + i;
      if ((flags[p] & SB_LOST) !== 0) {
        flags[p] &= ~SB_LOST;
        this.lostBytes -= seqDiff(this.#c.end[p], this.#c.start[p]);
      }
    }
  }

  /**
   * True when one more record fits — a transmission can be recorded, or a record split —
   * growing the arrays if needed.
   */
  hasRoom(): boolean {
    return this.#room(1);
  }

  /** Forget every SACK mark (the receiver reneged). */
  clearSacks(): void {
    const flags = this.#c.flags;
    for (let i = 0; i < this.#n; i++) flags[this.#head + i] &= ~SB_SACKED;
    this.sackedBytes = 0;
  }

  // ---- ACK processing --------------------------------------------------------------------

  /**
   * Start an ACK at `nowMs`: the `ack*` fields are cleared. `minRttMs` is RACK.min_RTT, used
   * to ignore records that were retransmitted too recently to be the ones delivered.
   */
  beginAck(nowMs: number, minRttMs: number): void {
    ACK.now = nowMs;
    ACK.minRtt = minRttMs;
    this.resetAck();
  }

  /**
   * {@link Scoreboard.beginAck} with the time and min_RTT already stored in
   * {@link Scoreboard.ackResults} (`now`, `minRtt`) by the caller: no number passed.
   */
  resetAck(): void {
    ACK.echoAgeMs = -1;
    ACK.queueRttMs = 0; // the loss control sets its own after this call
    ACK.priorFack = this.fack;
    ACK.ackDelivered = 0;
    ACK.ackSacked = 0;
    ACK.ackRttOldestMs = -1;
    ACK.ackRttNewestMs = -1;
    ACK.ackRackValid = false;
    ACK.ackRackRetrans = false;
    ACK.ackReordered = false;
    ACK.ackRetransDelivered = 0;
  }

  /** SND.UNA moved to `ack`: acknowledged records leave (a partly acknowledged one is cut). */
  ackTo(ack: number): void {
    this.ackToFromFack(seqDiff(ack, this.fack));
  }

  /**
   * {@link Scoreboard.ackTo} `fack + fromFack`: the sender's form (see
   * {@link Scoreboard.onSendFromFack}).
   */
  ackToFromFack(fromFack: number): void {
    const ack = (this.fack + fromFack) >>> 0;
    const start = this.#c.start;
    const end = this.#c.end;
    const flags = this.#c.flags;
    while (this.#n > 0) {
      const p = this.#head;
      const s = start[p];
      if (((ack - s) | 0) <= 0) break;
      const e = end[p];
      // Distances from the record's start, both computed, and the length chosen between
      // them, not the cut point between `e` and `ack`: V8's mid tier (Maglev) keeps a value
      // merged from two branches tagged, a sequence number at or above 2**30 merged so is a new
      // heap number per ACK, and a seqDiff under one branch only is called, not inlined.
      const toEnd = (e - s) | 0;
      const toAck = (ack - s) | 0;
      const whole = toAck >= toEnd; // seqGe(ack, e)
      const len = whole ? toEnd : toAck;
      const f = flags[p];
      if ((f & SB_SACKED) !== 0) this.sackedBytes -= len;
      else this.#delivered(p, len);
      if ((f & SB_LOST) !== 0) this.lostBytes -= len;
      if ((f & SB_RETRANS) !== 0) this.retransBytes -= len;
      if (!whole) {
        start[p] = ack;
        break;
      }
      this.#head++;
      this.#n--;
    }
    if (this.#n === 0) {
      this.#head = 0;
      this.#release();
    }
    if (((ack - this.fack) | 0) > 0) this.fack = ack | 0;
    if (((this.#lostHint - ack) | 0) < 0) this.#lostHint = ack | 0;
  }

  /**
   * A SACK block `[left, right)` (RFC 2018), already checked to end within (SND.UNA,
   * SND.MAX]: records it covers are SACKed (records it cuts are split first); a left edge
   * below the first record counts from that record. See {@link Scoreboard.sackBlock}.
   */
  sack(left: number, right: number): void {
    SACK_BLOCK[0] = left;
    SACK_BLOCK[1] = right;
    this.sackBlock(SACK_BLOCK, 0);
  }

  /**
   * {@link Scoreboard.sack} for block `k` of `blocks` (left and right edges in pairs, as
   * {@link TcpHeaderOptions.sackBlocks} holds them). The edges are read here, not passed: V8
   * passes a sequence number at or above 2**30 to a call it does not inline as a new heap
   * number.
   */
  sackBlock(blocks: Uint32Array, k: number): void {
    if (this.#n === 0) return;
    const left = blocks[2 * k];
    const right = blocks[2 * k + 1];
    // Comparisons written out and the arrays read in place (see `nextLost`); `#split` takes
    // the front's length, a small integer, not the edge.
    const c = this.#c;
    const head = this.#head;
    let i = this.#findAt((left - c.start[head]) | 0);
    if (i < 0) i = 0;
    // Split the record the block starts in, unless the block starts at its start.
    const intoFirst = (left - c.start[head + i]) | 0; // > 0: the block starts inside it
    if (intoFirst > 0) {
      // nothing of it here (cannot happen after #find)
      if (((c.end[head + i] - left) | 0) <= 0) return;
      if (this.#split(i, intoFirst)) i++;
      else if (((this.#c.end[head + i] - right) | 0) > 0) return; // cannot mark a part
      else i++; // the first record is only partly covered: skip it
    }
    const first = i;
    while (i < this.#n && ((this.#c.end[this.#head + i] - right) | 0) <= 0) {
      this.#sackOne(i);
      i++;
    }
    // The block ends inside the unSACKed record i right after a SACKed one: the SACKed edge
    // grows into it (each ACK of a receiver holding a hole moves it a segment or two on). The
    // boundary between the two moves, in place — Linux's `tcp_shift_skb_data` — where a split
    // and a merge would each move every later record: O(1) instead of O(records in flight).
    if (i > first && i < this.#n && ((this.#c.start[this.#head + i] - right) | 0) < 0) {
      const q = this.#head + i;
      const f = this.#c.flags[q];
      if ((f & SB_SACKED) === 0) {
        // The back's length, not its end: a small integer (a sequence number held across the
        // call could be a new heap number in V8's mid tier).
        const back = (this.#c.end[q] - right) | 0; // seqDiff, written out ("sack33")
        // The front [start, right) as a split would leave it (no FIN: that is the back's),
        // SACKed with the same books; then it joins record i − 1 and the back keeps i.
        this.#c.end[q] = right;
        this.#c.flags[q] = f & ~SB_FIN;
        this.#sackOne(i);
        const front = this.#c.flags[q];
        this.#c.end[q - 1] = right;
        this.#c.flags[q - 1] |= front & SB_EVER_RETRANS;
        this.#c.start[q] = right;
        this.#c.end[q] = (right + back) >>> 0; // seqAdd
        this.#c.flags[q] = f;
        if (i - first > 1) this.#mergeSacked(first, i - first);
        return;
      }
    }
    // The block ends inside record i: split it and mark the front.
    // seqLt written out: called under the `i < n` branch, V8 would box both numbers.
    const intoLast = i < this.#n ? (right - this.#c.start[this.#head + i]) | 0 : 0;
    if (intoLast > 0 && this.#split(i, intoLast)) {
      this.#sackOne(i);
      i++;
    }
    if (i - first > 1) this.#mergeSacked(first, i - first);
  }

  /** Record `i` at physical index `p` is SACKed now. */
  #sackOne(i: number): void {
    const p = this.#head + i;
    const f = this.#c.flags[p];
    const end = this.#c.end[p];
    // Before the early return, on every path: V8's mid tier inlines seqDiff/seqGt only there;
    // called under a branch they take the sequence numbers as new heap numbers.
    const len = (end - this.#c.start[p]) | 0; // seqDiff; seqGt below ("sack33": called even
    const endAfterFack = ((end - this.fack) | 0) > 0; // there under inlining off, both boxed)
    if ((f & SB_SACKED) !== 0) return;
    if ((f & SB_LOST) !== 0) this.lostBytes -= len;
    if ((f & SB_RETRANS) !== 0) this.retransBytes -= len;
    this.sackedBytes += len;
    ACK.ackSacked += len;
    this.#delivered(p, len);
    if (endAfterFack) this.fack = end | 0;
    this.#c.flags[p] = (f | SB_SACKED | SB_DELIVERED) & ~(SB_LOST | SB_RETRANS);
  }

  /** Bookkeeping for `len` bytes of the record at physical `p` delivered now. */
  #delivered(p: number, len: number): void {
    const f = this.#c.flags[p];
    const now = ACK.now;
    const x = this.#c.xmit[p];
    const end = this.#c.end[p];
    // The two comparisons made on every path: V8's mid tier inlines a call only on a path
    // nearly every call takes, and seqGt/seqLt called would take the sequence numbers as new
    // heap numbers.
    const endAfterRack = ((end - ACK.ackRackEndSeq) | 0) > 0;
    const endBelowFack = ((end - ACK.priorFack) | 0) < 0;
    const retrans = (f & SB_EVER_RETRANS) !== 0;
    ACK.ackDelivered += len;
    if (retrans) ACK.ackRetransDelivered += len;
    // RFC 8985 §6.2 step 2: no RACK update from a retransmitted record whose delivery may have
    // been the original's — delivered sooner than min_RTT after the retransmission (condition
    // 2), or, when RACK sent it, on an ACK that echoes a TSval older than the retransmission's
    // (condition 1; the TSval is the send time's ms tick). RACK resends a segment as soon as
    // a later one is delivered, which can be well within an RTT of the original when the queue
    // varies or packets are reordered; the original's late SACK then took RACK.xmit_ts to the
    // retransmission and deemed everything sent before it lost — a cascade of spurious
    // retransmissions under BBR's deep queue. The TSecr test has 1 ms ticks and min_RTT is
    // the empty path's (20–50 µs on veth against an SRTT of 1.5 ms): neither catches an
    // original a few hundred µs late. So, a deviation from the RFC, a RACK resend's delivery
    // also counts only once half the round trip new data takes now has passed since the
    // resend, which went out behind that queue (`queueRttMs`, 0 once the last original was
    // delivered or after an RTO): a sooner one was the original's. Not for the probes' and the RTO's
    // retransmissions: sent two RTTs or more after the original, they are not ambiguous past
    // min_RTT, and a probe SACKed above a hole echoes an older TSval by RFC 7323 §4.3 (the
    // last in-order segment's) — the test would ignore the delivered probe.
    let valid = true;
    if (retrans) {
      valid = now - x >= ACK.minRtt;
      const why = this.#c.why[p];
      if (valid && why >= RX_RACK && why <= RX_RACK_AFTER_RETRANS) {
        if (ACK.echoAgeMs >= 0) valid = ACK.echoAgeMs <= Math.floor(now) - Math.floor(x);
        // RACK resends go out behind the queue: a delivery sooner than half the round trip
        // new data takes now was the original's.
        if (now - x < QUEUE_RTT_FRACTION * ACK.queueRttMs) valid = false;
      }
      // A delivery that was the original's (not valid by the rules above): how long after
      // the retransmission it came — the original's lateness, should a D-SACK show the
      // retransmission was not needed (`rack.ts`). One that may be the retransmission's own
      // is not noted: had the original come later still, the window it needed would be more
      // than a round trip, which RACK's (at most SRTT) cannot cover — widened to SRTT on it,
      // loss detection would only wait a round trip longer for 16 recoveries. Such a D-SACK
      // widens the window by RFC 8985 §6.2 step 4 alone (`RackTlp.onAck`).
      if (!valid && this.retransLog !== null) {
        this.retransLog.delivered(this.#c.logSerial[p], this.#c.start, p, ACK);
      }
    }
    if (valid) {
      if (
        !ACK.ackRackValid || x > ACK.ackRackXmitMs ||
        (x === ACK.ackRackXmitMs && endAfterRack)
      ) {
        ACK.ackRackValid = true;
        ACK.ackRackXmitMs = x;
        ACK.ackRackEndSeq = end | 0; // int32: the field stays a small integer past 2^31
        ACK.ackRackRetrans = retrans;
      }
    }
    if (!retrans) {
      const rtt = now - x;
      if (ACK.ackRttOldestMs < 0 || rtt > ACK.ackRttOldestMs) ACK.ackRttOldestMs = rtt;
      if (ACK.ackRttNewestMs < 0 || rtt < ACK.ackRttNewestMs) ACK.ackRttNewestMs = rtt;
      // RFC 8985 §6.2 step 3: delivered below what was already delivered: reordering.
      if (endBelowFack) ACK.ackReordered = true;
    }
    // Every delivery of a record's bytes feeds the rate sample from the record's snapshot —
    // also the second and later parts of a super-segment acknowledged cumulatively in pieces
    // (Linux `tcp_clean_rtx_queue` calls `tcp_rate_skb_delivered` for a partly acknowledged
    // TSO skb too). Only a SACKed record is marked (`#sackOne`), so that its cumulative ACK
    // later does not feed its snapshot again (Linux clears the skb's `delivered_mstamp`).
    if ((f & SB_DELIVERED) === 0) {
      this.#rate.onDeliveredAt(
        len,
        this.#c.snapDelivered,
        this.#c.snapTime,
        this.#c.snapFirst,
        this.#c.xmit,
        p,
        (f & SB_APP_LIMITED) !== 0,
        ACK, // the ACK's time read there: a double passed would be a new heap number
      );
    } else {
      // C.delivered grows: C.delivered_time with it (the draft's §3.3; Linux's
      // `delivered_mstamp` is set on every ACK that delivers anything).
      this.#rate.delivered += len;
      this.#rate.deliveredTimeMs = now;
    }
  }

  // ---- storage ---------------------------------------------------------------------------

  /**
   * Position of the record holding the byte `off` bytes past the first record's start, or -1
   * when `off` < 0 (the scoreboard holds a record). An offset, not a sequence number: a small
   * integer, which V8 passes unboxed to a call it does not inline.
   */
  #findAt(off: number): number {
    if (off < 0) return -1;
    const n = this.#n;
    const head = this.#head;
    const base = this.#c.start[head];
    let lo = 0;
    let hi = n - 1;
    const start = this.#c.start;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (((start[head + mid] - base) | 0) <= off) lo = mid; // seqDiff, not called: unboxed
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Cut record `i` in two at `at` (strictly inside it; both halves keep its state): false
   * when the scoreboard is full (counted in `refused`) or `at` is not inside.
   */
  splitAt(i: number, at: number): boolean {
    return this.#split(i, seqDiff(at, this.start(i)));
  }

  /**
   * Split record `i` after its first `front` bytes (strictly inside it); false when full. The
   * front's length, not the cut's sequence number: a small integer, which a call V8 does not
   * inline takes unboxed (a SACK edge passed here was a heap number per SACK block, "sack33").
   */
  #split(i: number, front: number): boolean {
    const q = this.#head + i;
    if (front <= 0 || front >= ((this.#c.end[q] - this.#c.start[q]) | 0)) return false;
    if (!this.#room(1)) {
      this.refused++;
      return false;
    }
    const p = this.#head + i; // after #room, which may have moved the records
    const tail = this.#head + this.#n;
    this.#shift(p + 1, tail, 1);
    // The copy at p + 1 is the back half; p keeps the front.
    const at = (this.#c.start[p] + front) >>> 0; // seqAdd
    this.#c.start[p + 1] = at;
    this.#c.end[p] = at;
    this.#c.flags[p] &= ~SB_FIN; // the FIN is the back half's last sequence number
    this.#n++;
    return true;
  }

  /** Merge `k` SACKed records from position `i` into one (they are adjacent). */
  #mergeSacked(i: number, k: number): void {
    const p = this.#head + i;
    let keep = 0;
    for (let j = 0; j < k; j++) keep |= this.#c.flags[p + j] & (SB_FIN | SB_EVER_RETRANS);
    this.#c.end[p] = this.#c.end[p + k - 1];
    this.#c.flags[p] |= keep;
    const tail = this.#head + this.#n;
    this.#move(p + 1, p + k, tail - (p + k));
    this.#n -= k - 1;
  }

  /**
   * Open `by` slots at physical `p` by moving `[p, tail)` up; the new slots start as copies
   * of the record before them (the one being split), for the caller to adjust.
   */
  #shift(p: number, tail: number, by: number): void {
    this.#move(p + by, p, tail - p);
    const src = p - 1;
    for (let k = 0; k < by; k++) {
      const d = p + k;
      this.#c.start[d] = this.#c.start[src];
      this.#c.end[d] = this.#c.end[src];
      this.#c.xmit[d] = this.#c.xmit[src];
      this.#c.flags[d] = this.#c.flags[src];
      this.#c.why[d] = this.#c.why[src];
      this.#c.snapDelivered[d] = this.#c.snapDelivered[src];
      this.#c.snapTime[d] = this.#c.snapTime[src];
      this.#c.snapFirst[d] = this.#c.snapFirst[src];
      this.#c.logSerial[d] = this.#c.logSerial[src];
    }
  }

  /** Move `n` records from physical `from` to physical `to` (overlap-safe). */
  #move(to: number, from: number, n: number): void {
    if (n <= 0 || to === from) return;
    const e = from + n;
    this.#c.start.copyWithin(to, from, e);
    this.#c.end.copyWithin(to, from, e);
    this.#c.xmit.copyWithin(to, from, e);
    this.#c.flags.copyWithin(to, from, e);
    this.#c.why.copyWithin(to, from, e);
    this.#c.snapDelivered.copyWithin(to, from, e);
    this.#c.snapTime.copyWithin(to, from, e);
    this.#c.snapFirst.copyWithin(to, from, e);
    this.#c.logSerial.copyWithin(to, from, e);
  }

  /** Make room for `k` more records at the tail: compact, or grow up to the bound. */
  #room(k: number): boolean {
    if (this.#head + this.#n + k <= this.#cap) return true;
    // Compact in place only while at most half the columns are in use (or they cannot grow):
    // a compaction then moves no more records than the slots it frees, O(1) per record
    // amortised. A board held nearly full would compact every few records, moving them all.
    // At the initial size it always compacts: moving ≤ 16 records is cheap, and growing would
    // take new columns that are not pooled (a 24-segment response sent 10 at a time).
    if (
      this.#n + k <= this.#cap && this.#head > 0 &&
      (this.#n + k <= this.#cap >> 1 || this.#cap >= this.#max || this.#cap === INITIAL_RECORDS)
    ) {
      this.#move(0, this.#head, this.#n);
      this.#head = 0;
      return true;
    }
    if (this.#cap >= this.#max) return false;
    let cap = this.#cap === 0 ? INITIAL_RECORDS : this.#cap * 2;
    while (cap < this.#n + k) cap *= 2;
    if (cap > this.#max) cap = this.#max;
    if (cap < this.#n + k) return false;
    this.#grow(cap);
    return true;
  }

  /** Empty: give initial-size columns back for reuse (grown ones stay: a bulk sender regrows). */
  #release(): void {
    if (this.#cap !== INITIAL_RECORDS) return;
    if (FREE_COLUMNS.length < FREE_COLUMNS_MAX) FREE_COLUMNS.push(this.#c);
    this.#c = NO_COLUMNS;
    this.#cap = 0;
  }

  /** Reallocate for `cap` records (first use and growth only), compacting to index 0. */
  #grow(cap: number): void {
    if (this.#cap === 0 && cap === INITIAL_RECORDS) {
      const c = FREE_COLUMNS.pop();
      if (c !== undefined) {
        this.#c = c;
        this.#head = 0;
        this.#cap = cap;
        return;
      }
    }
    const o = this.#c;
    const h = this.#head;
    const e = h + this.#n;
    const c: Columns = {
      start: new Uint32Array(cap),
      end: new Uint32Array(cap),
      xmit: new Float64Array(cap),
      flags: new Uint8Array(cap),
      why: new Uint8Array(cap),
      snapDelivered: new Float64Array(cap),
      snapTime: new Float64Array(cap),
      snapFirst: new Float64Array(cap),
      logSerial: new Int32Array(cap),
    };
    c.start.set(o.start.subarray(h, e));
    c.end.set(o.end.subarray(h, e));
    c.xmit.set(o.xmit.subarray(h, e));
    c.flags.set(o.flags.subarray(h, e));
    c.why.set(o.why.subarray(h, e));
    c.snapDelivered.set(o.snapDelivered.subarray(h, e));
    c.snapTime.set(o.snapTime.subarray(h, e));
    c.snapFirst.set(o.snapFirst.subarray(h, e));
    c.logSerial.set(o.logSerial.subarray(h, e));
    this.#c = c;
    this.#head = 0;
    this.#cap = cap;
  }

  /** Take the delivery snapshot for the record at physical `p`. */
  #snap(p: number): void {
    const r = this.#rate;
    const c = this.#c;
    c.snapDelivered[p] = r.delivered;
    c.snapTime[p] = r.deliveredTimeMs;
    c.snapFirst[p] = r.firstSentMs;
  }
}

/**
 * RFC 2883 §4: is the first SACK block a D-SACK — below the cumulative ACK, or inside the
 * second block? `blocks` holds (left, right) pairs, `count` of them.
 *
 * @example
 * ```ts
 * isDsack(new Uint32Array([500, 1000]), 1, 1000); // true: already acknowledged
 * ```
 */
export function isDsack(blocks: Uint32Array, count: number, ack: number): boolean {
  return isDsackBy(blocks, count, seqDiff(ack, blocks[1]));
}

/**
 * {@link isDsack} with the cumulative ACK given as its distance past the first block's right
 * edge, `(ack − right0) | 0` (≥ 0: that block is acknowledged already): the per-ACK form. A
 * small integer, where the ACK itself (≥ 2**30) passed to a call V8 does not inline is a new
 * heap number per SACK-bearing ACK ("sack33").
 *
 * @example
 * ```ts
 * const b = new Uint32Array([500, 1000]);
 * isDsackBy(b, 1, 1000 - 1000); // true: already acknowledged
 * ```
 */
export function isDsackBy(blocks: Uint32Array, count: number, ackPastRight0: number): boolean {
  if (count === 0) return false;
  const l0 = blocks[0];
  const r0 = blocks[1];
  // Every comparison made before the answer is put together and written out: a helper called
  // is not always inlined (V8's mid tier behind an early return or `&&`), and its sequence
  // numbers are boxed. (The second block's edges are read even when there is none: the
  // answer then ignores them.)
  const ordered = ((l0 - r0) | 0) < 0; // seqLt(l0, r0)
  const acked = ackPastRight0 >= 0; // seqLe(r0, ack)
  const leftInSecond = ((l0 - blocks[2]) | 0) >= 0; // seqGe(l0, blocks[2])
  const rightInSecond = ((r0 - blocks[3]) | 0) <= 0; // seqLe(r0, blocks[3])
  return ordered && (acked || (count > 1 && leftInSecond && rightInSecond));
}
