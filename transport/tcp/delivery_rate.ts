/**
 * Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation-02): how fast the
 * network delivered our data, sampled on every ACK that delivers something, as BBR needs and
 * TCP_INFO reports.
 *
 * Each transmission takes a snapshot of the connection's delivery state ({@link
 * DeliveryRate.delivered}, its time, the send time of the first packet of the current flight
 * and whether the sender was application-limited). When an ACK (cumulative or SACK) delivers
 * a transmission, the snapshot of the most recently sent one of the transmissions it
 * delivers becomes the sample's start: the sample is the data delivered since then over the
 * longer of the send interval and the ACK interval (§3.3 — the longer one, so that ACK
 * compression cannot inflate the rate).
 *
 * Times are in ms (fractional), sizes in bytes, rates in bytes per ms. Nothing is allocated:
 * the sample is the fields of one {@link RateSample} shared by every connection, rewritten by
 * every ACK (an idle connection keeps only its counters).
 *
 * @module
 */

import { DOUBLE_ZERO } from "../../core/v8_shapes.ts";

/** The one-row columns {@link DeliveryRate.onDelivered} passes its numbers in. */
const ROW_DELIVERED = new Float64Array(1);
const ROW_TIME = new Float64Array(1);
const ROW_FIRST = new Float64Array(1);
const ROW_SENT = new Float64Array(1);
/** The ACK's time and min_RTT as {@link DeliveryRate.onDelivered} and `endAck` pass them. */
const ROW_ACK: AckTimes = { now: DOUBLE_ZERO, minRtt: DOUBLE_ZERO };

/**
 * The times of the ACK being processed, read from a record rather than passed as numbers: a
 * fractional time crossing a call V8 does not inline is a new heap number per call (the
 * scoreboard's ACK record, `AckResults`, is one).
 */
export interface AckTimes {
  /** The ACK's time (ms). */
  readonly now: number;
  /** RACK.min_RTT when the ACK began (ms). */
  readonly minRtt: number;
}

/**
 * The rate sample of one ACK (RS.*, draft §3.3): written by {@link DeliveryRate.beginAck},
 * `onDelivered*` and {@link DeliveryRate.endAck}, read while the ACK is processed. One record
 * serves every connection ({@link DeliveryRate.sample}): an ACK is processed whole before the
 * next one begins.
 *
 * @example
 * ```ts
 * const r = new DeliveryRate();
 * r.beginAck();
 * r.sample.rateBytesPerMs; // -1: no sample yet
 * ```
 */
export class RateSample {
  /** RS.prior_delivered: `delivered` when the sample's newest packet was sent; -1: none. */
  priorDelivered = DOUBLE_ZERO;
  /** RS.prior_time: `deliveredTimeMs` then. */
  priorTimeMs = DOUBLE_ZERO;
  /** RS.send_elapsed: time the sample's newest packet took to send since its flight began. */
  sendElapsedMs = DOUBLE_ZERO;
  /** RS.ack_elapsed: time from `priorTimeMs` to this ACK. */
  ackElapsedMs = DOUBLE_ZERO;
  /** RS.is_app_limited: the sample's newest packet was sent while application-limited. */
  isAppLimited = false;
  /** RS.delivered: bytes delivered over the sample's interval. */
  sampleDelivered = DOUBLE_ZERO;
  /** RS.interval: the sample's interval in ms (the longer of send and ACK elapsed). */
  intervalMs = DOUBLE_ZERO;
  /** RS.delivery_rate in bytes per ms; -1 when this ACK gives no valid sample. */
  rateBytesPerMs = DOUBLE_ZERO;
  /** Send time of the sample's newest packet (which of two equal snapshots is newer). */
  newestSentMs = -Infinity;

  /**
   * Every number starts as a double (DOUBLE_ZERO) and is set here: the one record of the
   * process took its first fractional times and a total from a double column in a sender's
   * first ACKs, a new map for the code that had read it (bench/README.md, `deopt11l`).
   */
  constructor() {
    this.priorDelivered = this.rateBytesPerMs = -1;
    this.priorTimeMs = this.sendElapsedMs = this.ackElapsedMs = 0;
    this.sampleDelivered = this.intervalMs = 0;
  }
}

/** The sample of the ACK being processed, shared by every connection (one thread). */
const SAMPLE = new RateSample();

/**
 * The connection's delivery counters and the latest rate sample.
 *
 * @example
 * ```ts
 * const r = new DeliveryRate();
 * r.onSend(0, true); // first packet of a flight at t = 0
 * const snap = [r.delivered, r.deliveredTimeMs, r.firstSentMs, r.appLimitedNow];
 * r.beginAck();
 * r.onDelivered(14480, snap[0], snap[1], snap[2], 0, false, 10);
 * r.endAck(1);
 * r.rateBytesPerMs; // 1448: 14480 bytes over 10 ms
 * ```
 */
