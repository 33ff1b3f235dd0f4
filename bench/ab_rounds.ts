/**
 * What the interleaved A/B benches (`bench/rx_ab.ts`, `bench/tx_ab.ts`) share: the median, and
 * the summary of rounds in which every configuration ran once beside kernel→kernel — per
 * configuration the median Gbit/s, every run, and the median of same-round ratios to the
 * `kernel` configuration.
 *
 * @module
 */

/** One measurement of one configuration in one round. */
export interface AbRun {
  /** Configuration name; `kernel` is the baseline of the ratios. */
  config: string;
  /** Round number. */
  round: number;
  /** Gbit/s. */
  gbps: number;
}

/**
 * Median of `xs` (mean of the middle two for an even count).
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Each configuration's rate over `runs` against `kernel` of the same round.
 *
 * @example
 * ```ts
 * abSummary([{ config: "kernel", round: 0, gbps: 10 }, { config: "ustack", round: 0, gbps: 12 }]);
 * // "ustack: median 12.00 Gbit/s, runs 12.00; same-round ratio to kernel median 1.20 (1.20)"
 * ```
 */
export function abSummary(runs: AbRun[], config: string, kernelConfig = "kernel"): string {
  const kernel = runs.filter((r) => r.config === kernelConfig);
  const mine = runs.filter((r) => r.config === config);
  const ratios = kernel.length === 0 ? [] : mine.map((r) => {
    const k = kernel.find((x) => x.round === r.round);
    return k === undefined ? NaN : r.gbps / k.gbps;
  });
  return `${config}: median ${median(mine.map((r) => r.gbps)).toFixed(2)} Gbit/s, runs ` +
    mine.map((r) => r.gbps.toFixed(2)).join(" ") +
    (config !== kernelConfig && ratios.length > 0
      ? `; same-round ratio to ${kernelConfig} median ${median(ratios).toFixed(2)} (` +
        ratios.map((x) => x.toFixed(2)).join(" ") + ")"
      : "");
}

/** `parseArgs` options every interleaved A/B bench takes (each adds its own). */
export const AB_OPTIONS = {
  mtu: { type: "string", default: "9000" },
  seconds: { type: "string", default: "4" },
  "base-cli": { type: "string", multiple: true },
  variant: { type: "string", multiple: true },
  "no-kernel": { type: "boolean", default: false },
  out: { type: "string" },
  help: { type: "boolean", default: false },
} as const;

/**
 * Usage lines of {@link AB_OPTIONS} (`--rounds` has each bench's own default); `command` is
 * what a variant's flags are added to, `example` a variant.
 */
export function abUsage(rounds: number, command: string, example: string): string {
  return `  --mtu N           link MTU (9000)
  --rounds N        rounds, every configuration once per round (${rounds})
  --seconds N       seconds each sender sends (4)
  --base-cli PATH   also run this checkout's cli/ustack.ts, interleaved (repeatable)
  --variant N=FLAGS run this checkout as configuration N with FLAGS added to ${command}, e.g.
                    "${example}" (repeatable; default one plain "ustack")
  --no-kernel       leave kernel→kernel out
  --out FILE        write every run as JSON`;
}

/** Write an A/B bench's record: the MTU and every run, as JSON. */
export async function writeAbRecord(path: string, mtu: number, runs: AbRun[]): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify({ mtu, runs }, null, 1));
}
