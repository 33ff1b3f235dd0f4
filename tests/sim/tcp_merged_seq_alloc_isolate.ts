// One measurement of `tcp_merged_seq_alloc_test.ts`, run in an isolate of its own (a worker).

import { medianHeapGrowthPerUnit } from "../harness/heap_growth.ts";
import { seqNet, SeqWorkload } from "../harness/seq_workload.ts";

/** Measured windows. */
const ROUNDS = 12;

/**
 * Median heap growth per data segment (bytes) of a bulk transfer at MTU `mtu` with sequence
 * numbers ≥ 2**31, both stacks and the simulated wire, after a warm-up ({@link warmMergedSeq}
 * gives the parameters).
 */
export function measureMergedSeqAlloc(...args: Parameters<typeof warmMergedSeq>): number {
  return warmMergedSeq(...args)();
}

/**
 * {@link measureMergedSeqAlloc} in two steps: the warm-up now, the measurement when the
 * returned function is called — so that a caller can yield to the event loop in between
 * ({@link settleTierUps}). The addresses at `addrPlace` (a key of `ADDR_PLACES`: 198.18.0.x by
 * default, "v6" for fd00:13::x), the wire losing `lossRate` of the frames (seeded: the same
 * frames in every run) and delaying each by `delayMs`, after a warm-up of `warmBytes` (30 MB:
 * pools full, buffers grown, the per-segment code optimised — not yet all the per-ACK code, see
 * {@link STEADY_WARM_BYTES}).
 */
export function warmMergedSeq(
  addrPlace = "high",
  lossRate = 0,
  mtu = 9000,
  delayMs = 0,
  warmBytes = 30e6,
): () => number {
  const net = seqNet("high", mtu, addrPlace, lossRate, delayMs);
  const w = new SeqWorkload(net, false);
  w.bulk(warmBytes);
  return () => {
    const run = { step: () => w.bulk(4e6), units: () => net.a.stats.tcp.OutSegs };
    const [b] = medianHeapGrowthPerUnit([run], ROUNDS);
    return b;
  };
}

/** How long {@link settleTierUps} leaves the event loop to V8 (ms). */
export const SETTLE_MS = 50;

/**
 * Yield to the event loop for {@link SETTLE_MS} between the warm-up and the measurement, as the
 * stack's own loop yields between ticks. The simulated transfer runs synchronously for seconds,
 * and at MTU 1500 with loss its per-segment functions were still asking for V8's top tier at the
 * end of the 30-MB warm-up (marked again and again, their compiles queued behind others): in
 * about half of the processes on an idle machine the first 4–6 of the 12 windows ran in the mid
 * tier at 360–400 B per segment, the median with them (130–370 B), while one 10-ms yield after
 * the warm-up put every window's code in the top tier from the first (the first window 31–47 B,
 * 28 of 28 processes low; bench/README.md, "The lossy MTU 1500 allocation test's flake").
 */
export function settleTierUps(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

// deno-lint-ignore no-explicit-any
const scope = globalThis as any;
const inWorker = typeof scope.WorkerGlobalScope !== "undefined" &&
  scope instanceof scope.WorkerGlobalScope;

/** The lossy run's loss rate (`--loss`): SACK, RACK, TLP and recovery on every path. */
export const LOSSY_RATE = 0.01;

/** The wire's delay with `--fractional` (ms): the clock fractional without loss. */
export const FRACTIONAL_DELAY_MS = 0.0125;

/**
 * The warm-up of `--steady` (bytes): after 30 MB at MTU 9000 (~3,400 segments, ~1,700 ACKs)
 * V8 has not yet optimised every function called per ACK — RTT sampling, the loss-probe timer,
 * HyStart, receive-window autotuning still run in its baseline tier, where every fractional
 * result is a new heap number (~30 of the ~35 B per segment measured after 30 MB); a real
 * connection passes this many bytes in well under a second (bench/README.md, "box35").
 */
export const STEADY_WARM_BYTES = 600e6;

// As a program (the test's runs in processes of their own: V8's flags are per process, and a
// lossy run's JIT state is the process's): one JSON line, the measurement over IPv4 and then
// over IPv6 — with `--loss`, of a transfer losing 1 % of its frames; with `--fractional`, of
// one whose frames take 12.5 µs (no loss, the clock fractional); `--mtu N` (9000 by default);
// `--steady`: after a warm-up of STEADY_WARM_BYTES, not 30 MB. Each measurement's warm-up is
// followed by a yield to the event loop (`settleTierUps`).
// Not in a worker, whose module is its main too.
if (import.meta.main && !inWorker) {
  const loss = Deno.args.includes("--loss") ? LOSSY_RATE : 0;
  const delay = Deno.args.includes("--fractional") ? FRACTIONAL_DELAY_MS : 0;
  const m = Deno.args.indexOf("--mtu");
  const mtu = m >= 0 ? Number(Deno.args[m + 1]) : 9000;
  const warm = Deno.args.includes("--steady") ? STEADY_WARM_BYTES : 30e6;
  const v4 = warmMergedSeq("high", loss, mtu, delay, warm);
  await settleTierUps();
  const v4Bytes = v4();
  const v6 = warmMergedSeq("v6", loss, mtu, delay, warm);
  await settleTierUps();
  const v6Bytes = v6();
  console.log(JSON.stringify({ v4: v4Bytes, v6: v6Bytes }));
}

// As a worker: one question, one answer.
if (inWorker) {
  scope.onmessage = () => {
    scope.postMessage(measureMergedSeqAlloc());
  };
}
