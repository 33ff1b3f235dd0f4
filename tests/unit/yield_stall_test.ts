// The busy poll's stalled-yield guard (EventLoopOptions.yieldStallUs): with a CPU-bound process
// on the loop's CPU, a sched_yield() hands it the CPU until the scheduler's next tick; the loop
// then stops busy-polling and waits instead. Without the option it keeps spinning.

import assert from "node:assert/strict";
import { cpuAffinity, setCpuAffinity } from "../../ffi/sched.ts";
import { Runtime } from "../../mod.ts";
import type { EventLoopStats } from "../../stack/event_loop.ts";

/** Run a loopback stack that busy-polls for 1 s next to a CPU hog on its CPU; its loop stats. */
async function spinBesideHog(yieldStallUs: number | undefined): Promise<EventLoopStats> {
  const before = cpuAffinity();
  if (typeof before === "number") throw new Error(`sched_getaffinity: errno ${-before}`);
  const cpu = before[before.length - 1];
  const hog = new Deno.Command("taskset", {
    args: ["-c", String(cpu), "sh", "-c", "while :; do :; done"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    assert.equal(setCpuAffinity([cpu]), 0);
    await using rt = await Runtime.start({
      driver: "loopback",
      addr: "198.18.9.1/24",
      loop: { busyPollUs: 1_000_000, yieldStallUs },
    });
    // Bounded: 200 ms of the loop's life, in Deno turns it still takes while spinning.
    await new Promise((r) => setTimeout(r, 200));
    return { ...rt.loop.stats };
  } finally {
    setCpuAffinity(before);
    hog.kill("SIGKILL");
    await hog.status;
  }
}

Deno.test({
  name: "loop: a sched_yield stalled by a CPU hog ends the busy poll (yieldStallUs)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = await spinBesideHog(200);
    assert.ok(s.yieldStalls >= 1, `yieldStalls ${s.yieldStalls}`);
    assert.ok(s.parks >= 1, `the loop waited instead of spinning: parks ${s.parks}`);
  },
});

Deno.test({
  name: "loop: without yieldStallUs the busy poll keeps spinning beside a CPU hog",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = await spinBesideHog(undefined);
    assert.equal(s.yieldStalls, 0);
    assert.equal(s.parks, 0, "busy-polling for the whole second: no park");
    assert.ok(s.spins > 0);
  },
});
