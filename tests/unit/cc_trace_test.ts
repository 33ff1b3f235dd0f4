import assert from "node:assert/strict";
import { CC_TRACE_FIELDS, CcTrace } from "../../transport/tcp/cc_trace.ts";
import {
  COARSE_SAMPLE_MS,
  parseKernelTrace,
  summarise,
  type WindowRecord,
} from "../../bench/cc_trace.ts";

Deno.test("cc trace: the ring keeps the last records, oldest first", () => {
  const t = new CcTrace(3);
  for (let i = 0; i < 5; i++) t.record(i, 1000 * i, 0, 0, 0, 0, 0, 0, 0, i);
  assert.equal(t.length, 3);
  assert.equal(t.recorded, 5);
  const d = t.snapshot();
  assert.equal(d.length, 3 * CC_TRACE_FIELDS);
  assert.deepEqual([d[0], d[CC_TRACE_FIELDS], d[2 * CC_TRACE_FIELDS]], [2, 3, 4]);
  assert.equal(d[2 * CC_TRACE_FIELDS + 9], 4); // the reductions field
  assert.throws(() => new CcTrace(0), RangeError);
});

Deno.test("cc trace: a kernel tcp_probe / tcp_cong_state_set trace becomes per-ACK records", () => {
  const probe = (t: string, nxt: number, una: number, cwnd: number, ss: number) =>
    `python3-1 [001] ..... ${t}: tcp_probe: family=AF_INET src=198.18.0.2:41100 ` +
    `dest=198.18.0.1:5400 mark=0x0 data_len=0 snd_nxt=0x${nxt.toString(16)} ` +
    `snd_una=0x${una.toString(16)} snd_cwnd=${cwnd} ssthresh=${ss} snd_wnd=65160 srtt=50 ` +
    `rcv_wnd=64512 sock_cookie=1 skbaddr=0 skaddr=0`;
  const state = (t: string, s: number) =>
    `python3-1 [001] ..... ${t}: tcp_cong_state_set: family=AF_INET sport=41100 dport=5400 ` +
    `saddr=198.18.0.2 daddr=198.18.0.1 saddrv6=::1 daddrv6=::1 cong_state=${s}`;
  const text = [
    probe("10.000100", 20000, 0, 20, 2147483647),
    probe("10.000200", 30000, 10000, 20, 2147483647),
    state("10.000210", 3),
    probe("10.000300", 30000, 15000, 14, 14),
    state("10.000310", 0), // one ACK ends the recovery and starts the next
    state("10.000310", 3),
    probe("10.000400", 35000, 30000, 10, 10),
    probe("10.000500", 35000, 34000, 10, 10).replace("dest=198.18.0.1:5400", "dest=x:5401"),
  ].join("\n");
  const r = parseKernelTrace(text, 1000, 5400);
  assert.equal(r.length, 4);
  assert.deepEqual(r.map((x) => x.state), [0, 0, 3, 3]);
  assert.deepEqual(r.map((x) => x.reductions), [0, 0, 1, 2]);
  assert.deepEqual(r.map((x) => x.acked), [0, 10, 5, 15]);
  assert.deepEqual(r.map((x) => x.unacked), [20, 20, 15, 5]);
  assert.equal(r[0].ssthresh, Infinity);
  assert.ok(Math.abs(r[1].t - 10000.2) < 1e-6);
});

Deno.test("cc trace: episodes, back-to-back reductions and the growth between them", () => {
  const recs: WindowRecord[] = [];
  let t = 0;
  const ack = (cwnd: number, state: number, reductions: number, acked = 2) =>
    recs.push({
      t: t++,
      cwnd,
      ssthresh: 14,
      unacked: cwnd,
      acked,
      state,
      cwndLimited: true,
      srttMs: 0.1,
      reductions,
    });
  ack(20, 0, 0);
  ack(14, 3, 1); // a recovery from 20
  ack(14, 3, 1);
  ack(14, 0, 1, 14); // ends; 14 segments acknowledged per window from here
  for (let i = 0; i < 14; i++) ack(14 + (i + 1) / 14, 0, 1, 1); // +1 in one window
  ack(10, 3, 2); // the next recovery
  ack(10, 3, 3); // ends and starts another on the same ACK
  ack(10, 0, 3);
  const s = summarise(recs);
  assert.deepEqual(s.episodes, { Recovery: 3, backToBack: 1 });
  assert.equal(s.recovery.cwndBefore, 15); // 20 and 10: the one cut short has no "after"
  assert.equal(s.between.segs, 14);
  assert.equal(s.between.growthPerWindow, 1);
  assert.equal(s.cwndLimitedShare, 1);
});

Deno.test("cc trace: the RTT samples read back from SRTT's changes; a 1 ms echo at a recovery's end is coarse", () => {
  const recs: WindowRecord[] = [];
  let srtt = 0.04;
  let t = 0;
  const ack = (sampleMs: number | null, state: number) => {
    if (sampleMs !== null) srtt = (7 / 8) * srtt + sampleMs / 8;
    recs.push({
      t: t++,
      cwnd: 20,
      ssthresh: 14,
      unacked: 20,
      acked: 1,
      state,
      cwndLimited: true,
      srttMs: srtt,
      reductions: 0,
    });
  };
  ack(null, 0);
  for (let i = 0; i < 8; i++) ack(0.03 + i * 0.001, 0);
  ack(null, 3); // a recovery: no sample
  ack(1, 0); // the ACK that ends it: Linux's timestamp sample, 1 ms
  ack(0.04, 0);
  const s = summarise(recs).rttSamples;
  assert.equal(s.n, 10);
  assert.equal(s.coarseShare, 0.1);
  assert.equal(s.coarseAtReductionEnd, 1);
  assert.ok(1 >= COARSE_SAMPLE_MS);
  assert.equal(s.fineMeanMs, Math.round(((0.03 * 8 + 0.028 + 0.04) / 9) * 1000) / 1000);
  assert.equal(s.p50, 0.035); // the sixth of ten, sorted
});

Deno.test("cc trace: a recovery's hole is the most one ACK acknowledged in it or on the record after it", () => {
  const recs: WindowRecord[] = [];
  let t = 0;
  const ack = (state: number, reductions: number, acked: number) =>
    recs.push({
      t: t++,
      cwnd: 20,
      ssthresh: 14,
      unacked: 20,
      acked,
      state,
      cwndLimited: true,
      srttMs: 0.1,
      reductions,
    });
  ack(0, 0, 2);
  ack(3, 1, 0); // the stack's form: the ACK that fills the hole is the one that ends it
  ack(3, 1, 1);
  ack(0, 1, 15);
  ack(0, 1, 3);
  ack(3, 2, 0); // the kernel's form: a record holds the state before its ACK, so the
  ack(0, 2, 1); // count of the ACK that ended the episode shows on the record after it
  ack(0, 2, 22);
  ack(0, 2, 2);
  ack(3, 3, 0);
  ack(3, 3, 1);
  ack(0, 3, 7);
  ack(0, 3, 3);
  ack(0, 3, 30); // two records after its end: not this episode's
  const s = summarise(recs);
  assert.deepEqual(s.episodes, { Recovery: 3, backToBack: 0 });
  assert.deepEqual(s.recovery.holeSegs, { p50: 15, p90: 22 });
});
