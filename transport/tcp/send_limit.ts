/**
 * What holds a sender back (Linux's `tcp_chrono_*` classes, and more): the congestion window
 * is used up, the pacer's release time has not come, the peer's window is closed, all of a
 * full send buffer is in flight, there is nothing more to send. `TcpSender.sendLimitNow`
 * judges the class from the state the next output pass would find; `TCP_INFO` shows it
 * (`sendLimit`), and `uperf` samples it every 20 ms, so a benchmark can say whether a flow was
 * cwnd-, pacing-, receive-window- or send-buffer-limited, or waiting for its application.
 *
 * (A clock per output pass was tried first — time per class, exact — and measured: CUBIC under
 * 1 % loss, whose stack thread is CPU-bound, made 0.92× `main` in rounds where the same build
 * without it made 1.01×. Sampling costs the data path nothing.)
 *
 * @module
 */

/** Output would stop on the congestion window. */
export const LIMIT_CWND = 0;
/** Output would stop on the pacer's release time, the congestion window open. */
export const LIMIT_PACING = 1;
/** Output would stop on the peer's receive window. */
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
/**
 * Nothing in the windows or the pacer holds data back: an output pass is due (read between
 * ticks, the loop has not run it yet), or Nagle, sender SWS or cork hold a short segment.
 */
export const LIMIT_DUE = 6;
/** Class names, indexed by `LIMIT_*` (TCP_INFO's `sendLimit`). */
export const LIMIT_NAMES: readonly string[] = Object.freeze([
  "cwnd",
  "pacing",
  "rwnd",
  "sndbuf",
  "app",
  "idle",
  "due",
]);
