// CUBIC under random loss on the simulated wire, against RFC 9438's model: every reduction
// sets ssthresh = β·cwnd (§4.6) and W_max by fast convergence against the W_max in force
// (§4.7); at a 10 ms RTT the Reno-friendly region (§4.3) governs growth, so the mean window
// lies between AIMD(α, β)'s and AIMD(1, β)'s for the loss rate.
// After a retransmission timeout the first epoch's curve starts at its own cwnd (§4.8).

import assert from "node:assert/strict";
import { BulkFlow, connectPair, makeSimNet } from "../harness/sim_net.ts";
import { type Cubic, CUBIC_BETA } from "../../transport/tcp/congestion/cubic.ts";
import { CC_TRACE_FIELDS, CcTrace } from "../../transport/tcp/cc_trace.ts";

/** Mean window (segments) of AIMD(a, b) with one loss per 1/p packets (RFC 9438 §4.3, §5). */
function aimdMeanWindow(a: number, b: number, p: number): number {
  return Math.sqrt((a * (1 + b)) / (2 * (1 - b) * p));
}

Deno.test("tcp congestion: CUBIC under 1 % random loss — each reduction follows §4.6–4.7, the mean window is Reno-friendly (§4.3)", () => {
  const p = 0.01;
  // 50 Mbit/s, 10 ms RTT, a deep queue: the window is set by the random loss alone.
  const net = makeSimNet({
    wire: {
      seed: 5,
      delayMs: 5,
      rateBitsPerSec: 50e6,
      bottleneckQueueFrames: 4000,
      queueFrames: 8192,
    },
    tcp: { congestionControl: "cubic" },
  });
  const { c, s } = connectPair(net);
  net.wire.setFaults({ lossRate: p }, net.portA); // the sender's frames only
  const cc = c.snd.cc as Cubic;
  const mss = c.snd.mss;
  const reduce = cc.onCongestionEvent.bind(cc);
  let reductions = 0;
  let mismatches = 0;
  let fastConvergences = 0;
  const bad: string[] = [];
  cc.onCongestionEvent = (inflight, now) => {
    const w = cc.cwnd / mss;
    const wMaxBefore = cc.wMaxSegments;
    reduce(inflight, now);
    reductions++;
    // §4.7: below the W_max in force, W_max = cwnd·(1 + β)/2; else W_max = cwnd.
    if (Math.abs(w - wMaxBefore) < 0.01) return; // too close to call with whole bytes
    const fc = w < wMaxBefore;
    if (fc) fastConvergences++;
    const expect = fc ? (w * (1 + CUBIC_BETA)) / 2 : w;
    // §4.6 in whole segments, as Linux: ⌊⌊cwnd⌋·β⌋.
    // (`w` is cwnd to the byte below: a window of 15 segments less a fraction of a byte
    // reads 14.9993, so a segment either way is allowed right at a whole number.)
    const ssOf = (x: number) => Math.max(Math.floor(Math.floor(x + 1e-6) * CUBIC_BETA), 2) * mss;
    const ssOk = cc.ssthresh === ssOf(w) || cc.ssthresh === ssOf(w + 1 / mss);
    if (Math.abs(cc.wMaxSegments - expect) > 0.01 || !ssOk) {
      mismatches++;
      if (bad.length < 3) bad.push(`cwnd ${w}, W_max ${wMaxBefore} → ${cc.wMaxSegments}`);
    }
  };
  const flow = new BulkFlow(c, s, 1 << 30);
  // Past slow start and the first losses, then 30 s of congestion avoidance.
  net.run(() => flow.step() || net.clock.nowMs() > 1_002_000, 10_000);
  // The per-ACK trace (uperf --cc-trace) of the measured part.
  const trace = new CcTrace(1 << 18);
  c.snd.loss.ccTrace = trace;
  const reductions0 = reductions;
  const lost0 = net.wire.stats.framesLost;
  const rec0 = net.a.stats.tcp.TCPSackRecovery;
  let last = net.clock.nowMs();
  const t0 = last;
  let area = 0;
  net.run(() => {
    const now = net.clock.nowMs();
    area += (cc.cwnd / mss) * (now - last);
    last = now;
    return flow.step() || now - t0 >= 30_000;
  }, 60_000);
  const mean = area / (last - t0);
  // The trace saw every reduction and the same window.
  const d = trace.snapshot();
  const n = d.length / CC_TRACE_FIELDS;
  assert.ok(n > 10_000 && trace.recorded === n, `${trace.recorded} records`);
  const lastRec = (n - 1) * CC_TRACE_FIELDS;
  // (the first record's own reduction, if it started one, is in its count already)
  const tracedReductions = d[lastRec + 9] - d[9];
  const counted = reductions - reductions0;
  assert.ok(
    tracedReductions <= counted && tracedReductions >= counted - 1,
    `${tracedReductions} reductions traced, ${counted} made`,
  );
  let traced = 0;
  for (let k = 0; k + CC_TRACE_FIELDS < d.length; k += CC_TRACE_FIELDS) {
    traced += (d[k + 1] / mss) * (d[k + CC_TRACE_FIELDS] - d[k]);
  }
  traced /= d[lastRec] - d[0];
  assert.ok(Math.abs(traced - mean) / mean < 0.05, `traced mean cwnd ${traced}, ${mean}`);
  const lost = net.wire.stats.framesLost - lost0;
  const recoveries = net.a.stats.tcp.TCPSackRecovery - rec0;
  assert.equal(net.a.stats.tcp.TCPTimeouts, 0);
  assert.ok(reductions > 200, `${reductions} reductions`);
  assert.ok(fastConvergences > 20, `${fastConvergences} fast convergences`);
  assert.equal(mismatches, 0, `${mismatches} of ${reductions} reductions off §4.6–4.7: ${bad}`);
  // One reduction per loss event: fewer recoveries than drops (two drops in one window make
  // one), not far fewer.
  const perDrop = recoveries / lost;
  assert.ok(perDrop > 0.6 && perDrop <= 1, `${recoveries} recoveries for ${lost} drops`);
  // §4.3: α = 3(1 − β)/(1 + β) until W_est reaches the window before the reduction, 1 after.
  const low = aimdMeanWindow((3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA), CUBIC_BETA, p);
  const high = aimdMeanWindow(1, CUBIC_BETA, p);
  assert.ok(
    mean > 0.9 * low && mean < 1.1 * high,
    `mean cwnd ${mean.toFixed(2)} segments; AIMD(α, β) ${low.toFixed(2)}, AIMD(1, β) ${
      high.toFixed(2)
    }`,
  );
});

