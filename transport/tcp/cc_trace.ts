/**
 * A fixed-memory record of a sender's window, one record per ACK that reached congestion
 * control: when, cwnd, ssthresh, the bytes sent and not yet cumulatively acknowledged
 * (SND.NXT − SND.UNA, what Linux's `tcp:tcp_probe` tracepoint shows as `snd_nxt − snd_una`),
 * the RFC 6675 pipe, the bytes the ACK acknowledged cumulatively and delivered in all, the
 * recovery state (Linux's `TCP_CA_*` numbers) with the cwnd-limited mark, and the SRTT.
 *
 * Attached to a sender (`loss.ccTrace = new CcTrace(n)`) it lets the stack's window be
 * compared ACK by ACK with a kernel sender's (`bench/cc_trace.ts`): loss episodes, the
 * reduction per episode, how long recovery lasts, how cwnd grows between two losses.
 * Records are {@link CC_TRACE_FIELDS} numbers in one `Float64Array` ring (the oldest are
 * overwritten once it is full); recording allocates nothing.
 *
 * @module
 */

import { RecordRing } from "../../core/record_ring.ts";

/** Numbers per record: see {@link CC_TRACE_FIELD_NAMES}. */
export const CC_TRACE_FIELDS = 10;

/**
 * The fields of a record, in order: time (ms, the stack's clock), cwnd, ssthresh, unacked
 * (SND.NXT − SND.UNA), pipe, acked and delivered (bytes), state (`TCP_CA_*`, plus 16 when
 * the ACK counted as cwnd-limited), SRTT (ms), and the window reductions started so far
 * (an ACK that ends one reduction and starts the next shows no state change, only this).
 */
export const CC_TRACE_FIELD_NAMES: readonly string[] = [
  "timeMs",
  "cwnd",
  "ssthresh",
  "unacked",
  "pipe",
  "acked",
  "delivered",
  "state",
  "srttMs",
  "reductions",
];

/** Added to a record's state when the ACK counted as cwnd-limited (RFC 7661). */
export const CC_TRACE_CWND_LIMITED = 16;

/**
 * The ring of per-ACK window records.
 *
 * @example
 * ```ts
 * import { CcTrace } from "./cc_trace.ts";
 * const t = new CcTrace(4);
 * t.record(1.5, 14480, 10136, 14480, 13032, 2896, 2896, 0, 0.05, 0);
 * t.length; // 1
 * t.snapshot()[1]; // 14480
 * ```
 */
export class CcTrace extends RecordRing {
  /**
   * A ring of `capacity` records (80 bytes each).
   *
   * @throws {RangeError} if `capacity` is not a whole number ≥ 1.
   */
  constructor(capacity: number) {
    super("CcTrace", capacity, CC_TRACE_FIELDS);
  }

  /** Add a record (overwrites the oldest once full). */
  record(
    timeMs: number,
    cwnd: number,
    ssthresh: number,
    unacked: number,
    pipe: number,
    acked: number,
    delivered: number,
    state: number,
    srttMs: number,
    reductions: number,
  ): void {
    const i = this.slot();
    const d = this.data;
    d[i] = timeMs;
    d[i + 1] = cwnd;
    d[i + 2] = ssthresh;
    d[i + 3] = unacked;
    d[i + 4] = pipe;
    d[i + 5] = acked;
    d[i + 6] = delivered;
    d[i + 7] = state;
    d[i + 8] = srttMs;
    d[i + 9] = reductions;
  }
}
