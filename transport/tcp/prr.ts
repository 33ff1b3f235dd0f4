/**
 * Proportional Rate Reduction (RFC 6937): how much may be sent on each ACK during a window
 * reduction (fast recovery, an ECN or TLP response), so that the window comes down to
 * `ssthresh` smoothly — in proportion to what the receiver reports delivered — instead of
 * stopping for half an RTT and then bursting.
 *
 * While `pipe > ssthresh` (proportional part): `sndcnt = ⌈prr_delivered · ssthresh /
 * RecoverFS⌉ − prr_out`. Once `pipe ≤ ssthresh`, the slow-start reduction bound (PRR-SSRB)
 * lets the window grow back toward ssthresh by at most one segment more than was delivered:
 * `sndcnt = min(ssthresh − pipe, max(prr_delivered − prr_out, DeliveredData) + MSS)`. As
 * Linux does, the first ACK of a reduction may always send one segment (the fast
 * retransmit). The sender uses `cwnd = pipe + sndcnt` until the reduction ends.
 *
 * @module
 */

/**
 * PRR state of one reduction episode.
 *
 * @example
 * ```ts
 * const prr = new Prr();
 * prr.start(20000);                            // RecoverFS: 20 segments of 1000 in flight
 * prr.onAck(1000, 18000, 10000, 1000);         // 1000 delivered, pipe 18000, ssthresh 10000
 * prr.sndcnt;                                  // 1000: ⌈1000·10000/20000⌉ − 0 = 500 → one MSS
 * ```
 */
export class Prr {
  /** RecoverFS: what was in flight when the reduction started. */
  recoverFs = 0;
  /** prr_delivered: bytes delivered since it started. */
  delivered = 0;
  /** prr_out: bytes sent since it started. */
  out = 0;
  /** Bytes the last ACK allows to send. */
  sndcnt = 0;

  /** A reduction starts with `recoverFs` bytes in flight. */
  start(recoverFs: number): void {
    this.recoverFs = recoverFs > 0 ? recoverFs : 1;
    this.delivered = 0;
    this.out = 0;
    this.sndcnt = 0;
  }

  /**
   * An ACK during the reduction delivered `deliveredData` bytes (RFC 6937 DeliveredData);
   * `pipe` is RFC 6675's pipe after it. Sets {@link Prr.sndcnt}.
   */
  onAck(deliveredData: number, pipe: number, ssthresh: number, mss: number): void {
    this.delivered += deliveredData;
    let sndcnt: number;
    if (pipe > ssthresh) {
      // Proportional rate reduction.
      sndcnt = Math.ceil((this.delivered * ssthresh) / this.recoverFs) - this.out;
    } else {
      // PRR-SSRB: grow back to ssthresh, at most one segment beyond what was delivered.
      const d = this.delivered - this.out;
      const limit = (d > deliveredData ? d : deliveredData) + mss;
      const room = ssthresh - pipe;
      sndcnt = room < limit ? room : limit;
    }
    // Linux tcp_cwnd_reduction: the reduction's first ACK always sends one segment.
    if (sndcnt < mss && this.out === 0 && deliveredData > 0) sndcnt = mss;
    // Send whole segments: a fraction of one would be held by the sender anyway.
    if (sndcnt > 0 && sndcnt < mss && deliveredData > 0) sndcnt = mss;
    this.sndcnt = sndcnt > 0 ? sndcnt : 0;
  }

  /** `bytes` were sent (new data or retransmitted) during the reduction. */
  onSent(bytes: number): void {
    this.out += bytes;
  }
}
