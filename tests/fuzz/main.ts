/**
 * `deno task fuzz --frames N --seed S`: drive the whole stack in-process with N fuzzed frames
 * (seeded mutations of captured real frames, and structure-aware generators) and end with
 *
 * ```
 * fuzz: <N> frames, <E> escapes, <L> leaked buffers, <R> frames/s
 * ```
 *
 * Exit status 0 only when E and L are 0. The same seed injects the same frames. An epoch that
 * ends with an escape or a leak is written as a regression script to `--crash-dir` (default:
 * `tests/fuzz/corpus/regressions/`, which `fuzz_test.ts` replays). Progress goes to stderr.
 *
 * Options: `--frames N` [1 000 000], `--seed S` [1], `--epoch-frames N` [4096],
 * `--crash-dir DIR`, `--no-crash-files`, `--plant escape|leak` (self-test: plant a flaw the
 * fuzzer must find), `--quiet` (no progress), `--counters` (the hosts' counters summed: how
 * deep the frames got).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { loadSeeds, REGRESSIONS_DIR } from "./corpus.ts";
import { resultLine, runFuzz } from "./fuzzer.ts";

const USAGE = "usage: deno task fuzz [--frames N] [--seed S] [--epoch-frames N] " +
  "[--crash-dir DIR | --no-crash-files] [--plant escape|leak] [--quiet] [--counters]";

function main(args: string[]): number {
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        frames: { type: "string", default: "1000000" },
        seed: { type: "string", default: "1" },
        "epoch-frames": { type: "string", default: "4096" },
        "crash-dir": { type: "string" },
        "no-crash-files": { type: "boolean", default: false },
        plant: { type: "string" },
        quiet: { type: "boolean", default: false },
        counters: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const frames = Number(v.frames);
  const seed = Number(v.seed);
  const epochFrames = Number(v["epoch-frames"]);
  const ok = (x: number) => Number.isSafeInteger(x) && x >= 0;
  if (!ok(frames) || !ok(seed) || seed > 0xffffffff || !(ok(epochFrames) && epochFrames > 0)) {
    console.error(`--frames, --seed (< 2^32) and --epoch-frames take whole numbers\n${USAGE}`);
    return 2;
  }
  if (v.plant !== undefined && v.plant !== "escape" && v.plant !== "leak") {
    console.error(`--plant takes escape or leak\n${USAGE}`);
    return 2;
  }
  const r = runFuzz({
    frames,
    seed,
    seeds: loadSeeds(),
    epochFrames,
    crashDir: v["no-crash-files"] ? null : (v["crash-dir"] ?? REGRESSIONS_DIR),
    plant: v.plant as "escape" | "leak" | undefined,
    progress: v.quiet ? null : (line) => console.error(line),
  });
  if (v.counters) {
    for (const [k, n] of Object.entries(r.counters).sort()) console.error(`  ${k} ${n}`);
  }
  for (const e of r.found) console.error(`escape (${e.where}): ${e.message}`);
  for (const f of r.scripts) console.error(`regression script written: ${f}`);
  console.error(
    `fuzz: ${r.seconds.toFixed(1)} s, peak heap ${(r.peakHeapBytes / 2 ** 20).toFixed(0)} MiB, ` +
      `${r.stuckEndpoints} endpoints left after draining, digest ${
        r.digest.toString(16).padStart(8, "0")
      }`,
  );
  console.log(resultLine(r));
  return r.escapes === 0 && r.leaked === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(main(Deno.args));
