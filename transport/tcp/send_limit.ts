/**
 * What held a sender back, by time (Linux's `tcp_chrono_*`, with more classes): each output
 * pass ends for one reason — the congestion window is used up, the pacer's release time has
 * not come, the peer's window is closed, there is nothing more to send — and the time until
 * the next pass ends is counted to it. `TCP_INFO` shows the totals (`sendLimitedMs`), so a
 * benchmark can say whether a flow was cwnd-, pacing-, receive-window- or send-buffer-limited,
 * or waiting for its application.
 *
 * One `Float64Array` holds the totals and the current class's start: recording a pass is an
 * array store, no heap number per segment.
 *
 * @module
 */

/** Output stopped on the congestion window (or deferred a sliver it would have allowed). */
export const LIMIT_CWND = 0;
/** Output stopped on the pacer's release time, the windows open. */
export const LIMIT_PACING = 1;
/** Output stopped on the peer's receive window. */
export const LIMIT_RWND = 2;
/**
 * Nothing left to send, data in flight, and the send buffer too full for the writer to be
 * woken: the buffer holds no more than what is unacknowledged (Linux `tcpi_sndbuf_limited`).
 */
export const LIMIT_SNDBUF = 3;
/** Nothing left to send, data in flight, room in the send buffer: the application is slow. */
export const LIMIT_APP = 4;
/** Nothing in flight and nothing to send. */
export const LIMIT_IDLE = 5;
/** Anything else: Nagle, sender SWS, cork, a full ring or scoreboard. */
export const LIMIT_OTHER = 6;
/** Class names, indexed by `LIMIT_*`: the keys of {@link SendLimit.totals}. */
export const LIMIT_NAMES: readonly string[] = Object.freeze([
  "cwnd",
  "pacing",
  "rwnd",
  "sndbuf",
  "app",
  "idle",
  "other",
]);
const N = LIMIT_NAMES.length;

/**
 * Time per limiting class of one sender.
 *
 * @example
 * ```ts
 * import { LIMIT_CWND, LIMIT_PACING, SendLimit } from "./send_limit.ts";
 * const l = new SendLimit();
 * l.enter(LIMIT_CWND, 10);
 * l.enter(LIMIT_PACING, 12); // 2 ms were cwnd-limited
 * l.totals(15); // { cwnd: 2, pacing: 3, rwnd: 0, sndbuf: 0, app: 0, idle: 0, other: 0 }
 * ```
 */
export class SendLimit {
  /** Totals per class (ms, `0..N-1`), then the current class's start (`N`). */
  readonly #ms = new Float64Array(N + 1);
  /** The class of the last output pass (idle before the first). */
  #cur = LIMIT_IDLE;
  #started = false;

  /** The class the last output pass ended in (a `LIMIT_*`). */
  get current(): number {
    return this.#cur;
  }

  /** An output pass ended at `nowMs` for reason `limit` (a `LIMIT_*`). */
  enter(limit: number, nowMs: number): void {
    const ms = this.#ms;
    if (!this.#started) {
      this.#started = true;
      this.#cur = limit;
      ms[N] = nowMs;
      return;
    }
    if (limit === this.#cur) return;
    ms[this.#cur] += nowMs - ms[N];
    ms[N] = nowMs;
    this.#cur = limit;
  }

  /** The totals up to `nowMs` per class name (ms; the current class counted to `nowMs`). */
  totals(nowMs: number): Record<string, number> {
    const ms = this.#ms;
    const out: Record<string, number> = {};
    for (let i = 0; i < N; i++) {
      let t = ms[i];
      if (this.#started && i === this.#cur && nowMs > ms[N]) t += nowMs - ms[N];
      out[LIMIT_NAMES[i]] = t;
    }
    return out;
  }
}
