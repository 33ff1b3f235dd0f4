import assert from "node:assert/strict";
import { AckSample } from "../../transport/tcp/congestion/congestion_control.ts";
import {
  Cubic,
  CUBIC_BETA,
  CUBIC_C,
  CUBIC_RATE_TICK_MS,
} from "../../transport/tcp/congestion/cubic.ts";
import { HyStartPP } from "../../transport/tcp/congestion/hystart.ts";

const MSS = 1000;

/** A cwnd-limited ACK at `now` delivering `delivered` bytes, with `rtt` and `minRtt`. */
function sample(now: number, delivered: number, rtt = 100, minRtt = 100): AckSample {
  const s = new AckSample();
  s.nowMs = now;
  s.deliveredBytes = delivered;
  s.ackedBytes = delivered;
  s.rttMs = rtt;
  s.minRttMs = minRtt;
  s.srttMs = rtt;
  s.cwndLimited = true;
  return s;
}

Deno.test("cubic: a reduction sets ssthresh = β·cwnd and W_max; the window then follows W(t) (RFC 9438 §4.2)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(100 * MSS); // 100 segments
  cc.onCongestionEvent(100 * MSS, 0);
  assert.equal(cc.ssthresh, 70 * MSS);
  assert.equal(cc.wMaxSegments, 100);
  cc.onRecoveryEnd(0);
  assert.equal(cc.cwnd, 70 * MSS);
  // The epoch starts at the first ACK in congestion avoidance.
  const rtt = 100;
  const k = Math.cbrt((100 - 70) / CUBIC_C);
  let t = 1000;
  const t0 = t;
  let worst = 0;
  // ACK clock: every RTT, one ACK per segment of cwnd.
  while (t - t0 < 2 * k * 1000) {
    const segs = Math.floor(cc.cwnd / MSS);
    for (let i = 0; i < segs; i++) cc.onAck(sample(t + (i * rtt) / segs, MSS, rtt));
    t += rtt;
    const elapsed = (t - t0) / 1000;
    const expect = CUBIC_C * (elapsed - k) ** 3 + 100;
    const err = Math.abs(cc.cwnd / MSS - expect) / expect;
    if (err > worst) worst = err;
  }
  assert.ok(Math.abs(cc.kSeconds - k) < 1e-9, `K ${cc.kSeconds} vs ${k}`);
  assert.ok(worst < 0.1, `cwnd strayed ${(worst * 100).toFixed(1)} % from W(t)`);
  // Past K the window probes beyond W_max.
  assert.ok(cc.cwnd > 100 * MSS);
});

Deno.test("cubic: ssthresh is β·cwnd in whole segments of the whole window (Linux's integer cwnd)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(20.9 * MSS); // 20 whole segments: 14, where 0.7 × 20.9 would be 14.63
  cc.onCongestionEvent(0, 0);
  assert.equal(cc.ssthresh, 14 * MSS);
  cc.setCwnd(2.5 * MSS); // at least two segments
  cc.onCongestionEvent(0, 1);
  assert.equal(cc.ssthresh, 2 * MSS);
});

Deno.test("cubic: fast convergence lowers W_max below a window that had not recovered (§4.7)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(100 * MSS);
  cc.onCongestionEvent(0, 0);
  cc.onRecoveryEnd(0);
  cc.setCwnd(80 * MSS); // the next loss comes before the window reached W_max again
  cc.onCongestionEvent(0, 1);
  assert.ok(Math.abs(cc.wMaxSegments - (80 * (1 + CUBIC_BETA)) / 2) < 1e-9);
  assert.equal(cc.ssthresh, 56 * MSS);
});

