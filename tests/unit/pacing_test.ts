import assert from "node:assert/strict";
import { Pacer, PACING_HELD_CREDIT_MS } from "../../transport/tcp/pacing.ts";
import { DeliveryRate } from "../../transport/tcp/delivery_rate.ts";
import { WindowedFilter } from "../../transport/tcp/windowed_filter.ts";

Deno.test("pacer: unpaced by default; a rate spaces transmissions out", () => {
  const p = new Pacer();
  assert.ok(p.ready(0));
  assert.equal(p.burstBytes(1448, 65160), 65160); // unpaced: the NIC's most
  p.rateBytesPerMs = 1448; // one segment per ms
  p.onSent(1448, 100); // a start with 1 ms of credit
  assert.equal(p.releaseMs, 100);
  p.onSent(1448, 100);
  assert.equal(p.releaseMs, 101);
  assert.ok(!p.ready(100.5) && p.ready(101));
  p.onSent(1448, 101);
  assert.equal(p.releaseMs, 102);
});

Deno.test("pacer: late wake-ups are credited up to one burst horizon; the average rate holds", () => {
  const p = new Pacer();
  p.rateBytesPerMs = 14480; // ten segments per ms
  p.onSent(1448, 0);
  // 5 ms idle: the credit is capped, so about 1 ms of segments leave back to back.
  let n = 0;
  while (p.ready(5)) {
    p.onSent(1448, 5);
    n++;
  }
  assert.ok(n >= 10 && n <= 12, `${n} segments at once`);
  // Woken only on whole milliseconds, a rate of 1.85 segments per ms is still kept.
  const q = new Pacer();
  q.rateBytesPerMs = 2681;
  let sent = 0;
  for (let t = 0; t < 1000; t++) {
    while (q.ready(t)) {
      q.onSent(1448, t);
      sent++;
    }
  }
  assert.ok(Math.abs((sent * 1448) / 1000 - 2681) < 30, `${sent} segments in 1 s`);
});

Deno.test("pacer: a held pacer served late keeps its rate; an unheld one is credited one horizon", () => {
  // 64 KB bursts at 800 KB/ms (6.4 Gbit/s), a loop that turns every 2 ms.
  const burst = 65160;
  const rate = 800_000;
  const run = (held: boolean): number => {
    const p = new Pacer();
    p.rateBytesPerMs = rate;
    let sent = 0;
    for (let t = 0; t < 200; t += 2) {
      while (p.ready(t)) {
        p.onSent(burst, t);
        sent += burst;
      }
      p.held = held; // the pass stopped on the pacer (with data the windows allow), or not
    }
    return sent / 200;
  };
  const kept = run(true);
  assert.ok(Math.abs(kept - rate) / rate < 0.02, `held: ${kept} B/ms of ${rate}`);
  // Not held (the sender paused on its own): 1 ms and a burst per 2 ms turn.
  const capped = run(false);
  assert.ok(capped < 0.6 * rate, `unheld: ${capped} B/ms`);
  // A long stall while held: at most PACING_HELD_CREDIT_MS of data at once.
  const p = new Pacer();
  p.rateBytesPerMs = rate;
  p.onSent(burst, 0);
  p.held = true;
  let n = 0;
  while (p.ready(100)) {
    p.onSent(burst, 100);
    n += burst;
  }
  assert.ok(n <= (PACING_HELD_CREDIT_MS + 0.1) * rate + burst, `${n} bytes after a stall`);
  assert.ok(n >= PACING_HELD_CREDIT_MS * rate, `${n} bytes after a stall`);
});

Deno.test("pacer: TSO bursts sized to about 1 ms at the rate (Linux tcp_tso_autosize)", () => {
  const p = new Pacer();
  p.rateBytesPerMs = 125_000; // 1 Gbit/s: 125 000 bytes per ms
  assert.equal(p.burstBytes(1448, 65160), 65160);
  p.rateBytesPerMs = 12_500; // 100 Mbit/s
  assert.equal(p.burstBytes(1448, 65160), 8 * 1448);
  p.rateBytesPerMs = 100; // slow: two segments at least
  assert.equal(p.burstBytes(1448, 65160), 2 * 1448);
  assert.equal(p.burstBytes(1448, 0), 1448); // no TSO: one segment
});