export class DeliveryRate {
  /**
   * C.delivered: bytes delivered (cumulatively ACKed or SACKed) over the connection's life. A
   * double from the first object (as `appLimitedUntil`): it passes 2^31 ~0.5 s into a 35 Gbit/s
   * stream, and turning double then changed the map of every connection's record and dropped
   * the per-ACK code that reads it ("wrong map": bench/README.md, "tx13i").
   */
  delivered: number = DOUBLE_ZERO;
  /**
   * C.delivered_time: when `delivered` last grew (ms). The two times and the reported rate are
   * doubles from the first object too: they took their first fractional values at a sender's
   * first send and ACKs, a new map for code optimised on another connection's record
   * (`onDeliveredAt`'s "wrong map", bench/README.md, `deopt11l`).
   */
  deliveredTimeMs: number = DOUBLE_ZERO;
  /** C.first_sent_time: send time of the first packet of the current sampling interval. */
  firstSentMs: number = DOUBLE_ZERO;
  /** C.app_limited: 0, or the `delivered` mark until which samples are application-limited. */
  appLimitedUntil: number = DOUBLE_ZERO;
  /** Bytes marked lost over the connection's life (C.lost, for BBR's loss accounting). */
  lost = 0;

  /**
   * The two totals start as doubles holding -0 and are set to +0 here: a second store makes
   * them mutable fields from the first object too, so the first application-limited mark of
   * a run (mid-run) no longer changes their constness and drops the code that reads them.
   */
  constructor() {
    this.delivered = 0;
    this.appLimitedUntil = 0;
    this.deliveredTimeMs = this.firstSentMs = this.reportedBytesPerMs = 0;
  }

  /**
   * The rate TCP_INFO reports (bytes per ms; 0 before one): the last valid sample that was not
   * application-limited, or an application-limited one that was higher (Linux `tcp_rate_gen`'s
   * `rate_delivered` / `rate_interval_us`). Most ACKs give no sample of their own (an interval
   * shorter than the minimum RTT, nothing newly delivered): {@link DeliveryRate.rateBytesPerMs}
   * is -1 after them, which a reader sampling between ACKs would take for "no delivery".
   */
  reportedBytesPerMs: number = DOUBLE_ZERO;
  /** {@link DeliveryRate.reportedBytesPerMs} came from an application-limited sample. */
  reportedAppLimited = false;
  /**
   * The rate sample of the ACK being processed (RS.*, §3.3): one record shared by every
   * connection of the process (one ACK at a time on the one thread), rewritten from
   * {@link DeliveryRate.beginAck} to {@link DeliveryRate.endAck} — read it during the ACK. Kept
   * in each connection it cost every idle connection nine fields and a heap number
   * (bench/README.md, branch held9d).
   */
  get sample(): RateSample {
    return SAMPLE;
  }
  /** RS.prior_delivered of the current ACK's sample ({@link RateSample.priorDelivered}). */
  get priorDelivered(): number {
    return SAMPLE.priorDelivered;
  }
  /** RS.prior_time of the current ACK's sample. */
  get priorTimeMs(): number {
    return SAMPLE.priorTimeMs;
  }
  /** RS.send_elapsed of the current ACK's sample. */
  get sendElapsedMs(): number {
    return SAMPLE.sendElapsedMs;
  }
  /** RS.ack_elapsed of the current ACK's sample. */
  get ackElapsedMs(): number {
    return SAMPLE.ackElapsedMs;
  }
  /** RS.is_app_limited of the current ACK's sample. */
  get isAppLimited(): boolean {
    return SAMPLE.isAppLimited;
  }
  /** RS.delivered of the current ACK's sample. */
  get sampleDelivered(): number {
    return SAMPLE.sampleDelivered;
  }
  /** RS.interval of the current ACK's sample (ms). */
  get intervalMs(): number {
    return SAMPLE.intervalMs;
  }
  /** RS.delivery_rate of the current ACK (bytes per ms); -1 when it gives no valid sample. */
  get rateBytesPerMs(): number {
    return SAMPLE.rateBytesPerMs;
  }

  /** The snapshot a transmission records is read from the fields after this call. */
  onSend(nowMs: number, nothingInFlight: boolean): void {
    // §3.2: a new flight starts its sampling interval now.
    if (nothingInFlight) {
      this.firstSentMs = nowMs;
      this.deliveredTimeMs = nowMs;
    }
  }

  /** True when transmissions sent now are application-limited (their snapshot flag). */
  get appLimitedNow(): boolean {
    return this.appLimitedUntil !== 0;
  }

