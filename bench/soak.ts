/**
 * `deno task bench:soak`: ten minutes of mixed load against one `ustack serve`, its memory
 * sampled all along. From the kernel peer, at the same time (bench/soak_load.py): bulk HTTP
 * downloads and uploads, a 20 MB TCP echo, new connections at a set rate (`--conn-rate`,
 * 300/s), UDP echoes of 1–8,000 bytes (fragmented at MTU 1500), `ping`, and malformed frames
 * from a raw socket. Every transfer is checked byte for byte.
 *
 * Every `--sample` seconds (10) it reads the stack process's RSS (/proc) and V8 heap (the
 * control socket's `memory` command) and prints a line; one line per minute is kept for the
 * verdict. It passes (exit 0) when nothing failed or differed, the RSS stayed under `--max-rss`
 * MiB (1,024), and the RSS did not trend upward after warm-up: from the end of the second
 * minute to the end, a least-squares slope under `--max-slope` MiB/min (8). The figures go to
 * `--out` (default `bench/results/soak-<date>.json`).
 *
 * ```sh
 * deno task bench:soak [--minutes 10] [--conn-rate 300] [--driver af_packet]
 * ```
 *
 * Needs root, python3, ping. Makes its own namespaces and veth pair and deletes them at the end,
 * also on errors.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { queryControl } from "../stack/control.ts";
import { formatMac, withVethPair } from "../tests/harness/netns.ts";
import { startServe } from "../tests/harness/ustack_cli.ts";

/** One memory sample of the stack process. */
export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  /** Resident set size, MiB. */
  rssMiB: number;
  /** V8 heap in use, MiB. */
  heapMiB: number;
  /** The load generator's counters at that time (cumulative). */
  load: Record<string, number>;
}

/** Least-squares slope of `ys` over `xs` (0 with fewer than two points). */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** What the soak found wrong, empty when it passed. */
export function soakFailures(
  samples: SoakSample[],
  final: Record<string, unknown>,
  ping: { sent: number; received: number },
  limits: { maxRssMiB: number; maxSlopeMiBPerMin: number; warmupS: number },
): string[] {
  const out: string[] = [];
  for (
    const k of ["download_bad", "echo_bad", "upload_bad", "conn_failed", "conn_bad", "udp_bad"]
  ) {
    if (Number(final[k] ?? 0) !== 0) out.push(`${k} = ${final[k]}`);
  }
  for (const k of ["download_ok", "echo_ok", "upload_ok", "conn_ok", "udp_ok", "hostile_sent"]) {
    if (!(Number(final[k] ?? 0) > 0)) out.push(`no ${k.replace("_ok", "")} completed`);
  }
  if (Number(final.stuck_threads ?? 0) !== 0) out.push(`${final.stuck_threads} load threads hung`);
  if (Number(final.threads_died ?? 0) !== 0) out.push(`${final.threads_died} load threads died`);
  // UDP over a lossless veth: a lost echo is the stack's loss (1 in 1,000 is allowed for a
  // datagram dropped while a 1 s timeout raced its late echo).
  const sent = Number(final.udp_sent ?? 0);
  if (Number(final.udp_lost ?? 0) > Math.max(1, sent / 1000)) {
    out.push(`udp_lost = ${final.udp_lost} of ${sent}`);
  }
  if (ping.sent === 0 || ping.received < ping.sent - 1) {
    out.push(`ping: ${ping.received} of ${ping.sent} answered`);
  }
  const peak = Math.max(0, ...samples.map((s) => s.rssMiB));
  if (peak >= limits.maxRssMiB) out.push(`RSS peak ${peak} MiB ≥ ${limits.maxRssMiB} MiB`);
  const late = samples.filter((s) => s.t >= limits.warmupS);
  const perMin = slope(late.map((s) => s.t / 60), late.map((s) => s.rssMiB));
  if (late.length >= 3 && perMin > limits.maxSlopeMiBPerMin) {
    out.push(
      `RSS grows ${perMin.toFixed(1)} MiB/min after warm-up (limit ${limits.maxSlopeMiBPerMin})`,
    );
  }
  return out;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024 * 10) / 10;
}

