import assert from "node:assert/strict";
import {
  AckSample,
  Bbr,
  CONGESTION_CONTROL_NAMES,
  createCongestionControl,
  Cubic,
  DEFAULT_SEND_MSS,
  INFINITE_SSTHRESH,
  initialWindowBytes,
  isCongestionControlName,
  NewReno,
  UnknownCongestionControlError,
} from "../../transport/tcp/congestion/mod.ts";

const MSS = 1000;

function fresh(options = {}): NewReno {
  const cc = new NewReno(options);
  cc.init(MSS, 0);
  return cc;
}

/** An ACK delivering `delivered` bytes with `priorInflight` in flight before it. */
function ack(cc: NewReno, delivered: number, priorInflight: number, acked = delivered): void {
  const s = new AckSample();
  s.deliveredBytes = delivered;
  s.ackedBytes = acked;
  s.priorInflight = priorInflight;
  cc.onAck(s);
}

/** A whole reduction: congestion event with `flight`, then the end (cwnd = ssthresh). */
function reduce(cc: NewReno, flight: number): void {
  cc.onCongestionEvent(flight, 0);
  cc.onRecoveryEnd(1);
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
  assert.equal(cc.pacingRate, 0);
  assert.ok(cc.inSlowStart && !cc.ownsRecovery);
  // Before init: the default 536-byte MSS.
  const raw = new NewReno();
  assert.equal(raw.mss, DEFAULT_SEND_MSS);
  assert.equal(raw.cwnd, 5360);
});

Deno.test("newreno slow start: +min(delivered, 2*SMSS) per ACK by default (RFC 3465 L = 2)", () => {
  const cc = fresh();
  ack(cc, 1000, 10000);
  assert.equal(cc.cwnd, 11000);
  ack(cc, 2000, 11000); // delayed ACK of two segments
  assert.equal(cc.cwnd, 13000);
  ack(cc, 5000, 13000); // stretch ACK capped at L = 2 segments
  assert.equal(cc.cwnd, 15000);
  ack(cc, 300, 15000); // a small ACK counts its bytes
  assert.equal(cc.cwnd, 15300);
  ack(cc, 0, 15000);
  ack(cc, -5, 15000);
  assert.equal(cc.cwnd, 15300);
  // A duplicate ACK's SACKed bytes do not grow cwnd (Linux tcp_may_raise_cwnd): the data
  // below them may be missing; with the cumulative ACK moving they count like acked bytes.
  ack(cc, 1000, 15300, 0);
  assert.equal(cc.cwnd, 15300);
  ack(cc, 2000, 15300, 500);
  assert.equal(cc.cwnd, 17300);
});

Deno.test("newreno slow start with L = 1 (RFC 5681 eq. 2)", () => {
  const cc = fresh({ slowStartLimitSegments: 1 });
  ack(cc, 2000, 10000);
  assert.equal(cc.cwnd, 11000);
  assert.throws(() => new NewReno({ slowStartLimitSegments: 3 as 1 }), RangeError);
});

Deno.test("newreno: slow start stops at ssthresh, then congestion avoidance counts bytes", () => {
  const cc = fresh();
  reduce(cc, 20000); // ssthresh 10000, cwnd 10000
  assert.equal(cc.ssthresh, 10000);
  assert.equal(cc.cwnd, 10000);
  assert.ok(!cc.inSlowStart);
  // RFC 3465 §2.1: +1 SMSS once a full cwnd of bytes has been acknowledged.
  for (let i = 0; i < 9; i++) ack(cc, 1000, 10000);
  assert.equal(cc.cwnd, 10000);
  ack(cc, 1000, 10000);
  assert.equal(cc.cwnd, 11000);
  for (let i = 0; i < 10; i++) ack(cc, 1000, 11000);
  assert.equal(cc.cwnd, 11000);
  ack(cc, 1500, 11000);
  assert.equal(cc.cwnd, 12000); // 11500 ≥ 11000, 500 carried over
});

Deno.test("newreno: after an RTO slow start uses L = 1 and lands exactly on ssthresh", () => {
  const cc = fresh();
  cc.onRetransmitTimeout(9000, 0); // ssthresh 4500, cwnd 1000
  assert.equal(cc.ssthresh, 4500);
  assert.equal(cc.cwnd, 1000);
  ack(cc, 1000, 1000);
  ack(cc, 2000, 2000); // still capped at 1 SMSS
  assert.equal(cc.cwnd, 3000);
  ack(cc, 1000, 3000);
  ack(cc, 1000, 4000);
  assert.equal(cc.cwnd, 4500); // not 5000
  assert.ok(!cc.inSlowStart);
});

Deno.test("newreno: no growth when cwnd did not limit the sender (RFC 7661)", () => {
  const cc = fresh(); // cwnd 10000
  ack(cc, 1000, 3000); // less than half of cwnd in flight
  assert.equal(cc.cwnd, 10000);
  ack(cc, 1000, 5000); // half of cwnd: grows
  assert.equal(cc.cwnd, 11000);
  const s = new AckSample();
  s.deliveredBytes = 1000;
  s.ackedBytes = 1000;
  s.priorInflight = 0;
  s.cwndLimited = true; // the sender says cwnd stopped it: grows
  cc.onAck(s);
  assert.equal(cc.cwnd, 12000);
  reduce(cc, 20000); // cwnd 10000, congestion avoidance
  for (let i = 0; i < 20; i++) ack(cc, 1000, 9000); // one SMSS of cwnd unused
  assert.equal(cc.cwnd, 10000);
  const free = fresh({ growOnlyWhenCwndLimited: false });
  ack(free, 1000, 0);
  assert.equal(free.cwnd, 11000);
});

