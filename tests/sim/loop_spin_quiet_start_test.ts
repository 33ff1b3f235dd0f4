// `spinQuietStart`: how a busy-poll spin's first poll begins when `spinQuietUs` is on. With "every"
// it yields, whatever came before; "kick" yields first only when the last busy tick sent frames
// (its kick may have woken a task onto this CPU), else the spin begins in its quiet window; "probe"
// also begins quiet after a kick once first yields keep coming straight back (one spin in
// SPIN_PROBE_EVERY still yields first); a quiet poll that came late ends the window; "stream" (the
// default) is "probe" while the loop is driven without its async function, else a yield before
// every poll. At MTU 9000 a kernel sender's receiver made 0.60 yields per wire packet by default
// and 0.03 with "probe" and a 50 µs window (bench/README.md, "sys13g"). The clock is a source of
// its own (a fixed step per read): a loaded machine's preemptions do not show, and the spins'
// lengths are counted in reads, not in real time.

import assert from "node:assert/strict";
import { makeUdpRxRig } from "../harness/udp_rx_rig.ts";
import { MonotonicClock } from "../../core/clock.ts";
import { SteppingSource } from "../harness/stepping_source.ts";
import { EV_READABLE } from "../../core/event_mux.ts";
import {
  DEFAULT_SPIN_QUIET_US,
  EventLoop,
  type EventLoopOptions,
  type EventLoopStats,
  SPIN_FAST_YIELD_MS,
  SPIN_PROBE_ALONE,
} from "../../stack/event_loop.ts";

/** The quiet window (µs): longer than a spin in these tests (`denoTurnUs` below). */
const QUIET_US = 50;

/** What a busy-polling loop did while the test watched it, and the kicks it was given. */
type Counts =
  & Pick<
    EventLoopStats,
    | "spins"
    | "spinYields"
    | "spinFirstYields"
    | "spinKickYields"
    | "spinQuietStarts"
    | "spinLatePolls"
  >
  & { kicks: number };

/**
 * The spin counters' change from `s0` to `s` (NaN for a counter the loop does not have: main's
 * code before a counter existed).
 */
function spinCounts(s: EventLoopStats, s0: EventLoopStats): Omit<Counts, "kicks"> {
  const d = (k: Exclude<keyof Counts, "kicks">) => (s[k] ?? NaN) - (s0[k] ?? NaN);
  return {
    spins: d("spins"),
    spinYields: d("spinYields"),
    spinFirstYields: d("spinFirstYields"),
    spinKickYields: d("spinKickYields"),
    spinQuietStarts: d("spinQuietStarts"),
    spinLatePolls: d("spinLatePolls"),
  };
}

/**
 * A busy-polling loop on a clock of `stepMs` per read, spins of ~10 µs (`denoTurnUs` 10: each
 * ends at a turn of Deno's event loop), for 300 ms (up to 6 s while its polls or kicks are few:
 * beside busy processes a 1-ms interval fires late).
 * With `kicks`, every 1 ms (or later: a timer) a datagram arrives and the tick that takes it
 * "sends" a frame (the driver's `txFrames` moved on: the loop's sign of a kick).
 */
async function watch(stepMs: number, opts: EventLoopOptions, kicks: boolean): Promise<Counts> {
  const rig = makeUdpRxRig({ mtu: 1500, clock: new MonotonicClock(new SteppingSource(stepMs)) });
  rig.driver.framesPerReceive = 1;
  rig.driver.limit = 1;
  const loop = new EventLoop(rig.stack, { busyPollUs: 1e12, denoTurnUs: 10, ...opts });
  const s = loop.stats;
  const s0 = { ...s };
  const running = loop.run();
  const feed = kicks
    ? setInterval(() => {
      rig.driver.limit++;
      rig.driver.stats.txFrames++;
    }, 1)
    : undefined;
  try {
    // Until the counts the tests ask for: more than 200 polls and more than 100 kicks.
    const few = () => s.spins - s0.spins <= 200 || (kicks && rig.driver.limit < 102);
    for (let waited = 0; waited < 6000 && (waited < 300 || few());) {
      await new Promise((r) => setTimeout(r, 100));
      waited += 100;
    }
    return { ...spinCounts(s, s0), kicks: rig.driver.limit - 1 };
  } finally {
    if (feed !== undefined) clearInterval(feed);
    await loop.close();
    await running;
    rig.stack.close();
  }
}

