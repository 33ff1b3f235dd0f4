/**
 * UDP sender A/B: `ustack uperf client --udp -l 8900` from this checkout and from another one
 * (`--base-cli`, e.g. a `git archive main` unpacked elsewhere), interleaved round by round on
 * one veth pair into a Python kernel-socket sink; prints sent and received Gbit/s per run and
 * writes a JSON record. Root (namespaces). Same link, same sink, back to back: the ratio of
 * the two is the figure to read, not the absolute rates.
 *
 * ```sh
 * deno run -A bench/udp_ab.ts --base-cli /tmp/base/cli/ustack.ts --mtu 1500 --rounds 3
 * deno run -A bench/udp_ab.ts --variant "sync=--tx-kick sync" --variant "thread=--tx-kick thread"
 * ```
 *
 * `--variant NAME=FLAGS` runs this checkout's CLI once per variant with FLAGS added (in place of
 * the one plain configuration `this`); `--base-cli` is then optional.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { lastJson, PY_SINK } from "./e2e.ts";
import { BenchLink, parseVariant, USTACK_CLI } from "./netns.ts";

/** Run the A/B; resolves to the exit status. */
async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "base-cli": { type: "string" },
      variant: { type: "string", multiple: true },
      mtu: { type: "string", default: "1500" },
      rounds: { type: "string", default: "3" },
      seconds: { type: "string", default: "2" },
      len: { type: "string", default: "8900" },
      out: { type: "string" },
    },
  });
  const variants = (values.variant ?? []).map((v) => parseVariant(v));
  if (values["base-cli"] === undefined && variants.length === 0) {
    console.error(
      "usage: udp_ab.ts --base-cli PATH | --variant NAME=FLAGS... [--mtu N] [--rounds N] " +
        "[--seconds S] [--out F]",
    );
    return 2;
  }
  // [name, cli, extra flags]
  const clis: [string, string, string[]][] = [];
  if (values["base-cli"] !== undefined) clis.push(["base", values["base-cli"], []]);
  if (variants.length === 0) clis.push(["this", USTACK_CLI, []]);
  for (const [name, flags] of variants) clis.push([name, USTACK_CLI, flags]);
  const mtu = Number(values.mtu);
  const link = await BenchLink.create(mtu);
  const runs: Record<string, unknown>[] = [];
  try {
    let port = 6000;
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const [name, cli, flags] of clis) {
        port++;
        // e2e's kernel-socket sink: UDP on PORT, done 0.5 s after the last datagram (5 s for the first).
        const sink = link.start("peer", [
          "python3",
          "-c",
          PY_SINK,
          "udp",
          String(port),
          "0.5",
          "5",
        ]);
        await new Promise((res) => setTimeout(res, 400));
        const before = await link.udpCounters("peer");
        const cmd = [Deno.execPath(), "run", "-A", cli, "uperf", "client", link.addr("peer")];
        cmd.push("--udp", "-l", values.len!, "-p", String(port), "-t", values.seconds!, "--json");
        cmd.push(...link.stackOptions("stack", "af_packet"), ...flags);
        const f = await link.run("stack", cmd, 30_000);
        const got = await sink.finish(10_000);
        const after = await link.udpCounters("peer");
        const j = lastJson(f.stdout, "summary");
        const rx = lastJson(got.stdout).bytes * 8 / j.seconds / 1e9;
        // The kernel receiver's view: datagrams in, and those its socket buffer had no room for.
        const kernelInDatagrams = after.InDatagrams - before.InDatagrams;
        const kernelRcvbufErrors = after.RcvbufErrors - before.RcvbufErrors;
        runs.push({
          round: r,
          cli: name,
          sentGbps: j.gbps,
          receivedGbps: rx,
          kernelInDatagrams,
          kernelRcvbufErrors,
          client: j,
        });
        console.log(
          `mtu ${mtu} round ${r} ${name}: sent ${j.gbps.toFixed(2)} Gbit/s, ` +
            `received ${rx.toFixed(2)} Gbit/s, RcvbufErrors ${kernelRcvbufErrors}`,
        );
      }
    }
  } finally {
    await link.destroy();
  }
  if (values.out !== undefined) {
    const record = { benchmark: "udp_ab", date: new Date().toISOString(), mtu, clis, runs };
    await Deno.writeTextFile(values.out, JSON.stringify(record, null, 2) + "\n");
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
