import assert from "node:assert/strict";
import {
  CONGESTION_CONTROL_NAMES,
  createCongestionControl,
  DEFAULT_SEND_MSS,
  INFINITE_SSTHRESH,
  initialWindowBytes,
  NewReno,
  UnknownCongestionControlError,
} from "../../transport/tcp/congestion/mod.ts";

const MSS = 1000;

function fresh(options = {}): NewReno {
  const cc = new NewReno(options);
  cc.init(MSS, 0);
  return cc;
}

Deno.test("initial window per RFC 6928: min(10*MSS, max(2*MSS, 14600))", () => {
  assert.equal(initialWindowBytes(1460), 14600);
  assert.equal(initialWindowBytes(1000), 10000);
  assert.equal(initialWindowBytes(536), 5360);
  assert.equal(initialWindowBytes(1500), 14600); // 10*MSS would be 15000
  assert.equal(initialWindowBytes(8960), 17920); // 2*MSS above 14600
  const cc = fresh();
  assert.equal(cc.name, "newreno");
  assert.equal(cc.cwnd, 10000);
  assert.equal(cc.ssthresh, INFINITE_SSTHRESH);
  assert.equal(cc.mss, MSS);
  assert.ok(cc.inSlowStart && !cc.inRecovery);
  // Before init: the default 536-byte MSS.
  const raw = new NewReno();
  assert.equal(raw.mss, DEFAULT_SEND_MSS);
  assert.equal(raw.cwnd, 5360);
});

Deno.test("slow start: +min(acked, 2*SMSS) per ACK by default (RFC 3465 L = 2)", () => {
  const cc = fresh();
  cc.onAck(1000, 9000, 50, 1);
  assert.equal(cc.cwnd, 11000);
  cc.onAck(2000, 9000, 50, 2); // delayed ACK of two segments
  assert.equal(cc.cwnd, 13000);
  cc.onAck(5000, 8000, 50, 3); // stretch ACK capped at L = 2 segments
  assert.equal(cc.cwnd, 15000);
  cc.onAck(300, 14700, 50, 4); // a small ACK counts its bytes
  assert.equal(cc.cwnd, 15300);
  cc.onAck(0, 14700, 50, 4);
  cc.onAck(-5, 14700, 50, 4);
  assert.equal(cc.cwnd, 15300);
});

Deno.test("slow start with L = 1 (RFC 5681 eq. 2)", () => {
  const cc = fresh({ slowStartLimitSegments: 1 });
  cc.onAck(2000, 8000, -1, 1);
  assert.equal(cc.cwnd, 11000);
  assert.throws(() => new NewReno({ slowStartLimitSegments: 3 as 1 }), RangeError);
});

Deno.test("one RTT of slow start with an ACK per segment doubles cwnd", () => {
  const cc = fresh();
  // The sender keeps the window full: after each ACK it sends what cwnd allows, so when the
  // next ACK arrives FlightSize (after removing the acked bytes) is cwnd - 1 SMSS.
  for (let i = 0; i < 10; i++) cc.onAck(MSS, cc.cwnd - MSS, 50, i);
  assert.equal(cc.cwnd, 20000);
});

Deno.test("slow start stops at ssthresh, then congestion avoidance counts bytes", () => {
  const cc = fresh();
  cc.enterFastRecovery(20000, 0); // ssthresh 10000
  cc.exitFastRecovery(20000, 1); // cwnd = min(10000, 21000) = 10000
  assert.equal(cc.ssthresh, 10000);
  assert.equal(cc.cwnd, 10000);
  assert.ok(!cc.inSlowStart);
  // RFC 3465 §2.1: +1 SMSS once a full cwnd of bytes has been acknowledged.
  for (let i = 0; i < 9; i++) cc.onAck(1000, 9500, 50, 2);
  assert.equal(cc.cwnd, 10000); // 9000 bytes acked < cwnd
  cc.onAck(1000, 9500, 50, 3);
  assert.equal(cc.cwnd, 11000); // bytes_acked 10000 reached cwnd; remainder 0
  for (let i = 0; i < 10; i++) cc.onAck(1000, 10500, 50, 4);
  assert.equal(cc.cwnd, 11000); // 10000 < 11000
  cc.onAck(1500, 10500, 50, 5);
  assert.equal(cc.cwnd, 12000); // 11500 ≥ 11000, 500 carried over
  for (let i = 0; i < 11; i++) cc.onAck(1000, 11500, 50, 6);
  assert.equal(cc.cwnd, 12000); // 500 + 11000 = 11500 < 12000
  cc.onAck(500, 11500, 50, 7);
  assert.equal(cc.cwnd, 13000);
});

