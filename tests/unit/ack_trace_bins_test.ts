// bench/ack_trace.ts `binTrace`: the kernel sender's samples of its own socket, binned — the
// goodput from bytes acknowledged, ACKs per data segment, the state at each bin's last sample.

import assert from "node:assert/strict";
import { binTrace } from "../../bench/ack_trace.ts";

/** A sample at `us` with `acked` bytes, `acks` ACKs in, `segs` data segments out, srtt `rtt`. */
function sample(us: number, acked: number, acks: number, segs: number, rtt: number): number[] {
  // t, acked, segs_in, data_segs_out, pacing, delivery, cwnd, unacked, rtt, bbr bw, min rtt,
  // pacing gain ×256, cwnd gain ×256, busy, rwnd-limited, sndbuf-limited (µs)
  return [us, acked, acks, segs, 5e9, 4e9, 46, 1, rtt, 4.5e9, 8, 320, 512, us, us / 4, 0];
}

Deno.test("ack_trace binTrace: rates over each bin, state at its last sample", () => {
  const s = [
    sample(0, 0, 0, 0, 18),
    sample(1000, 1_000_000, 10, 100, 20),
    sample(2000, 2_000_000, 20, 200, 20),
    sample(2500, 2_000_000, 20, 200, 20),
    // A slow bin: a quarter of the bytes, one ACK per 100 segments, srtt 900 µs.
    sample(4000, 2_500_000, 21, 300, 900),
  ];
  const bins = binTrace(s, 2);
  assert.equal(bins.length, 2);
  assert.equal(bins[0].ms, 0);
  assert.equal(bins[0].gbps, 8); // 2 MB in 2 ms
  assert.equal(bins[0].acksPerSeg, 0.1);
  assert.equal(bins[0].rttUs, 20);
  assert.equal(bins[0].pacingGbps, 40);
  assert.equal(bins[0].bbrBwGbps, 36);
  assert.equal(bins[0].pacingGain, 1.25);
  assert.equal(bins[0].rwndLimited, 0.25);
  assert.equal(bins[1].ms, 2);
  assert.equal(bins[1].gbps, 2); // 0.5 MB in 2 ms
  assert.equal(bins[1].acksPerSeg, 0.01);
  assert.equal(bins[1].rttUs, 900);
});
