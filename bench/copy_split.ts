/**
 * The send path's two copies of every byte, second by second, from a call-graph profile of the
 * stack's thread: the application's write into the send ring (`ByteRing.#copyIn`, reached from
 * the application's `write`) and the send ring into the TX slot (`ByteRing.peek`/`#copyOut`,
 * reached from the driver's `put`). Both end in glibc's `memmove`; the JS frames above it (V8's
 * perf map, `--v8-flags=--perf-basic-prof`) tell them apart. With the run's per-second rates
 * this gives each copy's cost per byte in each second, so a slow second can be pinned on one
 * copy (`bench/tx_ab.ts --perf-copies DIR` records and prints it for every stack run). The split
 * trusts V8's perf map, whose names can go stale once V8 moves or replaces code (seen at MTU
 * 9000: application copies named under the sender's `output`, so counted as TX copies); the
 * `memmove` total per GB does not depend on names.
 *
 * ```
 * perf record -F 999 -g -t STACK_TID -o run.data -- sleep 10
 * deno run --allow-all bench/copy_split.ts run.data [--gbps 24.1,25.3,…] [--hz 999]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

/** One second of a profile of the stack's thread. */
export interface CopySecond {
  /** Samples of the thread in this second. */
  samples: number;
  /** Of those, samples in `memmove` whatever called it. */
  memmove: number;
  /** `memmove` samples of the send ring → TX slot copy. */
  txCopy: number;
  /** `memmove` samples of the application → send ring copy. */
  appCopy: number;
}

/** Frames of the TX copy (the driver's slot fill, the send ring's peek), inlined or not. */
const TX_FRAMES = /af_packet_tx_ring|'peek |#copyOut|'put |transmit\.ts|'output |'emit /;
/** Frames of the application copy (the ring's write, the connection's write, the app). */
const APP_FRAMES = /#copyIn|'write file:[^ ]*(byte_ring|tcp_conn|sender)|uperf|tcp_conn\.ts/;

/**
 * Which copy a `memmove` sample's call chain (leaf first, one `ip sym` line per frame) belongs
 * to: `"tx"` when a frame of the TX path is on it, else `"app"` when one of the write path is,
 * else `"other"`.
 *
 * @example
 * ```ts
 * copyKind(["16db75 __memmove_avx512_unaligned_erms", "7f JS:+'peek file:///x/core/byte_ring.ts:1:1"]);
 * // "tx"
 * ```
 */
export function copyKind(frames: string[]): "tx" | "app" | "other" {
  let app = false;
  for (const f of frames) {
    if (TX_FRAMES.test(f)) return "tx";
    if (APP_FRAMES.test(f)) app = true;
  }
  return app ? "app" : "other";
}

/**
 * Split `perf script -F time,ip,sym` output (one header line with the time per sample, then its
 * frames leaf first, a blank line between samples) into seconds from the first sample.
 *
 * @example
 * ```ts
 * const s = splitCopies("  12.5: \n\t 1 __memmove_avx512_unaligned_erms\n\t 2 JS:*'put file:///d/af_packet_tx_ring.ts:1:1\n\n");
 * // s[0]: { samples: 1, memmove: 1, txCopy: 1, appCopy: 0 }
 * ```
 */
export function splitCopies(perfScript: string): CopySecond[] {
  const secs: CopySecond[] = [];
  let t0 = -1;
  let sec = -1;
  let frames: string[] = [];
  const flush = () => {
    if (sec < 0) return;
    while (secs.length <= sec) secs.push({ samples: 0, memmove: 0, txCopy: 0, appCopy: 0 });
    const s = secs[sec];
    s.samples++;
    if (frames.length > 0 && frames[0].includes("memmove")) {
      s.memmove++;
      const k = copyKind(frames);
      if (k === "tx") s.txCopy++;
      else if (k === "app") s.appCopy++;
    }
    frames = [];
    sec = -1;
  };
  for (const line of perfScript.split("\n")) {
    const m = /^\s*(?:\S+\s+)?(\d+\.\d+):\s*$/.exec(line);
    if (m !== null) {
      flush();
      const t = Number(m[1]);
      if (t0 < 0) t0 = t;
      sec = Math.floor(t - t0);
    } else if (line.trim() !== "" && sec >= 0) {
      frames.push(line.trim());
    }
  }
  flush();
  return secs;
}

/**
 * One line per second: the rate, and milliseconds of the stack's thread, of `memmove`, of the
 * TX copy and of the application copy per GB sent (`hz`: the profile's sampling rate; `gbps[i]`: second i's
 * rate, e.g. uperf's interval lines; a second without a rate shows sample counts only).
 *
 * @example
 * ```ts
 * copyCostLines([{ samples: 500, memmove: 300, txCopy: 150, appCopy: 150 }], [24], 1000);
 * // ["s0: 24.0 Gbit/s, ms per GB: thread 166.7, memmove 100.0 (TX copy 50.0, app copy 50.0) (500 samples)"]
 * ```
 */
export function copyCostLines(secs: CopySecond[], gbps: number[], hz: number): string[] {
  return secs.map((s, i) => {
    const g = gbps[i];
    if (!(g > 0)) {
      return `s${i}: samples ${s.samples}, memmove ${s.memmove} (TX copy ${s.txCopy}, app copy ${s.appCopy})`;
    }
    const msPerGb = (n: number) => ((n / hz) * 1000 / (g / 8)).toFixed(1);
    return `s${i}: ${g.toFixed(1)} Gbit/s, ms per GB: thread ${msPerGb(s.samples)}, ` +
      `memmove ${msPerGb(s.memmove)} (TX copy ${msPerGb(s.txCopy)}, app copy ${
        msPerGb(s.appCopy)
      }) (${s.samples} samples)`;
  });
}

/**
 * Start `perf record -g` of one thread for `seconds` at `hz` into `file`; resolves when perf
 * is done: true when it wrote a profile (perf ends its `sleep` with SIGTERM and exits with 143
 * when the thread exits first), false when it failed or is missing.
 */
export async function recordThread(
  tid: number,
  seconds: number,
  file: string,
  hz = 999,
): Promise<boolean> {
  try {
    await new Deno.Command("perf", {
      args: [
        "record",
        "-q",
        "-F",
        String(hz),
        "-g",
        "-t",
        String(tid),
        "-o",
        file,
        "--",
        "sleep",
        String(seconds),
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    return (await Deno.stat(file)).size > 0;
  } catch {
    return false;
  }
}

/** The profile in `file` as {@link splitCopies} seconds (empty when perf cannot read it). */
export async function copySeconds(file: string): Promise<CopySecond[]> {
  try {
    const r = await new Deno.Command("perf", {
      args: ["script", "-i", file, "-F", "time,ip,sym"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return r.success ? splitCopies(new TextDecoder().decode(r.stdout)) : [];
  } catch {
    return [];
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    options: { gbps: { type: "string" }, hz: { type: "string", default: "999" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error(
      "usage: deno run --allow-all bench/copy_split.ts PERF_DATA [--gbps a,b,…] [--hz N]",
    );
    Deno.exit(2);
  }
  const secs = await copySeconds(positionals[0]);
  const gbps = (values.gbps ?? "").split(",").filter((x) => x !== "").map(Number);
  for (const l of copyCostLines(secs, gbps, Number(values.hz))) console.log(l);
}