Deno.test("cubic: fast convergence compares with the W_max in force, itself lowered by the last one (§4.7)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  const lossAt = (segments: number, now: number) => {
    cc.setCwnd(segments * MSS);
    cc.onCongestionEvent(0, now);
    cc.onRecoveryEnd(now);
  };
  lossAt(100, 0);
  assert.equal(cc.wMaxSegments, 100);
  lossAt(80, 1); // below W_max 100: lowered to 68
  assert.ok(Math.abs(cc.wMaxSegments - 68) < 1e-9, `W_max ${cc.wMaxSegments}`);
  // 75 is below the window of the last loss (80) but above the W_max in force (68): no fast
  // convergence, W_max = cwnd (RFC 9438 §4.7; Linux's last_max_cwnd). Comparing with the
  // last loss's window instead would lower it to 63.75.
  lossAt(75, 2);
  assert.ok(Math.abs(cc.wMaxSegments - 75) < 1e-9, `W_max ${cc.wMaxSegments}`);
  lossAt(60, 3); // below 75: lowered to 51
  assert.ok(Math.abs(cc.wMaxSegments - 51) < 1e-9, `W_max ${cc.wMaxSegments}`);
  // An undo brings back the W_max from before the reduction it undoes.
  assert.ok(cc.undoReduction(4));
  assert.ok(Math.abs(cc.wMaxSegments - 75) < 1e-9, `W_max ${cc.wMaxSegments}`);
});

Deno.test("cubic: the Reno-friendly region takes over on short RTTs (§4.3)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(20 * MSS);
  cc.onCongestionEvent(0, 0);
  cc.onRecoveryEnd(0); // 14 segments, W_max 20
  // 1 ms RTT: in 200 ms the cubic curve barely moves, Reno's estimate grows ~0.53/RTT.
  let t = 0;
  for (let r = 0; r < 200; r++) {
    const segs = Math.floor(cc.cwnd / MSS);
    for (let i = 0; i < segs; i++) cc.onAck(sample(t, MSS, 1, 1));
    t += 1;
  }
  const cubicOnly = CUBIC_C * (0.2 - cc.kSeconds) ** 3 + 20;
  assert.ok(cc.cwnd / MSS > cubicOnly + 20, `cwnd ${cc.cwnd / MSS} vs cubic ${cubicOnly}`);
});

Deno.test("cubic: at an RTT far below the rate tick, Linux's arithmetic — one segment per window from the epoch's first ACK", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(20 * MSS);
  cc.onCongestionEvent(0, 0);
  cc.onRecoveryEnd(0); // 14 segments, W_max 20: K ≈ 2.5 s, the cubic curve is flat for ms
  // 0.1 ms RTT, one ACK per segment: 100 segments delivered within the first 4 ms tick.
  let t = 1000;
  cc.onAck(sample(t, 14 * MSS, 0.1, 0.1)); // the ACK that ended the recovery: 14 segments
  // Linux: the target one tick ahead, in whole segments and rounded toward the plateau, is
  // 15 (W(4 ms) ≈ 14.03), so cnt = 14/(15 − 14): the first window already grows cwnd by one.
  assert.ok(Math.abs(cc.cwnd / MSS - 15) < 1e-6, `cwnd ${cc.cwnd / MSS} after one window`);
  for (let i = 0; i < 86; i++) cc.onAck(sample(t += 0.01, MSS, 0.1, 0.1));
  assert.ok(t - 1000 < CUBIC_RATE_TICK_MS);
  // The rate holds to the tick's end: 100 segments, one segment per 14 — 14 + 100/14.
  // (RFC 9438's per-ACK α would give ≈ 14 + 100·α/15 ≈ 17.5.)
  const expect = 14 + 100 / 14;
  assert.ok(Math.abs(cc.cwnd / MSS - expect) < 0.05, `cwnd ${cc.cwnd / MSS} vs ${expect}`);
  // The next tick recomputes the rate from the (flat) curve: no growth until W_est, which
  // cwnd has outrun, catches up again.
  const atTick = cc.cwnd;
  t = 1000 + CUBIC_RATE_TICK_MS;
  for (let i = 0; i < 30; i++) cc.onAck(sample(t += 0.01, MSS, 0.1, 0.1));
  assert.ok(cc.cwnd - atTick < 0.2 * MSS, `grew ${(cc.cwnd - atTick) / MSS} segments`);
});