/** 1 µs a read: every yield comes straight back, no poll comes late. */
const FAST = SPIN_FAST_YIELD_MS / 5;

Deno.test({
  name: "sim loop spin quiet start: kick — a spin after a tick that sent nothing begins quiet",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await watch(FAST, { spinQuietUs: QUIET_US, spinQuietStart: "kick" }, false);
    assert.ok(r.spins > 200, `${r.spins} polls`);
    // A spin (~10 polls) is shorter than the window: no yield at all. Main's first yield per
    // spin (one per ~10 polls) fails.
    assert.ok(r.spinYields * 50 < r.spins, `${r.spinYields} yields in ${r.spins} polls`);
    assert.ok(r.spinQuietStarts > 0, `${r.spinQuietStarts} quiet starts`);
  },
});

Deno.test({
  name: "sim loop spin quiet start: kick — after a kick the first poll still yields",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await watch(FAST, { spinQuietUs: QUIET_US, spinQuietStart: "kick" }, true);
    assert.ok(r.spins > 200, `${r.spins} polls`);
    assert.ok(r.spinKickYields > 0, `${r.spinKickYields} first yields after a kick`);
    assert.equal(r.spinKickYields, r.spinFirstYields);
  },
});

Deno.test({
  name: "sim loop spin quiet start: probe — first yields that come straight back stop after kicks",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const kick = await watch(FAST, { spinQuietUs: QUIET_US, spinQuietStart: "kick" }, true);
    const probe = await watch(FAST, { spinQuietUs: QUIET_US, spinQuietStart: "probe" }, true);
    assert.ok(kick.kicks > 100 && probe.kicks > 100, `${kick.kicks}, ${probe.kicks} kicks`);
    // "kick" yields first in the spin after every kick (a tick that took two datagrams kicked
    // once); "probe" in one of SPIN_PROBE_EVERY once SPIN_PROBE_ALONE first yields came straight
    // back. Main's counters do not exist (NaN).
    assert.ok(
      kick.spinKickYields > kick.kicks / 2,
      `kick: ${kick.spinKickYields} in ${kick.kicks}`,
    );
    assert.ok(
      probe.spinKickYields < SPIN_PROBE_ALONE + probe.kicks / 4,
      `probe: ${probe.spinKickYields} first yields after ${probe.kicks} kicks`,
    );
  },
});

Deno.test({
  name: "sim loop spin quiet start: a quiet poll that came late ends the window",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // 10 µs a read: every poll looks as if the CPU went elsewhere, and every yield too.
    // Spins of ~50 polls (denoTurnUs 500).
    const r = await watch(
      SPIN_FAST_YIELD_MS * 2,
      { spinQuietUs: QUIET_US, spinQuietStart: "kick", denoTurnUs: 500 },
      false,
    );
    assert.ok(r.spins > 100, `${r.spins} polls`);
    assert.ok(r.spinLatePolls > 0, `${r.spinLatePolls} late polls`);
    // Each spin's first poll goes quiet and comes late; the rest yield (none came back alone).
    assert.ok(r.spinLatePolls <= r.spinQuietStarts, `${r.spinLatePolls} late polls`);
    assert.ok(r.spinYields * 3 > r.spins, `${r.spinYields} yields in ${r.spins} polls`);
  },
});

Deno.test({
  name: "sim loop spin quiet start: stream — probe while driven without the async function",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The idle rig's loop turns Deno's event loop from setImmediate (no reactions to wait for).
    const r = await watch(FAST, { spinQuietUs: QUIET_US, spinQuietStart: "stream" }, false);
    assert.ok(r.spins > 200, `${r.spins} polls`);
    assert.ok(r.spinYields * 50 < r.spins, `${r.spinYields} yields in ${r.spins} polls`);
    assert.ok(r.spinQuietStarts > 0, `${r.spinQuietStarts} quiet starts`);
  },
});