Deno.test("slow start approaching ssthresh lands exactly on it", () => {
  const cc = fresh();
  cc.onRetransmitTimeout(9000, 0); // ssthresh 4500, cwnd 1000
  assert.equal(cc.ssthresh, 4500);
  assert.equal(cc.cwnd, 1000);
  cc.onAck(1000, 0, -1, 1); // after an RTO, L = 1 SMSS
  cc.onAck(2000, 0, -1, 2); // still capped at 1 SMSS
  assert.equal(cc.cwnd, 3000);
  cc.onAck(1000, 2000, -1, 3);
  cc.onAck(1000, 3000, -1, 4);
  assert.equal(cc.cwnd, 4500); // not 5000: slow start stops at ssthresh
  assert.ok(!cc.inSlowStart);
});

Deno.test("no growth when cwnd did not limit the sender (application-limited)", () => {
  const cc = fresh(); // cwnd 10000
  cc.onAck(1000, 2000, 50, 1); // only 3000 were in flight: less than half of cwnd
  assert.equal(cc.cwnd, 10000);
  cc.onAck(1000, 4000, 50, 2); // 5000 in flight: half of cwnd, grows
  assert.equal(cc.cwnd, 11000);
  // Congestion avoidance: grows only if less than one SMSS of cwnd was unused.
  cc.enterFastRecovery(20000, 3);
  cc.exitFastRecovery(20000, 4); // cwnd = ssthresh = 10000
  for (let i = 0; i < 20; i++) cc.onAck(1000, 8000, 50, 5); // 9000 in flight: 1000 unused
  assert.equal(cc.cwnd, 10000);
  cc.onAck(1000, 8001, 50, 6); // 9001 in flight
  assert.equal(cc.cwnd, 10000); // accumulating only now
  // With the check off, application-limited ACKs grow cwnd too.
  const free = fresh({ growOnlyWhenCwndLimited: false });
  free.onAck(1000, 0, 50, 1);
  assert.equal(free.cwnd, 11000);
});

Deno.test("fast recovery entry: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = ssthresh + 3*SMSS", () => {
  const cc = fresh();
  cc.enterFastRecovery(15000, 0);
  assert.equal(cc.ssthresh, 7500);
  assert.equal(cc.cwnd, 10500);
  assert.ok(cc.inRecovery && !cc.inSlowStart);
  cc.enterFastRecovery(1000, 1); // ignored while in recovery
  assert.equal(cc.ssthresh, 7500);
  const small = fresh();
  small.enterFastRecovery(3000, 0); // FlightSize/2 = 1500 < 2*SMSS
  assert.equal(small.ssthresh, 2000);
  assert.equal(small.cwnd, 5000);
  const odd = fresh();
  odd.enterFastRecovery(15001, 0);
  assert.equal(odd.ssthresh, 7500); // rounded down
});

