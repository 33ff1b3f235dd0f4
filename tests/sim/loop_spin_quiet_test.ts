// With `spinQuietUs` the busy poll's `sched_yield` only while another task wants the CPU: a
// yield that comes straight back (within SPIN_FAST_YIELD_MS of the loop's last clock read) is
// followed by spinQuietUs of polls without one; a yield that took longer (another task ran)
// keeps the next poll's yield. Off with spinQuietUs 0: a yield before every poll, counted. Before, every poll yielded: at MTU 9000 a kernel sender's receiver made
// ~165,000 yields a second, 83 % of its thread's syscalls (bench/README.md, "rx13a"). Every
// yield is counted (`spinYields`). The clock is a source of its own: a loaded machine's
// preemptions do not show.

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import { MonotonicClock } from "../../core/clock.ts";
import { SteppingSource } from "../harness/stepping_source.ts";
import { EventLoop, SPIN_FAST_YIELD_MS, yieldWasAlone } from "../../stack/event_loop.ts";

/** The quiet window the tests ask for (µs): the setting measured in bench/README.md, "rx13a". */
const QUIET_US = 20;

/**
 * An idle busy-polling loop for 200 ms (up to 2 s while its polls are few: beside busy
 * processes every real yield may hand the CPU away for a scheduler slice) on a clock of
 * `stepMs` per read: its polls and yields.
 */
async function idleSpin(
  stepMs: number,
  spinQuietUs?: number,
): Promise<{ spins: number; yields: number }> {
  const rig = makeUdpRxRig({ mtu: 1500, clock: new MonotonicClock(new SteppingSource(stepMs)) });
  // One datagram, then nothing: the loop busy-polls for the rest of the test.
  rig.driver.framesPerReceive = 1;
  rig.driver.limit = 1;
  // Every spin's first poll yields ("every"): these tests are about the window after a yield;
  // how a spin begins is loop_spin_quiet_start_test's.
  const loop = new EventLoop(rig.stack, {
    busyPollUs: 1e12,
    denoTurnUs: 2000,
    spinQuietUs,
    spinQuietStart: "every",
  });
  const s0 = { ...loop.stats };
  const running = loop.run();
  try {
    const s = loop.stats;
    for (let waited = 0; waited < 2000 && (waited < 200 || s.spins - s0.spins <= 100);) {
      await new Promise((r) => setTimeout(r, 100));
      waited += 100;
    }
    return { spins: s.spins - s0.spins, yields: s.spinYields - s0.spinYields };
  } finally {
    await loop.close();
    await running;
    rig.stack.close();
  }
}

Deno.test({
  name: "sim loop spin quiet: yields that come straight back are followed by polls without one",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // 1 µs a read: every yield is fast, then ~20 polls (one read each) go without a yield.
    const step = SPIN_FAST_YIELD_MS / 5;
    const r = await idleSpin(step, QUIET_US);
    assert.ok(r.spins > 100, `${r.spins} spins`);
    assert.ok(r.yields > 0, `${r.yields} yields`);
    const perYield = QUIET_US / 1000 / step; // 20 polls
    // At most one yield per quiet window (and the first poll of each spin): a yield per poll
    // (main's spin) fails.
    assert.ok(
      r.yields * (perYield / 2) < r.spins,
      `${r.yields} yields in ${r.spins} polls`,
    );
  },
});

Deno.test({
  name: "sim loop spin quiet: a yield that took longer keeps a yield before every poll",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // 10 µs a read: every yield looks as if another task ran.
    const r = await idleSpin(SPIN_FAST_YIELD_MS * 2, QUIET_US);
    assert.ok(r.spins > 100, `${r.spins} spins`);
    assert.equal(r.yields, r.spins, `${r.yields} yields in ${r.spins} polls`);
  },
});

Deno.test("sim loop spin quiet: a yield slower than 1.5× the fastest gave the CPU away", () => {
  // A bare yield on this machine (a PVM guest: ~1.6 µs a syscall), and one in which another
  // busy-polling stack on the same CPU ran its poll and yield: still under SPIN_FAST_YIELD_MS,
  // but no yield to go quiet after (its next poll would wait up to spinQuietUs).
  assert.equal(yieldWasAlone(0.0016, 0.0015), true);
  assert.equal(yieldWasAlone(0.004, 0.0015), false);
  // Never beyond SPIN_FAST_YIELD_MS, whatever the fastest.
  assert.equal(yieldWasAlone(SPIN_FAST_YIELD_MS, SPIN_FAST_YIELD_MS), false);
});

Deno.test({
  name: "sim loop spin quiet: off with spinQuietUs 0, a yield before every poll, each counted",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await idleSpin(SPIN_FAST_YIELD_MS / 5, 0);
    assert.ok(r.spins > 100, `${r.spins} spins`);
    assert.equal(r.yields, r.spins, `${r.yields} yields in ${r.spins} polls`);
  },
});
