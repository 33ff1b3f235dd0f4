/**
 * How fast each benchmark process allocated while busy, from V8's `--trace-gc-nvp` lines: run a
 * benchmark with `USTACK_BENCH_DENO_FLAGS=--v8-flags=--trace-gc-nvp` (every stack it starts
 * prints a line per collection) and `USTACK_BENCH_OUTPUT_DIR=DIR` (each process's command line
 * and stdout are written to `DIR/<pid>.txt`), then give this script those files. Per process it
 * prints the collections (scavenges, others), the bytes allocated in all, and the allocation
 * rate between consecutive collections (each collection's `allocated` over the time since the
 * one before): the median and the upper quartile of those rates, in MB/s. A busy process
 * collects often and an idle one seldom, so most intervals are busy ones and the median is the
 * busy rate; divide it by the wire packets per second of the same row for bytes per wire
 * packet. A process with fewer than 3 collections prints no rate (its heap was flat, or it was
 * short).
 *
 * ```sh
 * mkdir -p /tmp/gc && USTACK_BENCH_OUTPUT_DIR=/tmp/gc \
 *   USTACK_BENCH_DENO_FLAGS=--v8-flags=--trace-gc-nvp \
 *   deno run --allow-all bench/e2e.ts --mtu 9000 --only udp --seconds 6
 * deno run --allow-read bench/gc_rate.ts /tmp/gc/*.txt
 * ```
 *
 * @module
 */

import { parseGcLine } from "./gc_nvp.ts";

/** One collection: when (ms since the process started), its kind and bytes allocated before it. */
export interface GcLine {
  /** Milliseconds since V8 started. */
  ms: number;
  /** `"s"` for a scavenge, else another collector. */
  gc: string;
  /** Bytes allocated since the collection before. */
  allocated: number;
}

/** The collections in `text` (lines `… N ms: GC: {…}`; others skipped). */
export function gcLines(text: string): GcLine[] {
  const out: GcLine[] = [];
  for (const line of text.split("\n")) {
    const g = parseGcLine(line);
    if (g !== null) {
      out.push({ ms: g.ms, gc: String(g.rec.gc), allocated: Number(g.rec.allocated) });
    }
  }
  return out;
}

/** What {@link gcRate} finds in one process's collections. */
export interface GcRate {
  /** Scavenges. */
  scavenges: number;
  /** Other collections (mark-compact). */
  others: number;
  /** Bytes allocated over all collections. */
  allocatedBytes: number;
  /** Median allocation rate between consecutive collections, MB/s (null: < 3 collections). */
  medianMBps: number | null;
  /** Upper quartile of the same rates, MB/s. */
  p75MBps: number | null;
}

/** Allocation rates of one process from its collections (see the module doc). */
export function gcRate(lines: GcLine[]): GcRate {
  const rates: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const dt = lines[i].ms - lines[i - 1].ms;
    if (dt > 0) rates.push(lines[i].allocated / dt / 1000); // B/ms → MB/s
  }
  rates.sort((a, b) => a - b);
  const q = (f: number) =>
    rates.length < 2 ? null : Math.round(rates[Math.floor(f * (rates.length - 1))] * 10) / 10;
  return {
    scavenges: lines.filter((l) => l.gc === "s").length,
    others: lines.filter((l) => l.gc !== "s").length,
    allocatedBytes: lines.reduce((s, l) => s + l.allocated, 0),
    medianMBps: q(0.5),
    p75MBps: q(0.75),
  };
}

if (import.meta.main) {
  for (const file of Deno.args) {
    const text = await Deno.readTextFile(file);
    const nl = text.indexOf("\n");
    const cmd = text.slice(0, nl).split(" ");
    const at = cmd.findIndex((a) => a.endsWith("ustack.ts"));
    const what = at >= 0 ? cmd.slice(at + 1).join(" ") : cmd.join(" ");
    const r = gcRate(gcLines(text.slice(nl + 1)));
    console.log(
      `${file}: ${what.slice(0, 90)}\n  scavenges ${r.scavenges}, others ${r.others}, ` +
        `allocated ${(r.allocatedBytes / 1e6).toFixed(1)} MB, rate median ${
          r.medianMBps ?? "-"
        } MB/s, p75 ${r.p75MBps ?? "-"} MB/s`,
    );
  }
}