  /**
   * §3.4: the application has nothing to send while the windows would allow more: samples
   * until what is in flight (`inflightBytes`) is delivered are application-limited.
   */
  markAppLimited(inflightBytes: number): void {
    const mark = this.delivered + inflightBytes;
    this.appLimitedUntil = mark > 0 ? mark : 1;
  }

  /** Start processing an ACK: no sample yet. */
  beginAck(): void {
    const rs = SAMPLE;
    rs.priorDelivered = -1;
    rs.rateBytesPerMs = -1;
    rs.newestSentMs = -Infinity;
  }

  /**
   * One transmission of `bytes` was delivered by this ACK at `nowMs`; its snapshot was
   * (`delivered`, `deliveredTimeMs`, `firstSentMs`) and it was sent at `sentMs`
   * (`appLimited` when sent application-limited). §3.3 "UpdateRateSample".
   */
  onDelivered(
    bytes: number,
    snapDelivered: number,
    snapDeliveredTimeMs: number,
    snapFirstSentMs: number,
    sentMs: number,
    appLimited: boolean,
    nowMs: number,
  ): void {
    ROW_DELIVERED[0] = snapDelivered;
    ROW_TIME[0] = snapDeliveredTimeMs;
    ROW_FIRST[0] = snapFirstSentMs;
    ROW_SENT[0] = sentMs;
    (ROW_ACK as { now: number }).now = nowMs;
    this.onDeliveredAt(bytes, ROW_DELIVERED, ROW_TIME, ROW_FIRST, ROW_SENT, 0, appLimited, ROW_ACK);
  }

  /**
   * {@link DeliveryRate.onDelivered} of row `i` of a scoreboard's columns: its snapshot
   * (`deliveredCol`, `timeCol`, `firstCol`) and send time (`sentCol`) are read there. The
   * scoreboard's form: the snapshot's numbers (fractional times, a byte count that passes
   * 2**30) passed one by one to a call V8 does not inline would be new heap numbers per
   * delivered transmission; the ACK's time is read from `ack` for the same reason.
   */
  onDeliveredAt(
    bytes: number,
    deliveredCol: Float64Array,
    timeCol: Float64Array,
    firstCol: Float64Array,
    sentCol: Float64Array,
    i: number,
    appLimited: boolean,
    ack: AckTimes,
  ): void {
    const nowMs = ack.now;
    const snapDelivered = deliveredCol[i];
    const snapDeliveredTimeMs = timeCol[i];
    const snapFirstSentMs = firstCol[i];
    const sentMs = sentCol[i];
    const rs = SAMPLE;
    this.delivered += bytes;
    this.deliveredTimeMs = nowMs;
    // The most recently sent transmission this ACK delivers starts the sample.
    if (
      snapDelivered > rs.priorDelivered ||
      (snapDelivered === rs.priorDelivered && sentMs > rs.newestSentMs)
    ) {
      rs.priorDelivered = snapDelivered;
      rs.priorTimeMs = snapDeliveredTimeMs;
      rs.isAppLimited = appLimited;
      rs.sendElapsedMs = sentMs - snapFirstSentMs;
      rs.ackElapsedMs = nowMs - snapDeliveredTimeMs;
      rs.newestSentMs = sentMs;
      // The next sample's send interval starts at this packet's send time.
      this.firstSentMs = sentMs;
    }
  }

  /**
   * Finish the ACK: compute the sample (§3.3 "GenerateRateSample"). Intervals shorter than
   * `minRttMs` are not trusted (they would overestimate) and give no sample.
   */
  endAck(minRttMs: number): void {
    (ROW_ACK as { minRtt: number }).minRtt = minRttMs;
    this.endAckFrom(ROW_ACK);
  }

  /** {@link DeliveryRate.endAck} with min_RTT read from `ack.minRtt`: no number passed. */
  endAckFrom(ack: AckTimes): void {
    const minRttMs = ack.minRtt;
    // §3.4: leave the application-limited phase once its data was delivered.
    if (this.appLimitedUntil !== 0 && this.delivered > this.appLimitedUntil) {
      this.appLimitedUntil = 0;
    }
    const rs = SAMPLE;
    if (rs.priorDelivered < 0) return;
    rs.sampleDelivered = this.delivered - rs.priorDelivered;
    // Math.max, not `?:`: the interval (fractional) merged from two branches was a new heap
    // number per ACK in V8's mid tier ("dbl34").
    const interval = Math.max(rs.sendElapsedMs, rs.ackElapsedMs);
    rs.intervalMs = interval;
    if (!(interval > 0) || interval < minRttMs) return;
    const rate = rs.sampleDelivered / interval;
    rs.rateBytesPerMs = rate;
    if (!rs.isAppLimited || rate >= this.reportedBytesPerMs) {
      this.reportedBytesPerMs = rate;
      this.reportedAppLimited = rs.isAppLimited;
    }
  }
}
