// CPU affinity of the loop's thread (sched_setaffinity): the FFI wrapper reads back what it set,
// and the event loop applies EventLoopOptions.cpus to its thread; bench/rr_ab.ts hands `c:`/`s:`
// words to one side only.

import assert from "node:assert/strict";
import { cpuAffinity, setCpuAffinity } from "../../ffi/sched.ts";
import { Runtime } from "../../mod.ts";
import { sideFlags } from "../../bench/rr_ab.ts";

/** The CPUs this thread may use now (the test fails loudly if the kernel says no). */
function allowed(): number[] {
  const cpus = cpuAffinity();
  if (typeof cpus === "number") throw new Error(`sched_getaffinity: errno ${-cpus}`);
  return cpus;
}

Deno.test("sched: setCpuAffinity restricts the calling thread, and the old mask comes back", () => {
  const before = allowed();
  const last = before[before.length - 1];
  try {
    assert.equal(setCpuAffinity([last]), 0);
    assert.deepEqual(allowed(), [last]);
    assert.equal(setCpuAffinity([1024]), -22, "outside the mask: EINVAL, nothing set");
    assert.deepEqual(allowed(), [last]);
  } finally {
    assert.equal(setCpuAffinity(before), 0);
  }
  assert.deepEqual(allowed(), before);
});

/** CPUs this thread may use at load time; with one, pinning to it would change nothing. */
const CPUS_AT_START = cpuAffinity();

Deno.test({
  name: "sched: the event loop pins its thread to EventLoopOptions.cpus",
  // Pinning to the only CPU allowed leaves the mask as it was: the test could not fail.
  ignore: typeof CPUS_AT_START === "number" || CPUS_AT_START.length < 2,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const before = allowed();
    const last = before[before.length - 1];
    try {
      await using _rt = await Runtime.start({
        driver: "loopback",
        addr: "198.18.9.1/24",
        loop: { cpus: [last] },
      });
      // The loop starts in a microtask of this thread; give it a turn.
      await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(allowed(), [last]);
    } finally {
      setCpuAffinity(before);
    }
  },
});

Deno.test({
  name: "sched: without EventLoopOptions.cpus the loop leaves the thread's CPUs alone",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const before = allowed();
    await using _rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(allowed(), before);
  },
});

Deno.test("bench:rr_ab: c: words go to the client's stack only, s: words to the server's", () => {
  const flags = ["--busy-poll", "100", "c:--cpu", "c:0", "s:--cpu", "s:1"];
  assert.deepEqual(sideFlags(flags, "c"), ["--busy-poll", "100", "--cpu", "0"]);
  assert.deepEqual(sideFlags(flags, "s"), ["--busy-poll", "100", "--cpu", "1"]);
});