Deno.test("newreno reduction: ssthresh = max(FlightSize/2, 2*SMSS); PRR owns cwnd meanwhile", () => {
  const cc = fresh();
  cc.onCongestionEvent(15000, 0);
  assert.equal(cc.ssthresh, 7500);
  assert.equal(cc.cwnd, 10000); // untouched until PRR sets it
  cc.setCwnd(8200.7);
  assert.equal(cc.cwnd, 8200);
  cc.setCwnd(10);
  assert.equal(cc.cwnd, MSS); // never below one SMSS
  // No growth during the reduction.
  const s = new AckSample();
  s.deliveredBytes = 5000;
  s.priorInflight = 100000;
  s.inRecovery = true;
  cc.onAck(s);
  assert.equal(cc.cwnd, MSS);
  cc.onRecoveryEnd(1);
  assert.equal(cc.cwnd, 7500);
  const small = fresh();
  small.onCongestionEvent(3000, 0);
  assert.equal(small.ssthresh, 2000);
  const odd = fresh();
  odd.onCongestionEvent(15001, 0);
  assert.equal(odd.ssthresh, 7500); // rounded down
});

Deno.test("newreno RTO: ssthresh from the flight, cwnd = 1 SMSS; held on repeats (RFC 5681 §3.1)", () => {
  const cc = fresh();
  cc.onRetransmitTimeout(12000, 0);
  assert.deepEqual([cc.ssthresh, cc.cwnd], [6000, 1000]);
  cc.onRetransmitTimeout(1000, 1); // same segment again: ssthresh held
  assert.deepEqual([cc.ssthresh, cc.cwnd], [6000, 1000]);
  ack(cc, 1000, 1000); // new data acknowledged: the series ends
  assert.equal(cc.cwnd, 2000);
  cc.onRetransmitTimeout(2000, 3);
  assert.deepEqual([cc.ssthresh, cc.cwnd], [2000, 1000]);
});

Deno.test("newreno idle restart: cwnd = min(IW, cwnd), ssthresh ≥ 3/4 cwnd (RFC 5681 §4.1)", () => {
  const cc = fresh();
  for (let i = 0; i < 30; i++) ack(cc, 2000, cc.cwnd);
  assert.equal(cc.cwnd, 70000);
  cc.onIdleRestart(10_000);
  assert.equal(cc.cwnd, 10000);
  assert.equal(cc.ssthresh, INFINITE_SSTHRESH); // was higher already
  const b = fresh();
  reduce(b, 40000); // cwnd = ssthresh = 20000
  for (let i = 0; i < 20; i++) ack(b, 1000, 20000);
  assert.equal(b.cwnd, 21000);
  b.onIdleRestart(5000);
  assert.deepEqual([b.ssthresh, b.cwnd], [20000, 10000]);
});

Deno.test("newreno undoReduction restores the window from before a spurious reduction", () => {
  const cc = fresh();
  ack(cc, 2000, 10000); // cwnd 12000
  assert.equal(cc.undoReduction(1), false);
  cc.onCongestionEvent(12000, 1);
  cc.setCwnd(7000);
  assert.ok(cc.undoReduction(2));
  assert.deepEqual([cc.cwnd, cc.ssthresh], [12000, INFINITE_SSTHRESH]);
  assert.equal(cc.undoReduction(3), false); // only once
  cc.onRetransmitTimeout(12000, 4);
  cc.onRetransmitTimeout(12000, 5);
  assert.ok(cc.undoReduction(6)); // undoes to before the first of the series
  assert.deepEqual([cc.cwnd, cc.ssthresh], [12000, INFINITE_SSTHRESH]);
});

Deno.test("newreno setMss keeps bytes but enforces one SMSS of cwnd and 2 SMSS of ssthresh", () => {
  const cc = fresh();
  cc.setMss(1400);
  assert.equal(cc.mss, 1400);
  assert.equal(cc.cwnd, 10000);
  cc.onRetransmitTimeout(1000, 0); // ssthresh 2800, cwnd 1400
  assert.equal(cc.ssthresh, 2800);
  cc.setMss(2000);
  assert.deepEqual([cc.cwnd, cc.ssthresh], [2000, 4000]);
  assert.throws(() => cc.setMss(0), RangeError);
  assert.throws(() => cc.init(-1, 0), RangeError);
  cc.init(MSS, 10);
  assert.deepEqual([cc.cwnd, cc.ssthresh], [10000, INFINITE_SSTHRESH]);
});

Deno.test("congestion control factory: names, aliases, clear error for unknown names", () => {
  assert.deepEqual([...CONGESTION_CONTROL_NAMES], ["newreno", "reno", "cubic", "bbr"]);
  const a = createCongestionControl("newreno");
  assert.ok(a instanceof NewReno);
  assert.ok(createCongestionControl("NewReno") instanceof NewReno);
  assert.ok(createCongestionControl("reno") instanceof NewReno);
  assert.ok(createCongestionControl("cubic") instanceof Cubic);
  assert.ok(createCongestionControl("BBR") instanceof Bbr);
  assert.notEqual(createCongestionControl("newreno"), a); // one instance per connection
  assert.ok(isCongestionControlName("Cubic") && !isCongestionControlName("vegas"));
  assert.throws(
    () => createCongestionControl("vegas"),
    (e: unknown) =>
      e instanceof UnknownCongestionControlError && e.code === "ENOENT" &&
      e.algorithm === "vegas" && /unknown congestion control "vegas".*cubic/.test(e.message),
  );
});
