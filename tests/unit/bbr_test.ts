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
      s.intervalMs = this.rtt;
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

Deno.test("bbr: ACKs in bursts raise the cwnd target by the extra acked, for 10 rounds", () => {
  const bbr = new Bbr(5);
  bbr.init(MSS, 0, 20);
  const path = new Path(bbr, 1250, 20); // BDP 25,000 bytes
  for (let r = 0; r < 40; r++) path.round();
  assert.equal(bbr.state, BBR_PROBE_BW);
  /** One ACK of one segment sent a BDP earlier, `gapMs` after the previous one. */
  const ack = (gapMs: number) => {
    const s = new AckSample();
    path.now += gapMs;
    path.delivered += MSS;
    s.nowMs = path.now;
    s.deliveredBytes = MSS;
    s.ackedBytes = MSS;
    s.delivered = path.delivered;
    s.priorDelivered = path.delivered - 25 * MSS;
    s.deliveryRate = 1250;
    s.intervalMs = 20;
    s.rttMs = 20;
    s.priorInflight = 25 * MSS;
    s.inflight = 25 * MSS;
    bbr.onAck(s);
  };
  // ACKs a little below the bottleneck's pace (one segment per ms, 0.8 × BtlBw, as a path's
  // ACKs mostly come below its max-filtered rate) for 12 rounds: nothing beyond BtlBw's share.
  for (let i = 0; i < 12 * 26; i++) ack(1);
  assert.ok(bbr.extraAcked <= 2 * MSS, `extra acked with even ACKs: ${bbr.extraAcked}`);
  const steady = bbr.cwnd;
  // A receiver that acknowledges only as its application reads: 19.2 ms of silence, then 24
  // segments ACKed at once (19.2 ms' worth at BtlBw: the average rate stays BtlBw).
  for (let burst = 0; burst < 4; burst++) {
    ack(19.2);
    for (let i = 1; i < 24; i++) ack(0);
  }
  // Each burst: 24 segments in no time, BtlBw explains none of it.
  assert.ok(Math.abs(bbr.extraAcked - 24 * MSS) <= MSS, `extra acked ${bbr.extraAcked}`);
  assert.ok(bbr.cwnd >= steady + 20 * MSS, `cwnd ${bbr.cwnd} against ${steady} before`);
  // Ten rounds of even ACKs later the allowance is gone again (a windowed maximum; the
  // epoch of the last burst ends once the ACKs fall behind BtlBw's pace).
  for (let i = 0; i < 14 * 26; i++) ack(1);
  assert.ok(bbr.extraAcked <= 2 * MSS, `extra acked after 12 rounds: ${bbr.extraAcked}`);
});
