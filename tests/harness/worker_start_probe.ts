/**
 * Run by `tests/unit/worker_start_prime_test.ts` in a child `deno run
 * --v8-flags=--allow-natives-syntax` with one argument, what runs before the hot code:
 * `none` (nothing), `runtime` (a loopback {@link Runtime} is started and stopped) or `prime`
 * (`primeNodeWorkerStart()` alone). Then it optimises (Maglev, the tier the hot path runs in
 * when the kicker starts) two functions of the kind the first node Worker's start throws away
 * (one on `Uint8Array` methods and getters, one on `Promise.prototype.then`), starts the
 * process's first `node:worker_threads` Worker — a TX kicker on the stand-in module, as the
 * af_packet driver starts one at its first bulk batch — and prints one JSON line: whether each
 * function was optimised before the start and still is after it.
 *
 * @module
 */

import { Runtime } from "../../stack/runtime.ts";
import { primeNodeWorkerStart } from "../../drivers/node_worker_prime.ts";
import { TxKicker } from "../../drivers/tx_kicker.ts";
import {
  type Fn,
  isOptimized as optimized,
  optimizeMaglevNext as optimizeNext,
  prepare,
} from "./v8_natives.ts";

/** Optimise `f` on `arg` (50 calls, then an optimised one); true when it is optimised. */
function optimize<T>(f: (a: T) => unknown, arg: T): boolean {
  prepare(f as Fn);
  for (let i = 0; i < 50; i++) f(arg);
  optimizeNext(f as Fn);
  f(arg);
  return optimized(f as Fn);
}

function bytes(u: Uint8Array): number {
  return u.subarray(2, 6).length + u.buffer.byteLength;
}

function then(p: Promise<number>): Promise<number> {
  return p.then((x) => x + 1);
}

// The process's first async op (a real stack's first is its event loop's first park, a
// `nonblocking` FFI poll) drops code on `Promise.prototype.then` once, as the first Worker's
// start would: done here in every mode. (The Worker's start still drops the Promise code in
// some runs, primed or not: the test reads only the Uint8Array function.)
await Deno.readTextFile(new URL(import.meta.url));

const before = Deno.args[0] ?? "none";
if (before === "runtime") {
  const rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
  await rt.stop();
} else if (before === "prime") {
  primeNodeWorkerStart();
}

const u = new Uint8Array(16);
const p = Promise.resolve(1);
const optimizedBefore = { bytes: optimize(bytes, u), then: optimize(then, p) };
const kicker = TxKicker.start(0, 0, new URL("../unit/tx_kicker_probe_worker.ts", import.meta.url));
const kept = { bytes: optimized(bytes as Fn), then: optimized(then as Fn) };
kicker.waitRunning(10_000);
kicker.close();
console.log(JSON.stringify({ before, optimizedBefore, kept }));