Deno.test("cubic: the rate is recomputed at the clock's tick, not the epoch's (Linux's jiffies)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(20 * MSS);
  cc.onCongestionEvent(0, 0);
  cc.onRecoveryEnd(0); // 14 segments, W_max 20
  // The epoch starts 0.1 ms before a tick boundary (1004 ms) and gains its one segment.
  let t = 1003.9;
  for (let i = 0; i < 14; i++) cc.onAck(sample(t += 0.005, MSS, 0.1, 0.1));
  assert.ok(t < 1004 && Math.abs(cc.cwnd / MSS - 15) < 0.01, `cwnd ${cc.cwnd / MSS}`);
  // Past the boundary the rate comes from the flat curve again (a target of 15 segments):
  // no growth until the Reno estimate is ahead, where an epoch-relative tick would have
  // kept one segment per 14 for 4 ms more.
  t = 1004.01;
  for (let i = 0; i < 28; i++) cc.onAck(sample(t += 0.005, MSS, 0.1, 0.1));
  assert.ok(cc.cwnd / MSS < 15.1, `cwnd ${cc.cwnd / MSS}`);
});

Deno.test("cubic: RTO once per series, cwnd 1 SMSS; undo restores; idle restart", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  assert.equal(cc.undoReduction(0), false);
  cc.setCwnd(50 * MSS);
  cc.onRetransmitTimeout(0, 0);
  assert.deepEqual([cc.cwnd, cc.ssthresh], [MSS, 35 * MSS]);
  cc.onRetransmitTimeout(0, 1);
  assert.equal(cc.ssthresh, 35 * MSS); // held
  assert.ok(cc.undoReduction(2));
  assert.equal(cc.cwnd, 50 * MSS);
  cc.onIdleRestart(3);
  assert.equal(cc.cwnd, 10 * MSS);
  assert.ok(cc.ssthresh >= 37 * MSS);
  // Not cwnd-limited: no growth.
  const s = sample(5, MSS);
  s.cwndLimited = false;
  s.priorInflight = 0;
  cc.onAck(s);
  assert.equal(cc.cwnd, 10 * MSS);
});

Deno.test("cubic slow start adds what each ACK delivered, a quarter of it in HyStart++'s CSS", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.onAck(sample(1, 4000));
  assert.equal(cc.cwnd, 14000);
  cc.hystart.inCss = true;
  cc.onAck(sample(2, 4000));
  assert.equal(cc.cwnd, 15000);
});

Deno.test("HyStart++: an RTT rise of RttThresh enters CSS; CSS rounds end slow start (RFC 9406)", () => {
  const h = new HyStartPP();
  h.reset(0);
  let delivered = 0;
  // Rounds of 8 RTT samples; the threshold is the last round's minimum / 8, within [4, 16].
  const round = (rtt: number, n = 8) => {
    const start = delivered;
    for (let i = 0; i < n; i++) {
      const s = new AckSample();
      s.priorDelivered = start + (i === 0 ? 0 : -1);
      delivered += 1000;
      s.delivered = delivered;
      s.rttMs = rtt;
      h.onAck(s);
    }
  };
  round(100);
  round(100);
  assert.ok(!h.inCss);
  round(110); // +10 ms < 100/8 = 12.5 ms: keeps slow start
  assert.ok(!h.inCss);
  round(125); // +15 ms ≥ 110/8 = 13.75 ms
  assert.ok(h.inCss, "an RTT rise above the threshold enters CSS");
  assert.equal(h.growth(4000), 1000);
  round(100); // the RTT fell below the CSS baseline: back to slow start
  assert.ok(!h.inCss);
  round(100);
  round(120);
  assert.ok(h.inCss);
  for (let r = 0; r < 5; r++) round(120);
  assert.ok(h.leaveSlowStart, "after 5 CSS rounds slow start ends");
  assert.equal(h.exits, 2);
});

/** One window of ACKs (one per segment, spread over `rtt` ms) from `t`; returns the next t. */
function window(cc: Cubic, t: number, rtt: number): number {
  const segs = Math.floor(cc.cwnd / MSS);
  for (let i = 0; i < segs; i++) cc.onAck(sample(t + (i * rtt) / segs, MSS, rtt, rtt));
  return t + rtt;
}

