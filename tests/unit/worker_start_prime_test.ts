import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";
import { nodeWorkerStartPrimed, primeNodeWorkerStart } from "../../drivers/node_worker_prime.ts";

const PROBE = new URL("../harness/worker_start_probe.ts", import.meta.url);

/** The probe's answer: optimised before the first Worker's start, and still after it. */
interface Probe {
  optimizedBefore: { bytes: boolean; then: boolean };
  kept: { bytes: boolean; then: boolean };
}

const probe = async (before: string) =>
  await runNativesProbe(PROBE, ["--allow-all"], [before]) as unknown as Probe;

// Each case is a fresh process (the first Worker's cost is paid once per process); V8's `%`
// functions tell whether Maglev code optimised before the start survives it. Only the
// Uint8Array code is asserted: whether the Promise code is dropped too varies from run to run
// in every mode (2–4 of 5 runs keep it, primed or not), so it proves nothing either way.
Deno.test("worker start: unprimed, the first node Worker drops Uint8Array code (the probe sees it)", async () => {
  const r = await probe("none");
  assert.deepEqual(r.optimizedBefore, { bytes: true, then: true });
  assert.equal(r.kept.bytes, false);
});

Deno.test("worker start: after a Runtime started, a TX kicker's Worker drops no Uint8Array code", async () => {
  const r = await probe("runtime");
  assert.deepEqual(r.optimizedBefore, { bytes: true, then: true });
  assert.equal(r.kept.bytes, true);
});

Deno.test("worker start: after primeNodeWorkerStart, the Worker's start drops no Uint8Array code", async () => {
  const r = await probe("prime");
  assert.deepEqual(r.optimizedBefore, { bytes: true, then: true });
  assert.equal(r.kept.bytes, true);
});

Deno.test("worker start: the prime runs once per process, its ports closed", () => {
  // Earlier tests in this process (a Runtime, a driver) may have primed already.
  primeNodeWorkerStart();
  assert.equal(nodeWorkerStartPrimed(), true);
  assert.equal(primeNodeWorkerStart(), false);
});
