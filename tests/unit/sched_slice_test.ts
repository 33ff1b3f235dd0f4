// The fair scheduler's per-thread slice (sched_setattr, Linux >= 6.12): the FFI wrapper reads
// back what it set, and the event loop applies EventLoopOptions.schedSliceUs to its thread.

import assert from "node:assert/strict";
import { schedSliceUs, setSchedSliceUs } from "../../ffi/sched.ts";
import { Runtime } from "../../mod.ts";

/** A kernel that takes a slice for a fair thread (6.12+); older ones answer EINVAL. */
function kernelHasSlices(): boolean {
  const before = schedSliceUs();
  if (before < 0) return false;
  const ok = setSchedSliceUs(before === 300 ? 400 : 300) === 0;
  setSchedSliceUs(0);
  return ok;
}

const ignore = !kernelHasSlices();

Deno.test({
  name: "sched: setSchedSliceUs sets the calling thread's slice, clamps it, 0 restores the default",
  ignore,
  fn() {
    const dflt = schedSliceUs();
    try {
      assert.equal(setSchedSliceUs(250), 0);
      assert.equal(schedSliceUs(), 250);
      assert.equal(setSchedSliceUs(10), 0);
      assert.equal(schedSliceUs(), 100, "the kernel's floor is 100 µs");
      assert.equal(setSchedSliceUs(0), 0);
      assert.equal(schedSliceUs(), dflt);
    } finally {
      setSchedSliceUs(0);
    }
  },
});

Deno.test({
  name: "sched: the event loop asks for EventLoopOptions.schedSliceUs on its thread",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dflt = schedSliceUs();
    assert.notEqual(dflt, 170);
    try {
      await using _rt = await Runtime.start({
        driver: "loopback",
        addr: "198.18.9.1/24",
        loop: { schedSliceUs: 170 },
      });
      // The loop starts in a microtask of this thread; give it a turn.
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(schedSliceUs(), 170);
    } finally {
      setSchedSliceUs(0);
    }
    assert.equal(schedSliceUs(), dflt);
  },
});