Deno.test("cubic: the Reno-friendly estimate grows α = 3(1−β)/(1+β) per window, 1 once past cwnd_prior (§4.3)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(100 * MSS);
  cc.onCongestionEvent(0, 0);
  cc.onRecoveryEnd(0); // 70 segments, W_max = cwnd_prior = 100, K ≈ 4.2 s
  // 10 ms RTT (above the rate tick, so the curve is followed): the curve climbs ~21
  // segments/s near t = 0, Reno's α ≈ 0.53 per window ~53/s — cwnd is W_est's.
  const alpha = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);
  const rtt = 10;
  let t = 1000;
  for (let r = 0; r < 20; r++) t = window(cc, t, rtt);
  const a = cc.cwnd / MSS;
  for (let r = 0; r < 20; r++) t = window(cc, t, rtt);
  const b = cc.cwnd / MSS;
  assert.ok(b < 100, `cwnd ${b}: still below cwnd_prior`);
  const perWindow = (b - a) / 20;
  assert.ok(Math.abs(perWindow - alpha) < 0.08, `${perWindow} segments per window, α = ${alpha}`);
  // Past cwnd_prior (100 segments) α is 1: one segment per window (the curve is still below).
  while (cc.cwnd / MSS < 103) t = window(cc, t, rtt);
  const c = cc.cwnd / MSS;
  for (let r = 0; r < 20; r++) t = window(cc, t, rtt);
  assert.ok(cc.cubicWindow((t - cc.epochStartMs) / 1000) < c, "the curve is below: Reno's region");
  const perWindow1 = (cc.cwnd / MSS - c) / 20;
  assert.ok(Math.abs(perWindow1 - 1) < 0.1, `${perWindow1} segments per window past cwnd_prior`);
});

Deno.test("cubic: the first epoch after a timeout starts its curve at cwnd with K = 0 (§4.8)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(50 * MSS);
  cc.onRetransmitTimeout(0, 0); // cwnd 1, ssthresh 35, W_max 50
  assert.equal(cc.wMaxSegments, 50);
  let t = 100;
  while (cc.inSlowStart) cc.onAck(sample(t += 1, MSS, 10, 10));
  assert.equal(cc.cwnd, 35 * MSS);
  cc.onAck(sample(t += 1, MSS, 10, 10)); // the first congestion-avoidance ACK: the epoch
  assert.ok(cc.epochStartMs >= 0);
  // K = 0 and W_max = the epoch's first cwnd, where the window before the timeout (50)
  // would give K = ∛(15/C) ≈ 3.3 s of concave approach to 50.
  assert.equal(cc.kSeconds, 0);
  assert.equal(cc.wMaxSegments, 35);
  assert.equal(cc.cubicWindow(0), 35);
  // A later loss is an ordinary one again: W_max its window, no fast convergence.
  for (let r = 0; r < 5; r++) t = window(cc, t, 10);
  const w = cc.cwnd / MSS;
  cc.onCongestionEvent(0, t);
  assert.ok(Math.abs(cc.wMaxSegments - w) < 1 / MSS, `W_max ${cc.wMaxSegments} vs ${w}`);
  cc.onRecoveryEnd(t);
  cc.onAck(sample(t += 1, MSS, 10, 10));
  assert.ok(cc.kSeconds > 1, `K ${cc.kSeconds}: a concave approach to W_max`);
});

Deno.test("cubic: a spurious reduction's undo restores W_max, K, the epoch and W_est (§4.9)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(100 * MSS);
  cc.onCongestionEvent(0, 0);
  cc.onRecoveryEnd(0); // 70, W_max 100
  let t = 1000;
  for (let r = 0; r < 10; r++) t = window(cc, t, 10);
  const epoch = cc.epochStartMs;
  const k = cc.kSeconds;
  const cwnd = cc.cwnd;
  assert.equal(epoch, 1000);
  cc.onCongestionEvent(0, t); // fast convergence: W_max = cwnd·0.85
  assert.ok(cc.wMaxSegments < 70);
  cc.setCwnd(cwnd - 5 * MSS); // PRR on its way down
  assert.ok(cc.undoReduction(t + 1));
  assert.equal(cc.cwnd, cwnd);
  assert.equal(cc.ssthresh, 70 * MSS);
  assert.equal(cc.wMaxSegments, 100);
  // The epoch goes on where it was: same start, same K (a new epoch would start at the next
  // ACK with K from cwnd, and the time spent in recovery would not count).
  assert.equal(cc.epochStartMs, epoch);
  assert.equal(cc.kSeconds, k);
  cc.onAck(sample(t + 2, MSS, 10, 10));
  assert.equal(cc.epochStartMs, epoch);
  assert.equal(cc.kSeconds, k);
});

