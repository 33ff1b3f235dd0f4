/**
 * `ustack stats --control PATH`: the counters of a running `ustack serve --control PATH`,
 * printed like Linux's `nstat` (same names, same layout); `-d` prints the change since the
 * previous `-d` (nstat's history) with per-second rates, `--json` nstat's `-j` shape.
 *
 * @module
 */

import { type LatencySummary, queryControl } from "../mod.ts";
import { parseStrict, UsageError } from "./args.ts";
import { emit } from "./output.ts";

/** Usage of `stats`. */
export const STATS_USAGE = `usage: ustack stats --control PATH [-d] [-z] [--rtt [--reset]] [--json]
Counters of a running 'ustack serve --control PATH', named as Linux's nstat names them
(IpInReceives, TcpActiveOpens, TcpExtListenOverflows, UdpInDatagrams, …); counters with no
Linux twin keep their group prefix (LinkInFrames, ArpInRequests, Driver…, Http80Requests).
  --control PATH   the serve process's control socket
  -d, --delta      changes since the previous 'stats -d' (first time: since start), with rates
  -z, --zeros      show counters that are zero too
  --rtt            the distribution of every TCP RTT sample instead (count, min, mean,
                   p50/p90/p99/p99.9, max in µs); --reset clears it after reading
  --json           {"kernel":{"IpInReceives":…}} as 'nstat -j' prints ({"rtt":{…}} with --rtt)`;

/**
 * nstat's text lines for `counters` (`rateOver` seconds gives the rate column).
 *
 * @example
 * ```ts
 * formatNstat({ IpInReceives: 10 }, 2); // ["#kernel", "IpInReceives   …   10   5.0"]
 * ```
 */
export function formatNstat(counters: Record<string, number>, rateOver: number): string[] {
  const lines = ["#kernel"];
  for (const [name, value] of Object.entries(counters)) {
    const rate = rateOver > 0 ? value / rateOver : 0;
    lines.push(`${name.padEnd(32)}${String(value).padEnd(19)}${rate.toFixed(1)}`);
  }
  return lines;
}

/** Run `stats` with `args`; resolves to the exit status. */
export async function statsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseStrict(args, {
    control: { type: "string" },
    delta: { type: "boolean", short: "d" },
    zeros: { type: "boolean", short: "z" },
    json: { type: "boolean" },
    rtt: { type: "boolean" },
    reset: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    emit(STATS_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (typeof values.control !== "string") throw new UsageError("--control PATH is required");
  if (values.rtt === true) {
    return await rttCommand(values.control, values.reset === true, values.json === true);
  }
  if (values.reset === true) throw new UsageError("--reset goes with --rtt");
  const delta = values.delta === true;
  const reply = await queryControl(values.control, { cmd: "stats", delta });
  const counters: Record<string, number> = {};
  for (const [k, v] of Object.entries(reply.counters as Record<string, number>)) {
    if (v !== 0 || values.zeros === true) counters[k] = v;
  }
  if (values.json === true) emit(JSON.stringify({ kernel: counters }));
  else for (const line of formatNstat(counters, delta ? reply.seconds : 0)) emit(line);
  return 0;
}

/**
 * The text line of an RTT summary.
 *
 * @example
 * ```ts
 * formatRtt({ count: 3, minUs: 40, meanUs: 52.3, p50Us: 50, p90Us: 60, p99Us: 70, p999Us: 70, maxUs: 70 });
 * // "rtt samples 3 min 40 mean 52.3 p50 50 p90 60 p99 70 p99.9 70 max 70 (µs)"
 * ```
 */
export function formatRtt(s: LatencySummary): string {
  return `rtt samples ${s.count} min ${s.minUs} mean ${s.meanUs} p50 ${s.p50Us} p90 ${s.p90Us} ` +
    `p99 ${s.p99Us} p99.9 ${s.p999Us} max ${s.maxUs} (µs)`;
}

/** `stats --rtt`: the stack-wide TCP RTT distribution. */
async function rttCommand(path: string, reset: boolean, json: boolean): Promise<number> {
  const reply = await queryControl(path, { cmd: "rtt", reset });
  const rtt = reply.rtt as LatencySummary;
  emit(json ? JSON.stringify({ rtt }) : formatRtt(rtt));
  return 0;
}