Deno.test("dup ACKs inflate, partial ACKs deflate (RFC 6582 §3.2), full ACK deflates", () => {
  const cc = fresh();
  cc.enterFastRecovery(20000, 0); // ssthresh 10000, cwnd 13000
  cc.onDupAck(20000, 1);
  cc.onDupAck(20000, 2);
  assert.equal(cc.cwnd, 15000);
  cc.onAck(5000, 15000, 50, 3); // onAck during recovery must not grow cwnd
  assert.equal(cc.cwnd, 15000);
  cc.onPartialAck(4000, 16000, 3); // -4000 + 1000
  assert.equal(cc.cwnd, 12000);
  cc.onPartialAck(500, 15500, 4); // less than one SMSS: no add-back
  assert.equal(cc.cwnd, 11500);
  cc.onPartialAck(0, 15500, 4);
  assert.equal(cc.cwnd, 11500);
  cc.exitFastRecovery(6000, 5); // min(ssthresh, max(6000, SMSS) + SMSS) = 7000
  assert.equal(cc.cwnd, 7000);
  assert.ok(!cc.inRecovery);
  assert.equal(cc.ssthresh, 10000);
  assert.ok(cc.inSlowStart); // below ssthresh again: slow start back up to it
  cc.exitFastRecovery(0, 6); // no-op outside recovery
  assert.equal(cc.cwnd, 7000);
});

Deno.test("full ACK with plenty in flight deflates to ssthresh; tiny flight to 2 SMSS", () => {
  const a = fresh();
  a.enterFastRecovery(20000, 0);
  a.exitFastRecovery(30000, 1);
  assert.equal(a.cwnd, 10000);
  const b = fresh();
  b.enterFastRecovery(20000, 0);
  b.exitFastRecovery(0, 1);
  assert.equal(b.cwnd, 2000); // max(0, SMSS) + SMSS
});

Deno.test("a huge partial ACK cannot drive cwnd below one SMSS", () => {
  const cc = fresh();
  cc.enterFastRecovery(100_000, 0); // cwnd 53000
  cc.onPartialAck(99_000, 1000, 1);
  assert.equal(cc.cwnd, 1000);
});

Deno.test("dup ACKs and partial ACKs outside recovery change nothing", () => {
  const cc = fresh();
  cc.onDupAck(10000, 0);
  cc.onPartialAck(2000, 8000, 0);
  assert.equal(cc.cwnd, 10000);
});

Deno.test("SACK-based recovery (RFC 6675 §5): cwnd = ssthresh, no inflation or deflation", () => {
  const cc = fresh();
  cc.enterFastRecovery(20000, 0, true);
  assert.equal(cc.ssthresh, 10000);
  assert.equal(cc.cwnd, 10000);
  cc.onDupAck(20000, 1);
  cc.onPartialAck(3000, 17000, 2);
  assert.equal(cc.cwnd, 10000);
  cc.exitFastRecovery(9000, 3);
  assert.equal(cc.cwnd, 10000);
});

Deno.test("RTO: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 SMSS; held on repeats (RFC 5681 §3.1)", () => {
  const cc = fresh();
  cc.onRetransmitTimeout(12000, 0);
  assert.equal(cc.ssthresh, 6000);
  assert.equal(cc.cwnd, 1000);
  cc.onRetransmitTimeout(1000, 1); // same segment again: ssthresh held
  assert.equal(cc.ssthresh, 6000);
  assert.equal(cc.cwnd, 1000);
  cc.onAck(1000, 0, -1, 2); // new data acknowledged: the series ends
  assert.equal(cc.cwnd, 2000);
  cc.onRetransmitTimeout(2000, 3); // a new timeout computes ssthresh again
  assert.equal(cc.ssthresh, 2000);
  assert.equal(cc.cwnd, 1000);
});

Deno.test("RTO during fast recovery ends it", () => {
  const cc = fresh();
  cc.enterFastRecovery(20000, 0);
  cc.onRetransmitTimeout(16000, 1);
  assert.ok(!cc.inRecovery);
  assert.equal(cc.ssthresh, 8000);
  assert.equal(cc.cwnd, 1000);
  assert.ok(cc.inSlowStart);
});

