import assert from "node:assert/strict";
import {
  Bbr,
  BBR_DRAIN,
  BBR_HIGH_GAIN,
  BBR_PACING_GAIN_CYCLE,
  BBR_PROBE_BW,
  BBR_PROBE_RTT,
  BBR_STARTUP,
} from "../../transport/tcp/congestion/bbr.ts";
import { AckSample } from "../../transport/tcp/congestion/congestion_control.ts";

const MSS = 1000;

/**
 * A fluid model of a path for BBR: a link of `bw` bytes/ms and `rtt` ms, with a queue that
 * grows while the sender paces faster than the link (and cwnd allows) and drains otherwise.
 * Each round delivers what was in flight, one ACK per segment.
 */
class Path {
  now = 0;
  delivered = 0;
  queue = 0;
  /** Every state BBR was in after an ACK. */
  readonly states: Set<number> = new Set();
  constructor(readonly bbr: Bbr, public bw: number, public rtt: number) {}

  /** One round trip. */
  round(opts: { lost?: number; appLimited?: boolean } = {}): void {
    const bbr = this.bbr;
    const bdp = this.bw * this.rtt;
    const sendRate = Math.min(bbr.pacingRate, bbr.cwnd / this.rtt);
    this.queue = Math.max(0, Math.min(this.queue + (sendRate - this.bw) * this.rtt, bbr.cwnd));
    const inflight = Math.max(
      MSS,
      Math.min(bbr.cwnd, Math.min(sendRate * this.rtt, bdp) + this.queue),
    );
    const rate = inflight >= bdp ? this.bw : inflight / this.rtt;
    const segs = Math.max(1, Math.floor(inflight / MSS));
    const start = this.delivered;
    for (let i = 0; i < segs; i++) {
      const s = new AckSample();
      this.now += (this.rtt + this.queue / this.bw) / segs;
      this.delivered += MSS;
      s.nowMs = this.now;
      s.deliveredBytes = MSS;
      s.ackedBytes = MSS;
      s.delivered = this.delivered;
      // Sent one round earlier, when this much had been delivered.
      s.priorDelivered = Math.max(0, start - inflight + i * MSS);
      s.deliveryRate = rate;
      s.rttMs = this.rtt + this.queue / this.bw;
      s.priorInflight = inflight;
      s.inflight = inflight; // the sender refills as ACKs come
      s.isAppLimited = opts.appLimited ?? false;
      s.lostBytes = i === 0 ? opts.lost ?? 0 : 0;
      bbr.onAck(s);
      this.states.add(bbr.state);
    }
  }
}

Deno.test("bbr: Startup doubles the rate each round, finds the pipe full, drains, probes", () => {
  const bbr = new Bbr(7);
  bbr.init(MSS, 0, 20);
  assert.equal(bbr.state, BBR_STARTUP);
  assert.ok(Math.abs(bbr.pacingRate - (BBR_HIGH_GAIN * 10 * MSS) / 20) < 1e-9);
  assert.equal(bbr.pacingGain, BBR_HIGH_GAIN);
  assert.equal(bbr.cwnd, 10 * MSS);
  assert.ok(bbr.ownsRecovery && bbr.inSlowStart);
  const path = new Path(bbr, 1250, 20); // 10 Mbit/s, 20 ms: BDP 25000 bytes
  for (let r = 0; r < 40; r++) path.round();
  assert.ok(path.states.has(BBR_DRAIN), "went through Drain");
  assert.equal(bbr.state, BBR_PROBE_BW);
  assert.ok(bbr.filledPipe);
  assert.ok(Math.abs(bbr.btlBw - 1250) / 1250 < 0.01, `BtlBw ${bbr.btlBw}`);
  assert.equal(bbr.rtProp, 20);
  // cwnd = 2 × BDP + 3 send quanta (1 ms at the pacing rate, 2 segments at least).
  const bdp = 1250 * 20;
  assert.ok(bbr.cwnd >= 2 * bdp && bbr.cwnd <= 2 * bdp + 3 * 2 * MSS + 3 * 1250 * 1.25 + MSS);
  // The pacing gain cycles through the 8 phases, one RTprop each.
  const gains = new Set<number>();
  for (let r = 0; r < 20; r++) {
    path.round();
    gains.add(bbr.pacingGain);
  }
  assert.deepEqual([...gains].sort(), [...new Set(BBR_PACING_GAIN_CYCLE)].sort());
  assert.ok(bbr.pacingRate >= 0.75 * 1250 && bbr.pacingRate <= 1.25 * 1250 + 1e-9);
});

Deno.test("bbr: app-limited samples do not lower BtlBw; ProbeRTT after 10 s without a lower RTT", () => {
  const bbr = new Bbr(3);
  bbr.init(MSS, 0, 20);
  const path = new Path(bbr, 1250, 20);
  for (let r = 0; r < 40; r++) path.round();
  const bw = bbr.btlBw;
  path.bw = 100; // the application sends little: slow samples, flagged app-limited
  for (let r = 0; r < 15; r++) path.round({ appLimited: true });
  assert.equal(bbr.btlBw, bw);
  path.bw = 1250;
  path.rtt = 25; // RTprop not refreshed (higher RTTs only) for 10 s
  let probed = false;
  for (let r = 0; r < 600 && !probed; r++) {
    path.round();
    if (bbr.state === BBR_PROBE_RTT) {
      probed = true;
      assert.ok(bbr.cwnd <= 4 * MSS, `ProbeRTT cwnd ${bbr.cwnd}`);
    }
  }
  assert.ok(probed, "ProbeRTT entered");
  assert.ok(path.now >= 10_000);
  for (let r = 0; r < 30; r++) path.round();
  assert.equal(bbr.state, BBR_PROBE_BW);
});

Deno.test("bbr recovery: packet conservation for a round, then cwnd restored at the end", () => {
  const bbr = new Bbr(1);
  bbr.init(MSS, 0, 20);
  const path = new Path(bbr, 1250, 20);
  for (let r = 0; r < 40; r++) path.round();
  const before = bbr.cwnd;
  bbr.onCongestionEvent(20 * MSS, path.now);
  assert.equal(bbr.cwnd, 21 * MSS); // in flight + one segment
  const s = new AckSample();
  s.nowMs = path.now + 1;
  s.deliveredBytes = 2 * MSS;
  s.inflight = 19 * MSS;
  s.lostBytes = 5 * MSS;
  s.priorDelivered = -1;
  s.delivered = path.delivered;
  bbr.onAck(s);
  // Conservation: max(cwnd − lost, inflight + delivered) = max(16, 21) segments.
  assert.equal(bbr.cwnd, 21 * MSS);
  bbr.onRecoveryEnd(path.now + 2);
  assert.equal(bbr.cwnd, before);
  bbr.onRetransmitTimeout(0, path.now + 3);
  assert.equal(bbr.cwnd, MSS);
  assert.ok(bbr.undoReduction(path.now + 4));
  assert.equal(bbr.cwnd, before);
  assert.equal(bbr.ssthresh, 0x7fffffff);
});
