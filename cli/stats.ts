/**
 * `ustack stats --control PATH`: the counters of a running `ustack serve --control PATH`,
 * printed like Linux's `nstat` (same names, same layout); `-d` prints the change since the
 * previous `-d` (nstat's history) with per-second rates, `--json` nstat's `-j` shape.
 *
 * @module
 */

import { queryControl } from "../mod.ts";
import { parseStrict, UsageError } from "./args.ts";
import { emit } from "./output.ts";

/** Usage of `stats`. */
export const STATS_USAGE = `usage: ustack stats --control PATH [-d] [-z] [--json]
Counters of a running 'ustack serve --control PATH', named as Linux's nstat names them
(IpInReceives, TcpActiveOpens, TcpExtListenOverflows, UdpInDatagrams, …); counters with no
Linux twin keep their group prefix (LinkInFrames, ArpInRequests, Driver…, Http80Requests).
  --control PATH   the serve process's control socket
  -d, --delta      changes since the previous 'stats -d' (first time: since start), with rates
  -z, --zeros      show counters that are zero too
  --json           {"kernel":{"IpInReceives":…}} as 'nstat -j' prints`;

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
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    emit(STATS_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (typeof values.control !== "string") throw new UsageError("--control PATH is required");
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
