/**
 * `bench/mixed_load.ts`: the stack's memory under mixed load for a while, as the many-clients
 * issue measured it. `ustack serve --http 80 --tcp-echo 7 --udp-echo 7` on the stack end; from
 * the kernel peer, rounds of: `ab -n ROUND -c 32` (a new connection per request), `wrk` keep-
 * alive for 2 s, a 20 MB download with curl (checked byte-exact by length), 200 UDP echoes and a
 * few pings. The server's RSS is sampled after every round; the figures are RSS over time,
 * the growth after warm-up (the first `--warmup` seconds) and the peak.
 *
 * ```
 * deno run --allow-all bench/mixed_load.ts [--seconds 180] [--round 2000] [--warmup 30]
 *                                          [--out FILE]
 * ```
 *
 * Needs root, `ab`, `wrk`, `curl`, `python3`. The namespaces are deleted at the end.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseAb, rssBytes } from "./clients.ts";
import { BenchLink, ustackCommand } from "./netns.ts";

/** A UDP client: `n` echoes of 512 bytes, prints how many came back. */
const PY_UDP = `
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
got = 0
for i in range(n):
    s.sendto(bytes([i & 255]) * 512, (host, port))
    try:
        if len(s.recv(2048)) == 512:
            got += 1
    except OSError:
        pass
print(got)
`;

/** One round's figures. */
interface Round {
  t: number;
  rssBytes: number;
  connPerS: number;
  abFailed: number;
  udpEchoed: number;
  downloadOk: boolean;
}

function progress(msg: string): void {
  console.error(`bench:mixed ${msg}`);
}

/** Run the benchmark; the exit status. */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: "string" },
      round: { type: "string" },
      warmup: { type: "string" },
      out: { type: "string" },
    },
  });
  const seconds = Number(values.seconds ?? 180);
  const roundN = Number(values.round ?? 2000);
  const warmup = Number(values.warmup ?? 30);
  const link = await BenchLink.create(1500);
  const host = link.addr("stack");
  const rounds: Round[] = [];
  let failed = 0;
  try {
    const server = link.start(
      "stack",
      ustackCommand([
        "serve",
        "--http",
        "80",
        "--tcp-echo",
        "7",
        "--udp-echo",
        "7",
        ...link.stackOptions("stack", "af_packet"),
        "--json",
      ]),
    );
    try {
      await server.waitForLine(/"event":"ready"/, 30_000);
      const pid = server.pid;
      const rss0 = rssBytes(pid);
      const t0 = performance.now();
      while ((performance.now() - t0) / 1000 < seconds) {
        const ab = await link.run(
          "peer",
          [
            "ab",
            "-r",
            "-q",
            "-s",
            "10",
            "-n",
            String(roundN),
            "-c",
            "32",
            `http://${host}/bytes/64`,
          ],
          120_000,
        );
        const a = parseAb(ab.stdout);
        await link.run("peer", ["wrk", "-t2", "-c64", "-d2s", `http://${host}/bytes/64`], 30_000);
        const dl = await link.run(
          "peer",
          [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            `http://${host}/bytes/20000000`,
          ],
          60_000,
        );
        const udp = await link.run("peer", ["python3", "-c", PY_UDP, host, "7", "200"], 30_000);
        await link.run("peer", ["ping", "-c", "5", "-i", "0.2", host], 10_000);
        const r: Round = {
          t: Math.round((performance.now() - t0) / 1000),
          rssBytes: rssBytes(pid),
          connPerS: a.perSecond,
          abFailed: a.failed,
          udpEchoed: Number(udp.stdout.trim()),
          downloadOk: dl.stdout.trim() === "20000000",
        };
        if (r.abFailed > 0 || !r.downloadOk || r.udpEchoed < 190) failed++;
        rounds.push(r);
        progress(
          `t=${r.t}s rss ${(r.rssBytes / 2 ** 20).toFixed(0)} MiB, ${
            r.connPerS.toFixed(0)
          } conn/s` +
            `, udp ${r.udpEchoed}/200, download ${r.downloadOk ? "ok" : "FAILED"}`,
        );
      }
      const after = rounds.filter((r) => r.t >= warmup);
      const base = after.length > 0 ? after[0].rssBytes : NaN;
      const record = {
        date: new Date().toISOString(),
        seconds,
        round: roundN,
        rssStartBytes: rss0,
        rssAfterWarmupBytes: base,
        rssEndBytes: rounds.at(-1)?.rssBytes ?? NaN,
        rssPeakBytes: Math.max(...rounds.map((r) => r.rssBytes)),
        growthAfterWarmupBytes: (rounds.at(-1)?.rssBytes ?? NaN) - base,
        connections: rounds.length * roundN,
        roundsWithFailures: failed,
        rounds,
      };
      console.log(JSON.stringify(record, null, 2));
      if (values.out !== undefined) {
        await Deno.writeTextFile(values.out, JSON.stringify(record, null, 2) + "\n");
      }
    } finally {
      await server.stop(10_000);
    }
  } finally {
    await link.destroy();
  }
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
