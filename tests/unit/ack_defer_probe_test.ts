/**
 * The adaptive ACK deferral's probe (`transport/tcp/ack_defer_probe.ts`) on scripted
 * measurements: it defers when the epochs with deferral cost no more CPU per byte and lose
 * little rate, and not otherwise; a paused flow starts it over; a decision not to defer holds
 * longer each time; while deferring, a worse epoch starts the probe again.
 */
import assert from "node:assert/strict";
import {
  ACK_PROBE_HOLD_MIN_MS,
  AckDeferProbe,
  PROBE_DECIDED_OFF,
  PROBE_DECIDED_ON,
  PROBE_RESTARTED,
} from "../../transport/tcp/ack_defer_probe.ts";

/**
 * Drive `p` in 0.1 ms ticks for `ms`, from `t`: bytes per ms and CPU ms per ms from `rate`
 * and `cpu`, each given deferral on or off. Returns the time reached and what `advance` said.
 */
function drive(
  p: AckDeferProbe,
  state: { t: number; bytes: number; cpu: number },
  ms: number,
  rate: (on: boolean) => number,
  cpu: (on: boolean) => number,
): number[] {
  const said: number[] = [];
  const end = state.t + ms;
  while (state.t < end) {
    state.t += 0.1;
    state.bytes += 0.1 * rate(p.on);
    state.cpu += 0.1 * cpu(p.on);
    if (state.t >= p.nextMs) said.push(p.advance(state.t, state.bytes, state.cpu));
  }
  return said;
}

Deno.test("ack defer probe: deferral cheaper per byte at the same rate is chosen", () => {
  const p = new AckDeferProbe(0);
  const s = { t: 0, bytes: 0, cpu: 0 };
  assert.equal(p.on, false, "no deferral before the first probe");
  const said = drive(p, s, 200, () => 3e6, (on) => on ? 0.6 : 0.9);
  assert(said.includes(PROBE_DECIDED_ON));
  assert(p.on && p.decided);
});

Deno.test("ack defer probe: deferral that costs CPU per byte (a paced sender's timer) is refused", () => {
  const p = new AckDeferProbe(0);
  const s = { t: 0, bytes: 0, cpu: 0 };
  // 40 % fewer bytes at the same CPU: 1.7× the CPU per byte.
  const said = drive(p, s, 200, (on) => on ? 1.8e6 : 3e6, () => 0.9);
  assert(said.includes(PROBE_DECIDED_OFF));
  assert(!said.includes(PROBE_DECIDED_ON));
  assert(!p.on);
  // The same rates, CPU unknown (constant): refused on the rate.
  const q = new AckDeferProbe(0);
  drive(q, { t: 0, bytes: 0, cpu: 0 }, 200, (on) => on ? 1.8e6 : 3e6, () => 0);
  assert.equal(q.decisions, 1);
  assert(!q.decided);
  // Cheaper per byte but slower than the rate bound: refused too.
  const r = new AckDeferProbe(0);
  drive(r, { t: 0, bytes: 0, cpu: 0 }, 200, (on) => on ? 2e6 : 3e6, (on) => on ? 0.3 : 0.9);
  assert(!r.decided && r.decisions === 1);
});

Deno.test("ack defer probe: not deferring holds longer each time; deferring is guarded", () => {
  const p = new AckDeferProbe(0);
  const s = { t: 0, bytes: 0, cpu: 0 };
  const worse = (on: boolean) => on ? 1e6 : 3e6;
  drive(p, s, 200, worse, () => 0.9);
  assert.equal(p.decisions, 1);
  // Decided after the start (40 ms) and four epochs (16 ms each): held 500 ms from there.
  const end1 = p.nextMs;
  assert(Math.abs(end1 - (104 + ACK_PROBE_HOLD_MIN_MS)) < 1, `${end1}`);
  drive(p, s, end1 - s.t + 100, worse, () => 0.9);
  assert.equal(p.decisions, 2);
  assert(Math.abs(p.nextMs - (end1 + 64 + 2 * ACK_PROBE_HOLD_MIN_MS)) < 1, "twice the hold");
  // A probe that defers, then the sender turns: the next epoch starts the probe again.
  const q = new AckDeferProbe(0);
  const sq = { t: 0, bytes: 0, cpu: 0 };
  drive(q, sq, 200, () => 3e6, () => 0.9);
  assert(q.decided && q.on);
  const said = drive(q, sq, 40, (on) => on ? 1.5e6 : 3e6, () => 0.9);
  assert(said.includes(PROBE_RESTARTED), "the guard restarted the probe");
  drive(q, sq, 100, (on) => on ? 1.5e6 : 3e6, () => 0.9);
  assert.equal(q.decisions, 2);
  assert(!q.decided && !q.on, "the new probe refuses deferral");
});

Deno.test("ack defer probe: a pause in the flow starts the probe over", () => {
  const p = new AckDeferProbe(0);
  const s = { t: 0, bytes: 0, cpu: 0 };
  drive(p, s, 60, () => 3e6, () => 0.9); // into the probe's epochs
  assert.equal(p.decisions, 0);
  s.t += 100; // no ACK was due for 100 ms
  assert.equal(p.advance(s.t, s.bytes, s.cpu), PROBE_RESTARTED);
  assert.equal(p.on, false);
});
