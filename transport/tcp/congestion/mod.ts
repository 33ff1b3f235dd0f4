/**
 * Congestion control for TCP: the {@link CongestionControl} interface, the algorithms, and a
 * factory by name (what `setsockopt(TCP_CONGESTION)` and stack options select).
 *
 * @example
 * ```ts
 * import { createCongestionControl } from "./mod.ts";
 * const cc = createCongestionControl("newreno");
 * cc.init(1460, 0);
 * cc.cwnd; // 14600
 * ```
 *
 * @module
 */

import type { CongestionControl } from "./congestion_control.ts";
import { NewReno } from "./new_reno.ts";

export {
  type CongestionControl,
  DEFAULT_SEND_MSS,
  INFINITE_SSTHRESH,
  initialWindowBytes,
} from "./congestion_control.ts";
export { NewReno, type NewRenoOptions } from "./new_reno.ts";

/** Names accepted by {@link createCongestionControl}; "reno" is Linux's name for NewReno. */
export const CONGESTION_CONTROL_NAMES: readonly string[] = Object.freeze(["newreno", "reno"]);

/** Names of the algorithms this build provides. */
export type CongestionControlName = "newreno" | "reno";

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
    default:
      throw new UnknownCongestionControlError(name);
  }
}
