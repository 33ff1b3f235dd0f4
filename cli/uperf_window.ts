/**
 * `uperf client`'s window sampler: the means of a stream's TCP_INFO over a run, in the
 * summary's `window` record.
 *
 * @module
 */

import type { TcpConn } from "../mod.ts";
import { INFINITE_SSTHRESH } from "../transport/tcp/congestion/congestion_control.ts";
import { LIMIT_NAMES } from "../transport/tcp/send_limit.ts";
import { DOUBLE_ZERO } from "../core/v8_shapes.ts";

/**
 * Means of the first stream's TCP_INFO over the run (`uperf client` samples it every 20 ms):
 * what the window was (in segments), how much of it was in flight, the RTT, the share of samples
 * taken in a window reduction — comparable with `ss -tin` of a kernel sender — and the send
 * buffer: its size, its fill (unacknowledged + unsent), the peer's window, and the share of
 * samples in which it was too full for the writer to be woken; the delivery rate, the minimum
 * RTT and the share of samples with cwnd full (less than a segment of it free).
 *
 * ssthresh is averaged over the samples where it is set (below {@link INFINITE_SSTHRESH}: after
 * the first reduction; never for BBR), as `ss` prints it only then; `ssthreshShare` says how
 * many those were, and `ssthreshSegs` is null without any.
 *
 * @example
 * ```ts ignore
 * const w = new WindowSampler();
 * setInterval(() => w.sample(conn), 20);
 * w.summary(); // { samples, cwndSegs, ssthreshSegs, ssthreshShare, … }
 * ```
 */
export class WindowSampler {
  // The sums start as doubles (fractional segments, rates and buffer bytes past 2^31): a sum
  // turning double mid-run changed the sampler's map and dropped `sample`'s code (tx13i).
  /** Samples taken. */
  samples = 0;
  #cwnd = DOUBLE_ZERO;
  #ssthresh = DOUBLE_ZERO;
  #ssthreshSamples = 0;
  #inflight = DOUBLE_ZERO;
  #srtt = DOUBLE_ZERO;
  #pacing = DOUBLE_ZERO;
  #reducing = 0;
  #sndBuf = DOUBLE_ZERO;
  #sndQueued = DOUBLE_ZERO;
  #sndWnd = DOUBLE_ZERO;
  #sndBufFull = 0;
  #delivery = DOUBLE_ZERO;
  #minRtt = DOUBLE_ZERO;
  #cwndFull = 0;
  /** Samples per TCP_INFO `sendLimit` class. */
  readonly #limits = new Map<string, number>();
  #limitSamples = 0;

  /** Take one sample of `conn` (none before it has an RTT). */
  sample(conn: Pick<TcpConn, "info"> | undefined): void {
    if (conn === undefined) return;
    const i = conn.info();
    if (i.srttMs <= 0 || i.mss <= 0) return;
    this.samples++;
    this.#cwnd += i.cwnd / i.mss;
    if (i.ssthresh < INFINITE_SSTHRESH) {
      this.#ssthresh += i.ssthresh / i.mss;
      this.#ssthreshSamples++;
    }
    this.#inflight += i.inflight / i.mss;
    this.#srtt += i.srttMs;
    this.#pacing += i.pacingRate;
    if (i.caState !== "Open" && i.caState !== "Disorder") this.#reducing++;
    this.#sndBuf += i.sndBufBytes;
    this.#sndQueued += i.sndQueued;
    this.#sndWnd += i.sndWnd;
    // Full enough that the writer is not woken (writable needs free >= half of queued).
    if (2 * (i.sndBufBytes - i.sndQueued) < i.sndQueued) this.#sndBufFull++;
    this.#delivery += i.deliveryRate;
    this.#minRtt += i.minRttMs;
    if (i.inflight + i.mss > i.cwnd) this.#cwndFull++;
    if (i.sendLimit !== undefined) {
      this.#limits.set(i.sendLimit, (this.#limits.get(i.sendLimit) ?? 0) + 1);
      this.#limitSamples++;
    }
  }

  /**
   * The share of the samples in each class of TCP_INFO's `sendLimit` (cwnd, pacing, rwnd,
   * sndbuf, app, idle, due: `send_limit.ts`; every class, 0 where none), or null without one.
   */
  limitedShares(): Record<string, number> | null {
    const n = this.#limitSamples;
    if (n === 0) return null;
    const out: Record<string, number> = {};
    for (const k of LIMIT_NAMES) {
      out[k] = Math.round(((this.#limits.get(k) ?? 0) / n) * 1000) / 1000;
    }
    return out;
  }

  /** The means (null without samples). */
  summary(): Record<string, number | Record<string, number> | null> | null {
    const n = this.samples;
    if (n === 0) return null;
    const r = (x: number, d = 100) => Math.round((x / n) * d) / d;
    return {
      samples: n,
      cwndSegs: r(this.#cwnd),
      ssthreshSegs: this.#ssthreshSamples > 0
        ? Math.round((this.#ssthresh / this.#ssthreshSamples) * 100) / 100
        : null,
      ssthreshShare: r(this.#ssthreshSamples),
      inflightSegs: r(this.#inflight),
      srttMs: r(this.#srtt, 1000),
      pacingGbps: r(this.#pacing * 8 / 1e9),
      reducingShare: r(this.#reducing),
      sndBufKB: r(this.#sndBuf / 1024, 1),
      sndQueuedKB: r(this.#sndQueued / 1024, 1),
      sndWndKB: r(this.#sndWnd / 1024, 1),
      sndBufFullShare: r(this.#sndBufFull),
      deliveryGbps: r(this.#delivery * 8 / 1e9),
      minRttMs: r(this.#minRtt, 1000),
      cwndFullShare: r(this.#cwndFull),
      limitedShare: this.limitedShares(),
    };
  }
}
