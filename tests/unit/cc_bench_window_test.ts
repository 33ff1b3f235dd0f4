import assert from "node:assert/strict";
import { ssWindowMeans, windowRoundTripUs } from "../../bench/cc_bench.ts";

Deno.test("bench:cc: the kernel sender's window means from `ss -tin` samples", () => {
  const line = (cwnd: number, rtt: number, unacked: number, ssthresh?: number) =>
    `ESTAB 0 0 198.18.0.1:40000 198.18.0.2:5400\n\t cubic wscale:7,7 rto:201 rtt:${rtt}/0.02 ` +
    `ato:40 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:${cwnd}` +
    (ssthresh === undefined ? "" : ` ssthresh:${ssthresh}`) +
    ` bytes_sent:1 pacing_rate 2.5Gbps delivery_rate 1Gbps unacked:${unacked} retrans:0/3`;
  const m = ssWindowMeans(
    [line(20, 0.1, 22, 14), "garbage", line(10, 0.3, 8, 7), line(30, 0.2, 15), ""].join("\n"),
  );
  assert.deepEqual(m, {
    samples: 3,
    cwndSegs: 20,
    ssthreshSegs: 10.5, // the sample before the first reduction shows none: not averaged in
    ssthreshShare: 0.67,
    inflightSegs: 15,
    srttMs: 0.2,
    pacingGbps: 2.5,
  });
  assert.equal(ssWindowMeans("no connection\n"), null);
});

Deno.test("bench:cc: the flight's round trip at the goodput (Little's law)", () => {
  // 20 segments of 1,448 B in flight at 8.5 Gbit/s: a window every 27.3 µs; at 3.3 Gbit/s 70.2.
  assert.equal(windowRoundTripUs(20, 1448, 8.5), 27.3);
  assert.equal(windowRoundTripUs(20, 1448, 3.3), 70.2);
  assert.equal(windowRoundTripUs(null, 1448, 3.3), null);
  assert.equal(windowRoundTripUs(20, 1448, null), null);
  assert.equal(windowRoundTripUs(0, 1448, 3.3), null);
  assert.equal(windowRoundTripUs(20, 1448, 0), null);
});