Deno.test("tcp congestion: CUBIC after a retransmission timeout — the first epoch's curve starts at its own cwnd, K = 0 (RFC 9438 §4.8)", () => {
  const net = makeSimNet({
    wire: {
      seed: 7,
      delayMs: 5,
      rateBitsPerSec: 50e6,
      bottleneckQueueFrames: 4000,
      queueFrames: 8192,
    },
    tcp: { congestionControl: "cubic" },
  });
  const { c, s } = connectPair(net);
  const cc = c.snd.cc as Cubic;
  const mss = c.snd.mss;
  const flow = new BulkFlow(c, s, 1 << 30);
  // A loss first, so that W_max is set and the sender is in congestion avoidance.
  net.run(() => flow.step() || net.clock.nowMs() > 1_001_000, 5_000);
  net.wire.setFaults({ lossRate: 0.01 }, net.portA);
  net.run(() => flow.step() || net.a.stats.tcp.TCPSackRecovery > 0, 5_000);
  net.wire.setFaults({ lossRate: 0 }, net.portA);
  net.run(() => flow.step() || !cc.inSlowStart && cc.epochStartMs >= 0, 5_000);
  // Then the path goes dark for longer than the RTO: every frame of the sender is lost.
  const timeouts0 = net.a.stats.tcp.TCPTimeouts;
  const wMaxBefore = cc.wMaxSegments;
  assert.ok(wMaxBefore > 10, `W_max ${wMaxBefore}`);
  net.wire.setFaults({ lossRate: 1 }, net.portA);
  assert.ok(net.run(() => flow.step() || net.a.stats.tcp.TCPTimeouts > timeouts0, 5_000));
  net.wire.setFaults({ lossRate: 0 }, net.portA);
  const wMaxAtRto = cc.wMaxSegments;
  // Slow start back to ssthresh, then the first congestion-avoidance ACK starts the epoch.
  assert.ok(net.run(() => flow.step() || !cc.inSlowStart && cc.epochStartMs >= 0, 10_000));
  const cwndAtEpoch = cc.cwnd / mss;
  assert.equal(net.a.stats.tcp.TCPSpuriousRTOs, 0);
  assert.ok(cwndAtEpoch < wMaxAtRto, `cwnd ${cwndAtEpoch}, W_max at the timeout ${wMaxAtRto}`);
  // §4.8: K = 0, W_max = the epoch's first cwnd (within the ACK's growth) — not a concave
  // approach to the W_max of before the timeout.
  assert.equal(cc.kSeconds, 0);
  assert.ok(
    Math.abs(cc.wMaxSegments - cwndAtEpoch) < 1,
    `W_max ${cc.wMaxSegments} vs cwnd ${cwndAtEpoch}`,
  );
  assert.equal(cc.cubicWindow(0), cc.wMaxSegments);
});