const USAGE = `usage: deno task bench:soak [options]
  --minutes N      how long the load runs (10)
  --sample S       seconds between memory samples (10)
  --conn-rate R    new connections per second (300)
  --driver NAME    the stack's driver (af_packet)
  --max-rss MiB    fail at or above this RSS (1024)
  --max-slope M    fail when RSS grows more than M MiB/min after minute 2 (8)
  --out FILE       results JSON (bench/results/soak-<date>.json)`;

/** Run the soak; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        minutes: { type: "string", default: "10" },
        sample: { type: "string", default: "10" },
        "conn-rate": { type: "string", default: "300" },
        driver: { type: "string", default: "af_packet" },
        "max-rss": { type: "string", default: "1024" },
        "max-slope": { type: "string", default: "8" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const minutes = Number(v.minutes);
  const sampleS = Number(v.sample);
  if (!(minutes > 0) || !(sampleS >= 1)) {
    console.error(USAGE);
    return 2;
  }
  const seconds = minutes * 60;
  const limits = {
    maxRssMiB: Number(v["max-rss"]),
    maxSlopeMiBPerMin: Number(v["max-slope"]),
    warmupS: Math.min(120, seconds / 5),
  };
  const out = v.out ??
    new URL(`results/soak-${new Date().toISOString().slice(0, 10)}.json`, import.meta.url)
      .pathname;
  const dir = await Deno.makeTempDir({ prefix: "ustack-soak-" });
  const control = `${dir}/control.sock`;
  const loadScript = new URL("soak_load.py", import.meta.url).pathname;

  return await withVethPair({ ipv6: false }, async (pair) => {
    const serve = await startServe(pair, [
      "--driver",
      v.driver!,
      "--http",
      "80",
      "--tcp-echo",
      "7",
      "--udp-echo",
      "7",
      "--discard",
      "9",
      "--control",
      control,
      "--json",
    ], ["--allow-net"]);
    const samples: SoakSample[] = [];
    // Written by the reader of the generator's output (a holder: TypeScript does not track
    // assignments made in a closure).
    const gen$: { load: Record<string, any>; final: Record<string, any> | null } = {
      load: {},
      final: null,
    };
    const gen = pair.spawn([
      "python3",
      "-u",
      loadScript,
      "--addr",
      pair.stackAddr,
      "--iface",
      pair.peerIf,
      "--mac",
      formatMac(pair.stackMac),
      "--seconds",
      String(seconds),
      "--conn-rate",
      String(v["conn-rate"]),
      "--report",
      String(Math.max(1, sampleS / 2)),
    ], { stdout: "piped", stderr: "piped" });
    const ping = pair.spawn(
      ["ping", "-q", "-i", "0.2", "-W", "2", "-w", String(seconds), pair.stackAddr],
      { stdout: "piped", stderr: "null" },
    );
    const genErr = new Response(gen.stderr).text();
    const genOut = (async () => {
      const dec = new TextDecoder();
      let rest = "";
      for await (const chunk of gen.stdout) {
        rest += dec.decode(chunk, { stream: true });
        let i;
        while ((i = rest.indexOf("\n")) >= 0) {
          const line = rest.slice(0, i);
          rest = rest.slice(i + 1);
          try {
            const j = JSON.parse(line);
            if (j.final) gen$.final = j;
            gen$.load = j;
          } catch { /* not a counter line */ }
        }
      }
    })();
    const t0 = performance.now();
    console.log(
      `bench:soak: ${minutes} min of mixed load against ustack serve (driver ${v.driver}, ` +
        `${v["conn-rate"]} new connections/s); a sample every ${sampleS} s`,
    );
    console.log("    t   RSS MiB  heap MiB   conns ok   bulk GB   udp ok  hostile  errors");
    try {
      while (gen$.final === null) {
        const elapsed = (performance.now() - t0) / 1000;
        const next = (samples.length + 1) * sampleS;
        const waitMs = Math.max(0, (next - elapsed) * 1000);
        const done = await Promise.race([
          new Promise((r) => setTimeout(() => r(false), waitMs)),
          gen.status.then(() => true),
        ]);
        if (done) break;
        const mem = await queryControl(control, { cmd: "memory" });
        const s: SoakSample = {
          t: Math.round((performance.now() - t0) / 1000),
          rssMiB: await rssMiB(serve.pid),
          heapMiB: Math.round(mem.heapUsed / 2 ** 20 * 10) / 10,
          load: Object.fromEntries(
            Object.entries(gen$.load).filter(([, x]) => typeof x === "number"),
          ) as Record<string, number>,
        };
        samples.push(s);
        const l = s.load;
        const bulkGB = ((l.download_bytes ?? 0) + (l.echo_bytes ?? 0) + (l.upload_bytes ?? 0)) /
          1e9;
        const bad = (l.download_bad ?? 0) + (l.echo_bad ?? 0) + (l.upload_bad ?? 0) +
          (l.conn_failed ?? 0) + (l.conn_bad ?? 0) + (l.udp_bad ?? 0);
        console.log(
          `${String(s.t).padStart(5)} ${s.rssMiB.toFixed(1).padStart(9)} ` +
            `${s.heapMiB.toFixed(1).padStart(9)} ${String(l.conn_ok ?? 0).padStart(10)} ` +
            `${bulkGB.toFixed(2).padStart(9)} ${String(l.udp_ok ?? 0).padStart(8)} ` +
            `${String(l.hostile_sent ?? 0).padStart(8)} ${String(bad).padStart(7)}`,
        );
      }
      await gen.status;
      await genOut;
    } finally {
      try {
        gen.kill();
      } catch { /* exited */ }
    }
    const pingText = await new Response(ping.stdout).text();
    const pm = /(\d+) packets transmitted, (\d+) received/.exec(pingText);
    const pingResult = { sent: Number(pm?.[1] ?? 0), received: Number(pm?.[2] ?? 0) };
    const counters = (await queryControl(control, { cmd: "stats" })).counters;
    const stopCode = await serve.stop();
    const finalLoad: Record<string, any> = gen$.final ?? { ...gen$.load, stuck_threads: -1 };
    const failures = soakFailures(samples, finalLoad, pingResult, limits);
    if (stopCode !== 0) failures.push(`ustack serve exited ${stopCode}`);
    if (gen$.final === null) {
      failures.push(`load generator ended early: ${(await genErr).slice(-500)}`);
    }
    const late = samples.filter((s) => s.t >= limits.warmupS);
    const result = {
      date: new Date().toISOString(),
      minutes,
      driver: v.driver,
      connRate: Number(v["conn-rate"]),
      limits,
      rssPeakMiB: Math.max(0, ...samples.map((s) => s.rssMiB)),
      rssSlopeMiBPerMin: slope(late.map((s) => s.t / 60), late.map((s) => s.rssMiB)),
      heapPeakMiB: Math.max(0, ...samples.map((s) => s.heapMiB)),
      ping: pingResult,
      load: finalLoad,
      samples,
      stackCounters: counters,
      failures,
    };
    await Deno.mkdir(new URL("results/", import.meta.url), { recursive: true });
    await Deno.writeTextFile(out, JSON.stringify(result, null, 1) + "\n");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    const fl = finalLoad;
    console.log(
      `load: ${fl.conn_ok} connections (${fl.conn_failed} failed), ` +
        `${((fl.download_bytes + fl.echo_bytes + fl.upload_bytes) / 1e9).toFixed(2)} GB bulk ` +
        `(${fl.download_ok} downloads, ${fl.echo_ok} echoes, ${fl.upload_ok} uploads), ` +
        `${fl.udp_ok}/${fl.udp_sent} UDP echoes, ${fl.hostile_sent} hostile frames, ` +
        `ping ${pingResult.received}/${pingResult.sent}`,
    );
    if (Array.isArray(fl.errors) && fl.errors.length > 0) {
      console.log(`load errors (last ${fl.errors.length}):\n  ${fl.errors.join("\n  ")}`);
    }
    console.log(
      `RSS peak ${result.rssPeakMiB} MiB, after warm-up ${
        result.rssSlopeMiBPerMin.toFixed(2)
      } MiB/min; heap peak ${result.heapPeakMiB} MiB; wrote ${out}`,
    );
    console.log(failures.length === 0 ? "soak: pass" : `soak: FAIL\n  ${failures.join("\n  ")}`);
    return failures.length === 0 ? 0 : 1;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
