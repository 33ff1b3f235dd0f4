/**
 * `bench/rr_profile.ts`: where a warm request/response round trip's CPU and heap go, by
 * function, on both ends. Two parts in one file:
 *
 * - **As a stand-in for `cli/ustack.ts`** (`deno run --allow-all bench/rr_profile.ts
 *   USTACK-ARGS…`, with `RR_PROFILE=OUT` in the environment): runs `ustack USTACK-ARGS…` in
 *   this process and, from `RR_PROFILE_AFTER_MS` (1500) for `RR_PROFILE_MS` (3000), profiles
 *   it with V8's sampling CPU profiler (`RR_PROFILE_KIND=cpu`, every `RR_PROFILE_INTERVAL_US`
 *   (100) µs — the sampling itself slows a round trip: 100 µs ~4×, 1,000 µs far less — written to
 *   `OUT.cpuprofile`) or its sampling heap profiler (`RR_PROFILE_KIND=heap`, every 512 B,
 *   objects a scavenge collected included, written to `OUT.heapprofile`), so the window holds
 *   warm round trips only. `bench/rr_ab.ts --base "NAME=bench/rr_profile.ts c:RR_PROFILE=…
 *   s:RR_PROFILE=…"` runs it on both ends.
 * - **The report** (`deno run --allow-all bench/rr_profile.ts --report OUT --tps N`): the
 *   functions by self time (µs per round trip: the window's samples ÷ (window × N)) or by bytes
 *   allocated per round trip, top 30.
 *
 * @module
 */

import { Session } from "node:inspector";
import {
  type CpuProfile,
  frameWhere,
  type HeapProfileNode,
  inspectorPost,
  selfTimes,
  startHeapSampling,
  stopHeapSampling,
} from "./inspector.ts";

/** Self µs per function of a CPU profile, and the window (µs). */
function cpuSelf(p: CpuProfile): { windowUs: number; by: Map<string, number> } {
  return { windowUs: p.endTime - p.startTime, by: selfTimes(p).by };
}

/** Bytes allocated per function of a sampling heap profile. */
function heapSelf(root: HeapProfileNode): Map<string, number> {
  const by = new Map<string, number>();
  const walk = (n: HeapProfileNode): void => {
    if (n.selfSize > 0) {
      const k = frameWhere(n.callFrame);
      by.set(k, (by.get(k) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(root);
  return by;
}

/** Print the report of `out` (a `.cpuprofile` and/or `.heapprofile`) at `tps` round trips/s. */
async function report(out: string, tps: number, windowMs: number): Promise<void> {
  const rows = (by: Map<string, number>, per: number, unit: string): void => {
    const sorted = [...by.entries()].sort((a, b) => b[1] - a[1]);
    let all = 0;
    for (const [, v] of sorted) all += v;
    console.log(`  all: ${(all / per).toFixed(2)} ${unit} per round trip`);
    for (const [k, v] of sorted.slice(0, 30)) {
      console.log(`  ${(v / per).toFixed(2).padStart(8)} ${unit}  ${k}`);
    }
  };
  try {
    const p = JSON.parse(await Deno.readTextFile(`${out}.cpuprofile`)) as CpuProfile;
    const { windowUs, by } = cpuSelf(p);
    const rts = (windowUs / 1e6) * tps;
    console.log(`${out}.cpuprofile: ${(windowUs / 1000).toFixed(0)} ms, ~${rts.toFixed(0)} RTs`);
    rows(by, rts, "µs");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    const h = JSON.parse(await Deno.readTextFile(`${out}.heapprofile`)) as {
      head: HeapProfileNode;
    };
    const rts = (windowMs / 1000) * tps;
    console.log(`${out}.heapprofile: ~${rts.toFixed(0)} RTs`);
    rows(heapSelf(h.head), rts, "B");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Run `ustack args` under the profiler window the environment asks for. */
async function profiled(args: string[]): Promise<number> {
  const { main } = await import("../cli/ustack.ts");
  const out = Deno.env.get("RR_PROFILE");
  if (out === undefined) return await main(args);
  const kind = Deno.env.get("RR_PROFILE_KIND") ?? "cpu";
  const after = Number(Deno.env.get("RR_PROFILE_AFTER_MS") ?? "1500");
  const span = Number(Deno.env.get("RR_PROFILE_MS") ?? "3000");
  const interval = Number(Deno.env.get("RR_PROFILE_INTERVAL_US") ?? "100");
  const s = new Session();
  s.connect();
  const start = async (): Promise<void> => {
    if (kind === "heap") {
      await startHeapSampling(s, 512);
    } else {
      await inspectorPost(s, "Profiler.enable");
      await inspectorPost(s, "Profiler.setSamplingInterval", { interval });
      await inspectorPost(s, "Profiler.start");
    }
  };
  const stop = async (): Promise<void> => {
    if (kind === "heap") {
      const head = await stopHeapSampling(s);
      await Deno.writeTextFile(`${out}.heapprofile`, JSON.stringify({ head }));
    } else {
      const { profile } = await inspectorPost<{ profile: unknown }>(s, "Profiler.stop");
      await Deno.writeTextFile(`${out}.cpuprofile`, JSON.stringify(profile));
    }
  };
  const t1 = setTimeout(() => {
    start().catch((e) => console.error("rr_profile:", e));
  }, after);
  const t2 = setTimeout(() => {
    stop().catch((e) => console.error("rr_profile:", e));
  }, after + span);
  try {
    return await main(args);
  } finally {
    clearTimeout(t1);
    clearTimeout(t2);
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--report") {
    const [, out, flag, tps, wflag, windowMs] = Deno.args;
    if (out === undefined || flag !== "--tps") {
      console.error("usage: bench/rr_profile.ts --report OUT --tps N [--window-ms MS]");
      Deno.exit(2);
    }
    await report(out, Number(tps), wflag === "--window-ms" ? Number(windowMs) : 3000);
  } else {
    Deno.exit(await profiled(Deno.args));
  }
}
