/**
 * `bench/cpu_window.ts`: where a fresh `serve --http` spends its first `ab` connections, against
 * the same server after 1 s of keep-alive `wrk` — V8's CPU profile of just the `ab` block.
 *
 * Two parts in one file:
 *
 * - **In the server process** (`deno run --allow-all bench/cpu_window.ts --serve OUT USTACK-ARGS…`):
 *   runs `ustack USTACK-ARGS…` in this process; SIGUSR1 starts V8's sampling CPU profiler
 *   (`node:inspector`, `Profiler.start`), SIGUSR2 stops it and writes the profile to OUT
 *   (`.cpuprofile`, Chrome DevTools' format). So the profile holds the window the driver asks
 *   for, not the start-up and warm-up.
 * - **The driver** (`deno run --allow-all bench/cpu_window.ts [--rounds R] [--requests N]
 *   [--variant NAME=FLAGS]… [--ways fresh,wrk] [--v8=FLAGS] [--top K] [--out-dir DIR]
 *   [--out FILE]`): on one veth pair, for each round and each way (`fresh`: the `ab` block
 *   straight after the ready line; `wrk`: after 1 s of `wrk -c4`), starts the server under
 *   the profiler, profiles one `ab -n N -c 32` block and prints the functions by self time,
 *   the garbage collector's share and the µs of samples per connection. `--v8` (default
 *   `--trace-gc`) is handed to the server's V8: with `--trace-opt,--trace-deopt` it also
 *   counts the compilations, deoptimisations and invalidations of optimised code ("marking
 *   dependent code") during the block, and writes the block's trace lines next to the profile
 *   (`DIR/cpu-window-NAME-WAY-R.cpuprofile.block.txt`, the lines before it in `.before.txt`).
 *   The server runs under `stdbuf -oL` (V8 prints its traces through stdio). `--out` writes
 *   the figures as JSON. Needs root, `ab`, `wrk`, `stdbuf`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Session } from "node:inspector";
import { type CpuProfile, inspectorPost, selfTimes } from "./inspector.ts";
import { BenchLink, parseVariant } from "./netns.ts";
import { abRun } from "./http_bench.ts";

const PORT = 80;

async function serveUnderProfiler(out: string, args: string[]): Promise<number> {
  const { main } = await import("../cli/ustack.ts");
  const s = new Session();
  s.connect();
  await inspectorPost(s, "Profiler.enable");
  await inspectorPost(s, "Profiler.setSamplingInterval", { interval: 100 });
  let on = false;
  Deno.addSignalListener("SIGUSR1", () => {
    if (on) return;
    on = true;
    console.log(`cpu_window: start ${performance.now().toFixed(0)}`);
    inspectorPost(s, "Profiler.start").catch((e) => console.error("cpu_window:", e));
  });
  Deno.addSignalListener("SIGUSR2", async () => {
    if (!on) return;
    on = false;
    const { profile } = await inspectorPost<{ profile: CpuProfile }>(s, "Profiler.stop");
    await Deno.writeTextFile(out, JSON.stringify(profile));
    console.log(`cpu_window: wrote ${out} ${performance.now().toFixed(0)}`);
  });
  return await main(args);
}

async function drive(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "1" },
      requests: { type: "string", default: "5000" },
      variant: { type: "string", multiple: true, default: [] },
      "out-dir": { type: "string", default: "/tmp" },
      ways: { type: "string", default: "fresh,wrk" },
      top: { type: "string", default: "25" },
      v8: { type: "string", default: "--trace-gc" },
      out: { type: "string" },
    },
  });
  const rounds = Number(values.rounds);
  const requests = Number(values.requests);
  const top = Number(values.top);
  const variants: [string, string[]][] = [
    ["default", []],
    ...values.variant.map((v) => parseVariant(v)),
  ];
  const records: Record<string, unknown>[] = [];
  const link = await BenchLink.create(1500);
  const url = `http://${link.addr("stack")}:${PORT}/bytes/64`;
  try {
    await link.setKernelAddress("stack", false);
    for (let r = 0; r < rounds; r++) {
      for (const [name, flags] of variants) {
        for (const way of values.ways.split(",")) {
          const out = `${values["out-dir"]}/cpu-window-${name}-${way}-${r}.cpuprofile`;
          // Line-buffered stdout: V8 prints its traces with stdio, buffered when piped.
          const cmd = [
            "stdbuf",
            "-oL",
            Deno.execPath(),
            "run",
            "--allow-all",
            `--v8-flags=${values.v8}`,
            new URL(import.meta.url).pathname,
            "--serve",
            out,
            "serve",
            ...link.stackOptions("stack", "af_packet"),
            "--http",
            String(PORT),
            ...flags,
          ];
          const p = link.start("stack", cmd);
          try {
            await p.waitForLine(/^ready/, 60_000);
            if (way === "wrk") await link.run("peer", ["wrk", "-t1", "-c4", "-d1s", url], 30_000);
            p.signal("SIGUSR1");
            await p.waitForLine(/^cpu_window: start/, 10_000);
            const from = p.cli.lines.length;
            const [a, cpu] = await abRun(link, url, requests, p.pid);
            const to = p.cli.lines.length;
            p.signal("SIGUSR2");
            await p.waitForLine(/^cpu_window: wrote/, 30_000);
            const block = p.cli.lines.slice(from, to);
            await Deno.writeTextFile(`${out}.block.txt`, block.join("\n") + "\n");
            await Deno.writeTextFile(`${out}.before.txt`, p.cli.lines.slice(0, from).join("\n"));
            const scavenges = block.filter((l) => / ms: Scavenge/.test(l)).length;
            const fulls = block.filter((l) => / ms: Mark/.test(l)).length;
            const before = p.cli.lines.slice(0, from).filter((l) => / ms: /.test(l)).length;
            const lastGc = p.cli.lines.slice(0, to).filter((l) => / ms: /.test(l)).at(-1);
            // --trace-opt / --trace-deopt lines during the block.
            const opts = block.filter((l) => l.includes("completed compiling")).length;
            const deopts = block.filter((l) => l.includes("bailout (kind:")).length;
            const invalidated = block.filter((l) => l.includes("marking dependent code")).length;
            if (opts + deopts > 0) {
              console.log(
                `  ${opts} compilations, ${deopts} deoptimisations, ${invalidated} code ` +
                  `invalidations in the block`,
              );
              const reasons = new Map<string, number>();
              for (const l of block) {
                const m = l.match(/deoptimizing.*<JSFunction ([^ >]+).*reason: ([^\]]+)/) ??
                  l.match(/bailout \(kind: ([^)]+)\).*<JSFunction ([^ >]+)/);
                if (m === null) continue;
                const k = `${m[1]} ${m[2]}`;
                reasons.set(k, (reasons.get(k) ?? 0) + 1);
              }
              for (const [k, n] of [...reasons].sort((x, y) => y[1] - x[1]).slice(0, 30)) {
                console.log(`    ${n} ${k}`);
              }
              const compiled = block.filter((l) => l.includes("completed compiling"))
                .map((l) => l.match(/<JSFunction ([^ >]+)/)?.[1] ?? "?");
              console.log(`    compiled: ${compiled.join(" ")}`);
            }
            const prof = JSON.parse(await Deno.readTextFile(out)) as CpuProfile;
            const { total, by } = selfTimes(prof);
            const idle = (by.get("(idle) :0") ?? 0) + (by.get("(program) :0") ?? 0);
            const gc = by.get("(garbage collector) :0") ?? 0;
            const busy = total - idle;
            console.log(
              `${name} ${way} round ${r + 1}: ${a.requestsPerSec?.toFixed(0)}/s, server ` +
                `${cpu?.serverUsPerRequest ?? "?"} µs/conn; samples: busy ${
                  (busy / requests).toFixed(1)
                } µs/conn, GC ${(100 * gc / busy).toFixed(1)} % of busy; ` +
                `${scavenges} scavenges, ${fulls} mark-compacts (${before} GCs before)`,
            );
            if (lastGc !== undefined) console.log(`  last: ${lastGc.trim().slice(0, 160)}`);
            const rows = [...by.entries()].sort((x, y) => y[1] - x[1]).slice(0, top);
            records.push({
              variant: name,
              way,
              round: r + 1,
              load: Deno.loadavg()[0],
              connPerS: a.requestsPerSec,
              serverUsPerConn: cpu?.serverUsPerRequest ?? null,
              sampledBusyUsPerConn: Math.round(busy / requests * 10) / 10,
              gcPctOfBusy: Math.round(1000 * gc / busy) / 10,
              scavenges,
              markCompacts: fulls,
              compilations: opts,
              deopts,
              invalidated,
              top: rows.map(([k, t]) => [k, Math.round(1000 * t / busy) / 10]),
            });
            for (const [k, t] of rows) {
              console.log(`  ${(100 * t / busy).toFixed(1).padStart(5)} %  ${k}`);
            }
          } finally {
            await p.stop(10_000);
          }
        }
      }
    }
  } finally {
    await link.destroy();
  }
  if (values.out !== undefined) {
    await Deno.writeTextFile(
      values.out,
      JSON.stringify(
        { date: new Date().toISOString(), requests, v8: values.v8, records },
        null,
        2,
      ) +
        "\n",
    );
  }
  return 0;
}

if (import.meta.main) {
  if (Deno.args[0] === "--serve") {
    const [, out, ...args] = Deno.args;
    Deno.exit(await serveUnderProfiler(out, args));
  }
  Deno.exit(await drive(Deno.args));
}
