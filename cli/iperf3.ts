/**
 * `ustack iperf3`: iperf3's control protocol on ustack, against the stock tool.
 *
 * ```
 * ustack iperf3 server [-p PORT] [-1] [--json] [link options]
 * ustack iperf3 client HOST [-p PORT] [-t SECS] [-P N] [-R] [-u] [-b RATE] [-l LEN] [--json]
 *                           [link options]
 * ```
 *
 * @module
 */

import { Runtime, tryParseIp } from "../mod.ts";
import {
  LINK_OPTIONS,
  LINK_USAGE,
  linkConfig,
  numberFlag,
  parseStrict,
  UsageError,
} from "./args.ts";
import { runIperf3Client } from "./iperf3_client.ts";
import { IPERF3_PORT } from "./iperf3_protocol.ts";
import { runIperf3Server } from "./iperf3_server.ts";
import { emit } from "./output.ts";

/** Usage of `iperf3`. */
export const IPERF3_USAGE = `usage: ustack iperf3 server [-p PORT] [-1] [--json] [link options]
       ustack iperf3 client HOST [-p PORT] [-t SECS] [-P N] [-R] [-u] [-b RATE] [-l LEN]
                                 [--json] [link options]
iperf3's control protocol on ustack: 'server' is measured by a stock 'iperf3 -c', 'client'
measures against a stock 'iperf3 -s'. Both print iperf3's interval lines and summaries
(--json: iperf3 -J's shape) and exit 0. The server serves one test at a time until
SIGINT/SIGTERM, or one test with -1.
  -p, --port PORT     port (${IPERF3_PORT})
  -1, --one-off       server: exit after one test
  -t, --time SECS     client: seconds to send (10)
  -P, --parallel N    client: streams (1)
  -R, --reverse       client: the server sends, the client receives
  -u, --udp           client: UDP instead of TCP
  -b, --bitrate RATE  client, UDP: bits/s per stream, K/M/G suffixes (1M; 0 = unlimited)
  -l, --length LEN    client: bytes per write or datagram, K/M suffixes (TCP 128K, UDP 1460)
${LINK_USAGE}`;

/**
 * `10M` → 10 000 000 (rates, 1000-based) or 10 485 760 (sizes, 1024-based).
 *
 * @example
 * ```ts
 * parseSuffixed("100M", 1000); // 100000000
 * ```
 */
export function parseSuffixed(text: string, base: 1000 | 1024): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT]?)$/.exec(text);
  if (m === null) return NaN;
  const exp = { "": 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase() as "" | "k" | "m" | "g" | "t"];
  return Math.round(Number(m[1]) * base ** exp);
}

/** Run `iperf3` with `args`; resolves to the exit status. */
export async function iperf3Command(args: string[]): Promise<number> {
  const { values, positionals } = parseStrict(args, {
    ...LINK_OPTIONS,
    port: { type: "string", short: "p" },
    "one-off": { type: "boolean", short: "1" },
    time: { type: "string", short: "t" },
    parallel: { type: "string", short: "P" },
    reverse: { type: "boolean", short: "R" },
    udp: { type: "boolean", short: "u" },
    bitrate: { type: "string", short: "b" },
    length: { type: "string", short: "l" },
  });
  if (values.help) {
    emit(IPERF3_USAGE);
    return 0;
  }
  const [role, host, ...rest] = positionals;
  if (role !== "server" && role !== "client") {
    throw new UsageError(
      role === undefined ? "say 'server' or 'client'" : `unknown mode '${role}'`,
    );
  }
  if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
  const port = numberFlag("port", values.port, IPERF3_PORT, { integer: true, min: 1, max: 65535 });
  const json = values.json === true;
  if (role === "server") {
    if (host !== undefined) throw new UsageError(`iperf3 server takes no HOST (got ${host})`);
    for (const f of ["time", "parallel", "reverse", "udp", "bitrate", "length"]) {
      if (values[f] !== undefined) throw new UsageError(`--${f} is a client option`);
    }
    const rt = await Runtime.start(linkConfig(values));
    try {
      return await runIperf3Server(rt, { port, oneOff: values["one-off"] === true, json });
    } finally {
      await rt.stop();
    }
  }
  if (host === undefined) throw new UsageError("iperf3 client needs a HOST");
  if (tryParseIp(host) === null) throw new UsageError(`${host}: not an IPv4 or IPv6 address`);
  if (values["one-off"] !== undefined) throw new UsageError("-1 is a server option");
  const udp = values.udp === true;
  const bandwidth = values.bitrate === undefined
    ? 1_000_000
    : parseSuffixed(String(values.bitrate), 1000);
  if (!Number.isFinite(bandwidth) || bandwidth < 0) {
    throw new UsageError(`-b ${values.bitrate}: not a rate`);
  }
  if (values.bitrate !== undefined && !udp) throw new UsageError("-b applies to UDP (-u) here");
  const len = values.length === undefined
    ? (udp ? 1460 : 131072)
    : parseSuffixed(String(values.length), 1024);
  if (!Number.isInteger(len) || len < (udp ? 16 : 1) || len > (udp ? 65507 : 16 << 20)) {
    throw new UsageError(`-l ${values.length}: out of range`);
  }
  const rt = await Runtime.start(linkConfig(values));
  try {
    return await runIperf3Client(rt, {
      host,
      port,
      json,
      protocol: udp ? "udp" : "tcp",
      time: numberFlag("time", values.time, 10, { min: 0.1, max: 86_400 }),
      parallel: numberFlag("parallel", values.parallel, 1, { integer: true, min: 1, max: 128 }),
      len,
      reverse: values.reverse === true,
      bandwidth,
      udpCounters64: false,
    });
  } finally {
    await rt.stop();
  }
}