Deno.test("cubic: an undo after cwnd has grown back keeps the current state (§4.9)", () => {
  const cc = new Cubic();
  cc.init(MSS, 0);
  cc.setCwnd(30 * MSS);
  cc.onCongestionEvent(0, 0);
  cc.onRecoveryEnd(0); // 21, W_max 30
  cc.setCwnd(20 * MSS);
  cc.onCongestionEvent(0, 1); // W_max 17 (fast convergence), ssthresh 14
  cc.onRecoveryEnd(1);
  let t = 10;
  for (let r = 0; r < 5; r++) t = window(cc, t, 10);
  cc.setCwnd(21 * MSS); // grown back past the 20 before the reduction
  const epoch = cc.epochStartMs;
  // The D-SACK that shows the second reduction spurious arrives only now.
  assert.equal(cc.undoReduction(t), false);
  assert.equal(cc.cwnd, 21 * MSS);
  assert.equal(cc.ssthresh, 14 * MSS);
  assert.ok(Math.abs(cc.wMaxSegments - 17) < 1e-9, `W_max ${cc.wMaxSegments}`);
  assert.equal(cc.epochStartMs, epoch);
});

// Every short connection makes its HyStart++ state at its first slow-start ACK. Its RTTs in
// ms (Infinity for none) and a round counter of its own were three double fields — a 16-byte
// box each, made with the object — and a second object (with a fourth): 192 B a connection
// on main's code, 96 B as one object of small integers (9 fields of 8 bytes and the header;
// bench/README.md, branch alloc9z).

Deno.test("HyStart++: one object of small integers per connection, fractional RTTs included (< 160 B)", () => {
  const N = 2000;
  const keep: HyStartPP[] = new Array(N);
  const s = new AckSample();
  s.priorDelivered = 0;
  s.delivered = 1000;
  // A connection's first slow-start ACK: a new object, a round begun, one RTT sample.
  const make = (rtt: number): void => {
    for (let i = 0; i < N; i++) {
      const h = new HyStartPP();
      s.rttMs = rtt + i * 1e-3;
      h.onAck(s);
      keep[i] = h;
    }
  };
  // Fields as a live process has them: fractional RTTs, a CSS baseline, a second round.
  for (let r = 0; r < 20; r++) make(0.0573);
  // The median of 15 windows, measured again (up to 5 times) while the bound is missed: beside
  // a benchmark one measurement read 208 B (a concurrent GC's allocations counted in the
  // windows); boxes and a second object are there at every attempt.
  let perObject = Infinity;
  for (let attempt = 0; attempt < 5 && !(perObject < 160); attempt++) {
    const grew: number[] = [];
    for (let r = 0; r < 15; r++) {
      const before = Deno.memoryUsage().heapUsed;
      make(0.0611);
      const after = Deno.memoryUsage().heapUsed;
      if (after >= before) grew.push((after - before) / N);
    }
    assert.ok(grew.length >= 3, `${grew.length} windows without a scavenge`);
    grew.sort((a, b) => a - b);
    perObject = grew[grew.length >> 1];
  }
  if (Deno.env.get("SHOW")) console.log(`${perObject.toFixed(1)} B per HyStart++ state`);
  // < 160, not < 128: after other tests in the same process (a field once given a double —
  // `delivered` past 2**31 bytes, a time — keeps a box for every later object of the class)
  // it measured 128.1 B in the full unit and sim run; main's three boxes and second object
  // are 192 B alone.
  assert.ok(perObject < 160, `${perObject.toFixed(1)} B per HyStart++ state`);
  assert.equal(keep.length, N);
});
