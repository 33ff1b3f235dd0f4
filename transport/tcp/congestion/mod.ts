/**
 * Congestion control for TCP: the {@link CongestionControl} interface, the algorithms, and a
 * factory by name (what `setsockopt(TCP_CONGESTION)` and stack options select).
 *
 * @example
 * ```ts
 * import { createCongestionControl } from "./mod.ts";
 * const cc = createCongestionControl("cubic");
 * cc.init(1460, 0);
 * cc.cwnd; // 14600
 * ```
 *
 * @module
 */

import { Bbr } from "./bbr.ts";
import type { CongestionControl } from "./congestion_control.ts";
import { Cubic } from "./cubic.ts";
import { NewReno } from "./new_reno.ts";

export { Bbr, BBR_STATE_NAMES } from "./bbr.ts";
export {
  AckSample,
  type CongestionControl,
  DEFAULT_SEND_MSS,
  INFINITE_SSTHRESH,
  initialWindowBytes,
} from "./congestion_control.ts";
export { Cubic } from "./cubic.ts";
export { NewReno, type NewRenoOptions } from "./new_reno.ts";

/**
 * Names accepted by {@link createCongestionControl}: "newreno" (also Linux's "reno"),
 * "cubic" and "bbr".
 */
export const CONGESTION_CONTROL_NAMES: readonly string[] = Object.freeze([
  "newreno",
  "reno",
  "cubic",
  "bbr",
]);

/** The algorithm a stack uses unless told otherwise (as Linux: CUBIC). */
export const DEFAULT_CONGESTION_CONTROL = "cubic";

/** Names of the algorithms this build provides. */
export type CongestionControlName = "newreno" | "reno" | "cubic" | "bbr";

/**
 * True when `name` (case-insensitive) names an algorithm {@link createCongestionControl}
 * knows.
 */
export function isCongestionControlName(name: string): boolean {
  return CONGESTION_CONTROL_NAMES.includes(name.toLowerCase());
}

/** Thrown by {@link createCongestionControl} for a name it does not know. */
export class UnknownCongestionControlError extends Error {
  /** errno name Linux returns for an unknown `TCP_CONGESTION`. */
  readonly code: "ENOENT" = "ENOENT";
  /** The name asked for. */
  readonly algorithm: string;
  /** An error naming `algorithm` and listing the known names. */
  constructor(algorithm: string) {
    super(
      `unknown congestion control "${algorithm}"; available: ${
        CONGESTION_CONTROL_NAMES.join(", ")
      }`,
    );
    this.name = "UnknownCongestionControlError";
    this.algorithm = algorithm;
  }
}

/**
 * A new, initialised congestion control instance of the algorithm called `name`
 * (case-insensitive). Call `init(mss, nowMs)` on it once the connection's MSS is known.
 *
 * @throws {UnknownCongestionControlError} (code `ENOENT`) for an unknown name.
 */
export function createCongestionControl(name: CongestionControlName | string): CongestionControl {
  switch (name.toLowerCase()) {
    case "newreno":
    case "reno":
      return new NewReno();
    case "cubic":
      return new Cubic();
    case "bbr":
      return new Bbr();
    default:
      throw new UnknownCongestionControlError(name);
  }
}