Deno.test("delivery rate: a sample spans from the newest delivered packet's send snapshot", () => {
  const r = new DeliveryRate();
  // Ten packets of 1000 sent at 0..9 (the first starts a flight), each with its snapshot.
  const snaps: number[][] = [];
  for (let i = 0; i < 10; i++) {
    r.onSend(i, i === 0);
    snaps.push([r.delivered, r.deliveredTimeMs, r.firstSentMs]);
  }
  // At 20 the first five are ACKed.
  r.beginAck();
  for (let i = 0; i < 5; i++) {
    r.onDelivered(1000, snaps[i][0], snaps[i][1], snaps[i][2], i, false, 20);
  }
  r.endAck(1);
  // Newest delivered: sent at 4, flight began at 0: send 4 ms, ACK 20 ms → 5000 / 20.
  assert.equal(r.sampleDelivered, 5000);
  assert.equal(r.intervalMs, 20);
  assert.equal(r.rateBytesPerMs, 250);
  // Intervals shorter than min RTT give no sample.
  r.beginAck();
  r.onDelivered(1000, snaps[5][0], snaps[5][1], snaps[5][2], 5, false, 21);
  r.endAck(50);
  assert.equal(r.rateBytesPerMs, -1);
  // Application-limited marking ends once its data is delivered.
  r.markAppLimited(3000); // app-limited until what is in flight now is delivered
  assert.ok(r.appLimitedNow);
  r.beginAck();
  for (let i = 6; i < 10; i++) {
    r.onDelivered(1000, snaps[i][0], snaps[i][1], snaps[i][2], i, false, 30);
  }
  r.endAck(1);
  assert.ok(!r.appLimitedNow);
  assert.equal(r.delivered, 10000);
});

Deno.test("delivery rate: TCP_INFO's rate is the last valid sample, kept across ACKs without one", () => {
  const r = new DeliveryRate();
  const snaps: number[][] = [];
  for (let i = 0; i < 10; i++) {
    r.onSend(i, i === 0);
    snaps.push([r.delivered, r.deliveredTimeMs, r.firstSentMs]);
  }
  assert.equal(r.reportedBytesPerMs, 0); // none before the first sample
  r.beginAck();
  for (let i = 0; i < 5; i++) {
    r.onDelivered(1000, snaps[i][0], snaps[i][1], snaps[i][2], i, false, 20);
  }
  r.endAck(1);
  assert.equal(r.reportedBytesPerMs, 250);
  // An ACK whose interval is below min RTT gives no sample: the ACK's own rate is -1, the
  // reported one stays (Linux keeps tp->rate_delivered / rate_interval_us), not 0.
  r.beginAck();
  r.onDelivered(1000, snaps[5][0], snaps[5][1], snaps[5][2], 5, false, 21);
  r.endAck(50);
  assert.equal(r.rateBytesPerMs, -1);
  assert.equal(r.reportedBytesPerMs, 250);
  // An ACK that delivers nothing new leaves it too.
  r.beginAck();
  r.endAck(1);
  assert.equal(r.reportedBytesPerMs, 250);
  // A lower application-limited sample does not replace it; a lower one that is not does.
  r.beginAck();
  r.onDelivered(1000, snaps[6][0], snaps[6][1], snaps[6][2], 6, true, 40);
  r.endAck(1);
  assert.ok(r.rateBytesPerMs > 0 && r.rateBytesPerMs < 250 && r.isAppLimited);
  assert.equal(r.reportedBytesPerMs, 250);
  assert.equal(r.reportedAppLimited, false);
  r.beginAck();
  r.onDelivered(1000, snaps[7][0], snaps[7][1], snaps[7][2], 7, false, 60);
  r.endAck(1);
  assert.ok(r.rateBytesPerMs > 0 && r.rateBytesPerMs < 250);
  assert.equal(r.reportedBytesPerMs, r.rateBytesPerMs);
});

Deno.test("windowed filter: max over rounds and min over time, aging out the best", () => {
  const max = new WindowedFilter("max", 10);
  assert.equal(max.best, 0);
  max.update(100, 0);
  max.update(90, 3);
  max.update(80, 6);
  assert.equal(max.best, 100);
  max.update(70, 11);
  assert.equal(max.best, 90); // 100 aged out; 90 (round 3) is next
  // Three samples are kept, not all: 80 was never among them once 90 came; 70 is next.
  max.update(60, 20);
  assert.equal(max.best, 70);
  const min = new WindowedFilter("min", 1000);
  min.update(50, 0);
  min.update(60, 300); // a quarter window on: kept as the second best
  assert.equal(min.best, 50);
  min.update(70, 1050);
  assert.equal(min.best, 60); // 50 (t = 0) aged out
  min.update(40, 1600);
  assert.equal(min.best, 40);
  min.update(90, 5000);
  assert.equal(min.best, 90); // everything older than the window: a fresh start
  min.clear();
  assert.ok(min.empty);
  assert.equal(min.best, 0, "cleared: 0, as before the first sample");
});
