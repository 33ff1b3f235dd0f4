/**
 * A TCP receiver's syscalls per wire packet (issue 13's "≤ 0.05 syscalls per wire packet at
 * load", for the receiving side): the syscalls of the stack's thread — the driver's, two per
 * park (the poll and the eventfd read), one per blocking poll slice, every eventfd write and
 * every `sched_yield` of the busy poll (`spinYields`; before "rx13a" they were left out, and
 * at MTU 9000 they were 83 % of the thread's syscalls), as `cli/meter.ts` `dataPathDelta`
 * counts them — over the wire packets that crossed the link:
 * the segments received (bytes received ÷ MSS: a GRO super-frame counts as the wire packets it
 * was made of) plus the frames sent (the ACKs).
 *
 * Read from the `serve` text counters (`driver: …`, `loop: …` lines) or from a `uperf server`
 * JSON summary's `driver` field.
 *
 * @module
 */

/** The counters the figure is made of. */
export interface ReceiverCounters {
  /**
   * Syscalls of the stack's thread (driver, parks, blocking slices, eventfd writes, the busy
   * poll's yields).
   */
  syscalls: number;
  /** Bytes received (ring frames, headers included). */
  rxBytes: number;
  /** Frames sent. */
  txFrames: number;
}

/**
 * Syscalls per wire packet: `syscalls ÷ (rxBytes ÷ mss + txFrames)`; NaN without traffic.
 *
 * @example
 * ```ts
 * import { syscallsPerWirePacket } from "./rx_syscalls.ts";
 * syscallsPerWirePacket({ syscalls: 9, rxBytes: 8948 * 90, txFrames: 10 }, 8948); // 0.09
 * ```
 */
export function syscallsPerWirePacket(c: ReceiverCounters, mss: number): number {
  const wire = c.rxBytes / mss + c.txFrames;
  return wire > 0 ? c.syscalls / wire : NaN;
}

/**
 * The number after `name=` in a counters line (`driver: rxBytes=900 txFrames=3 …`), 0 when the
 * counter is absent (an older CLI).
 *
 * @example
 * ```ts
 * import { counterIn } from "./rx_syscalls.ts";
 * counterIn("rxBytes=900 txFrames=3", "txFrames"); // 3
 * ```
 */
export function counterIn(line: string, name: string): number {
  return Number(new RegExp(`\\b${name}=(\\d+)`).exec(line)?.[1] ?? 0);
}

/**
 * The counters out of `serve`'s final text counters (`  driver: syscalls=… rxBytes=…`,
 * `  loop: parks=… blocks=… wakes=… muxSignals=…`; a zero counter is left out of those lines
 * and reads as 0); null without a `driver:` line.
 *
 * @example
 * ```ts
 * import { countersFromServeStats } from "./rx_syscalls.ts";
 * countersFromServeStats("  driver: rxBytes=900 txFrames=3 syscalls=4\n  loop: parks=1\n");
 * // { syscalls: 6, rxBytes: 900, txFrames: 3 }
 * ```
 */
export function countersFromServeStats(stdout: string): ReceiverCounters | null {
  const line = (name: string) => new RegExp(`^\\s*${name}: (.*)$`, "m").exec(stdout)?.[1];
  const driver = line("driver");
  if (driver === undefined) return null;
  const loop = line("loop") ?? "";
  const get = counterIn;
  return {
    syscalls: get(driver, "syscalls") + 2 * get(loop, "parks") + get(loop, "blocks") +
      get(loop, "wakes") + get(loop, "muxSignals") + get(loop, "spinYields"),
    rxBytes: get(driver, "rxBytes"),
    txFrames: get(driver, "txFrames"),
  };
}