Deno.test("idle restart: cwnd = min(IW, cwnd), ssthresh ≥ 3/4 cwnd (RFC 5681 §4.1, RFC 2861)", () => {
  const cc = fresh();
  for (let i = 0; i < 30; i++) cc.onAck(2000, 40000, 50, i); // cwnd 70000
  assert.equal(cc.cwnd, 70000);
  cc.onIdleRestart(10_000);
  assert.equal(cc.cwnd, 10000);
  assert.equal(cc.ssthresh, INFINITE_SSTHRESH); // was higher already
  const b = fresh();
  b.enterFastRecovery(40000, 0); // ssthresh 20000
  b.exitFastRecovery(40000, 1); // cwnd 20000
  for (let i = 0; i < 40; i++) b.onAck(1000, 20000, 50, 2); // CA: +1 SMSS per cwnd acked
  assert.equal(b.cwnd, 21000);
  b.onIdleRestart(5000);
  assert.equal(b.ssthresh, 20000); // 3/4 * 21000 = 15750 < 20000: kept
  assert.equal(b.cwnd, 10000);
  const c = fresh();
  c.onRetransmitTimeout(4000, 0); // ssthresh 2000
  for (let i = 0; i < 3; i++) c.onAck(1000, 2000, 50, 1);
  c.onIdleRestart(5000);
  // cwnd: 1000 → 2000 (slow start up to ssthresh) → 3000 (2000 bytes of CA byte counting)
  assert.equal(c.ssthresh, 2250); // raised to 3/4 of cwnd 3000
  assert.equal(c.cwnd, 3000); // below IW: unchanged
});

Deno.test("undoReduction restores the window from before a spurious reduction", () => {
  const cc = fresh();
  cc.onAck(2000, 10000, 50, 0); // cwnd 12000
  assert.equal(cc.undoReduction(1), false);
  cc.enterFastRecovery(12000, 1);
  assert.equal(cc.cwnd, 9000);
  assert.ok(cc.undoReduction(2));
  assert.equal(cc.cwnd, 12000);
  assert.equal(cc.ssthresh, INFINITE_SSTHRESH);
  assert.ok(!cc.inRecovery);
  assert.equal(cc.undoReduction(3), false); // only once
  cc.onRetransmitTimeout(12000, 4);
  cc.onRetransmitTimeout(12000, 5);
  assert.ok(cc.undoReduction(6)); // undoes to before the first of the series
  assert.equal(cc.cwnd, 12000);
  assert.equal(cc.ssthresh, INFINITE_SSTHRESH);
});

Deno.test("setMss keeps bytes but enforces one SMSS of cwnd and 2 SMSS of ssthresh", () => {
  const cc = fresh();
  cc.setMss(1400);
  assert.equal(cc.mss, 1400);
  assert.equal(cc.cwnd, 10000);
  cc.onRetransmitTimeout(1000, 0); // ssthresh 2800, cwnd 1400
  assert.equal(cc.ssthresh, 2800);
  cc.setMss(2000);
  assert.equal(cc.cwnd, 2000);
  assert.equal(cc.ssthresh, 4000);
  assert.throws(() => cc.setMss(0), RangeError);
  assert.throws(() => cc.init(-1, 0), RangeError);
  cc.init(MSS, 10); // init resets everything
  assert.equal(cc.cwnd, 10000);
  assert.equal(cc.ssthresh, INFINITE_SSTHRESH);
});

Deno.test("factory: names, aliases, clear error for unknown names", () => {
  assert.deepEqual([...CONGESTION_CONTROL_NAMES], ["newreno", "reno"]);
  const a = createCongestionControl("newreno");
  assert.ok(a instanceof NewReno);
  assert.ok(createCongestionControl("NewReno") instanceof NewReno);
  assert.ok(createCongestionControl("reno") instanceof NewReno);
  assert.notEqual(createCongestionControl("newreno"), a); // one instance per connection
  assert.throws(
    () => createCongestionControl("cubic"),
    (e: unknown) =>
      e instanceof UnknownCongestionControlError && e.code === "ENOENT" &&
      e.algorithm === "cubic" && /unknown congestion control "cubic".*newreno/.test(e.message),
  );
});