Deno.test({
  name: "sim loop spin quiet start: the default is stream with a 50 µs window",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    assert.equal(DEFAULT_SPIN_QUIET_US, 50);
    // No spin options: the stream consumer's spins begin quiet, as with "stream" above. The
    // earlier default (a yield before every poll) fails.
    const r = await watch(FAST, {}, false);
    assert.ok(r.spins > 200, `${r.spins} polls`);
    assert.ok(r.spinYields * 50 < r.spins, `${r.spinYields} yields in ${r.spins} polls`);
    assert.ok(r.spinQuietStarts > 0, `${r.spinQuietStarts} quiet starts`);
  },
});

/**
 * An awaiting loop by default: a task awaits the socket's readiness (`wq.wait`, a promise per
 * wait, as a request/response client's read does), drains the datagram, and the next one
 * arrives `gapPolls` polls of the driver later (counted in calls, not in time: a loaded
 * machine's stalls do not show). Every delivery wakes the awaiting task, so the loop stays
 * with its async function; between deliveries it spins. Returns the spins' counts over
 * `rounds` deliveries (or what came within 5 s).
 */
async function awaitingRounds(
  rounds: number,
  gapPolls: number,
): Promise<Counts & { got: number; directYields: number }> {
  const rig = makeUdpRxRig({ mtu: 9000, clock: new MonotonicClock(new SteppingSource(FAST)) });
  const driver = rig.driver;
  driver.framesPerReceive = 1;
  driver.limit = 0;
  let polls = 0;
  let releaseAt = gapPolls;
  const receive = driver.receive.bind(driver);
  driver.receive = (batch, max) => {
    // The next datagram (one frame at MTU 9000) once the gap is over.
    if (++polls >= releaseAt && driver.limit === driver.handedOut) driver.limit++;
    return receive(batch, max);
  };
  // Default options but for a long busy poll; a turn of Deno's event loop is due every 200
  // reads (1 µs each), past the gap: one spin per gap, ending at the datagram.
  const loop = new EventLoop(rig.stack, { busyPollUs: 1e12, denoTurnUs: 200 });
  const s = loop.stats;
  const s0 = { ...s };
  const running = loop.run();
  const sock = rig.socket;
  const buf = new Uint8Array(9000);
  let got = 0;
  // Bounded, with room for a loaded machine: beside two busy processes every yield gives a CPU
  // away for a while, and 100 rounds took 8–10 s.
  const deadline = performance.now() + 20000;
  try {
    while (got < rounds && performance.now() < deadline) {
      const timeout = new Promise<number>((r) => setTimeout(() => r(0), 100));
      const ev = await Promise.race([sock.wq.wait(EV_READABLE), timeout]);
      if (ev === 0) continue;
      while (sock.recvfrom(buf, 0, buf.length, null) >= 0) got++;
      releaseAt = polls + gapPolls;
    }
    return {
      ...spinCounts(s, s0),
      kicks: 0,
      got,
      directYields: s.directYields - s0.directYields,
    };
  } finally {
    await loop.close();
    await running;
    rig.stack.close();
  }
}

Deno.test({
  name: "sim loop spin quiet start: by default a loop that awaits keeps a yield on every poll",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // "stream" (the default) quiets only a loop driven without its async function; a task
    // awaiting each datagram keeps the loop in it, and its spins yield before every poll as
    // with `spinQuietUs` 0. The spins begin without a kick: if the default were "probe" (or
    // "kick") for every loop, they would all begin quiet, ~50 polls (50 µs at 1 µs a read)
    // without a yield, and fail.
    const r = await awaitingRounds(100, 40);
    assert.ok(r.got >= 100, `${r.got} datagrams`);
    assert.ok(r.spins > 500, `${r.spins} polls`);
    // The loop never left its async function (no turn from a setImmediate callback).
    assert.equal(r.directYields, 0, `${r.directYields} turns without the async function`);
    assert.equal(r.spinQuietStarts, 0, `${r.spinQuietStarts} quiet starts`);
    assert.equal(r.spinYields, r.spins, `${r.spinYields} yields in ${r.spins} polls`);
  },
});
