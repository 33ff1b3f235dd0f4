// bench/gc_after_ready.ts and bench/gc_idle.ts: the collections a process met after its ready
// line, what followed each full one, and the collections of an idle run's parts.

import assert from "node:assert/strict";
import { gcAfterReady } from "../../bench/gc_after_ready.ts";
import { abFigures, splitGcs } from "../../bench/gc_idle.ts";

const gc = (ms: number, kind: string, reason: string, pause = 1, extra = "") =>
  `[77:0x55:0]     ${ms} ms: GC: {"pause":${pause},"mutator":3.1,"gc":"${kind}",` +
  `"reduce_memory":${reason === "memory reducer"},"reason":"${reason}",` +
  `"collector_reason":"GC in old space requested","start_object_size":30000000,` +
  `"end_object_size":20000000${extra}}`;
const weak = (fn: string) =>
  `[marking dependent code 0x17 <Code TURBOFAN_JS> (0x36 <SharedFunctionInfo ${fn}>) (opt id 3)` +
  ` for deoptimization, reason: embedded weak objects cleared]`;
const deopt = (kind: string) =>
  `[bailout (kind: deopt-${kind}, reason: wrong map): begin. deoptimizing 0x0e ` +
  `<JSFunction f (sfi = 0x3)>, opt id 9]`;
const compiled = "[completed compiling 0x3f <JSFunction onAck (sfi = 0x2d)> " +
  "(target TURBOFAN_JS) - took 0.1, 2, 0.1 ms]";

Deno.test("gc_after_ready: ready line to counters, each full GC and what followed it", () => {
  const text = [
    gc(100, "mc", "allocation failure"), // the warm-up's: not counted
    weak("warm"),
    compiled,
    "ready us0 198.18.0.2/24",
    gc(1000, "s", "allocation failure", 0.5),
    weak("poll"), // printed during the next GC, before its line
    weak("send"),
    gc(1010, "mc", "finalize incremental marking via task", 4.5),
    deopt("eager"),
    compiled,
    gc(1050, "s", "allocation failure", 2), // < 100 ms later: still "after"
    deopt("lazy"),
    compiled,
    gc(1200, "s", "allocation failure", 0.25), // ≥ 100 ms later: "after" ends here
    compiled,
    gc(5000, "mc", "memory reducer", 3),
    deopt("eager"),
    "  tcp: PassiveOpens=1",
    gc(5100, "mc", "testing"), // after the counters: not counted
  ].join("\n");
  const r = gcAfterReady(text);
  assert.equal(r.ready, true);
  assert.equal(r.scavenges, 3);
  assert.equal(r.scavengePauseMs, 2.75);
  assert.equal(r.scavengeMaxPauseMs, 2);
  assert.equal(r.weakCleared, 2);
  assert.equal(r.deopts, 3);
  assert.equal(r.compiles, 3);
  assert.deepEqual(r.spanMs, [1000, 5000]);
  assert.equal(r.fullGcs.length, 2);
  const [a, b] = r.fullGcs;
  assert.equal(a.ms, 1010);
  assert.equal(a.pause, 4.5);
  assert.equal(a.reason, "finalize incremental marking via task");
  assert.equal(a.collectorReason, "GC in old space requested");
  assert.equal(a.reduceMemory, false);
  assert.deepEqual(a.objectBytes, [30_000_000, 20_000_000]);
  assert.equal(a.weakCleared, 2);
  assert.equal(a.deoptsAfter, 2);
  assert.equal(a.compilesAfter, 2);
  assert.equal(a.toEnd, false);
  assert.equal(b.reason, "memory reducer");
  assert.equal(b.reduceMemory, true);
  assert.equal(b.weakCleared, 0);
  assert.equal(b.deoptsAfter, 1);
  assert.equal(b.compilesAfter, 0);
  assert.equal(b.toEnd, true);
});

Deno.test("gc_after_ready: a client's start event opens the window; none: all", () => {
  const client = [
    gc(10, "mc", "allocation failure"),
    '{"event":"warm_up","connections":100}',
    '{"event":"start","role":"client","stack":"ustack","to":"198.18.0.1:5300","len":64}',
    gc(900, "s", "allocation failure"),
    '{"event":"summary","role":"client"}',
  ].join("\n");
  const c = gcAfterReady(client);
  assert.equal(c.ready, true);
  assert.equal(c.scavenges, 1);
  assert.equal(c.fullGcs.length, 0);
  const whole = gcAfterReady([gc(10, "mc", "allocation failure"), gc(20, "s", "x")].join("\n"));
  assert.equal(whole.ready, false);
  assert.equal(whole.fullGcs.length, 1);
  assert.equal(whole.scavenges, 1);
  assert.equal(gcAfterReady("ready us0\n").spanMs, null);
});

Deno.test("gc_idle: collections sorted into the run's parts by their time", () => {
  const text = [
    gc(50, "mc", "allocation failure"), // warm-up
    gc(150, "s", "allocation failure"), // ready → burst 1
    gc(300, "s", "allocation failure"), // burst 1
    gc(9000, "mc", "memory reducer", 6), // idle
    gc(9500, "mc", "idle task", 2), // idle
    gc(60_000, "s", "allocation failure"), // burst 2
  ].join("\n");
  const p = splitGcs(text, [100, 200, 1000, 50_000]);
  assert.deepEqual(p.warmUp, {
    scavenges: 0,
    full: ["allocation failure (GC in old space requested)"],
    fullMaxPauseMs: 1,
  });
  assert.equal(p.ready.scavenges, 1);
  assert.equal(p.burst1.scavenges, 1);
  assert.deepEqual(p.idle.full, [
    "memory reducer (GC in old space requested), reduce",
    "idle task (GC in old space requested)",
  ]);
  assert.equal(p.idle.fullMaxPauseMs, 6);
  assert.equal(p.burst2.scavenges, 1);
  assert.equal(p.burst2.full.length, 0);
});

Deno.test("gc_idle: ab's rate and request-time percentiles", () => {
  const out = [
    "Failed requests:        0",
    "Requests per second:    12345.67 [#/sec] (mean)",
    "Percentage of the requests served within a certain time (ms)",
    "  50%      2",
    "  66%      2",
    "  90%      3",
    "  95%      4",
    "  99%      9",
    " 100%     41 (longest request)",
  ].join("\n");
  assert.deepEqual(abFigures(out), {
    rps: 12345.67,
    failed: 0,
    p50Ms: 2,
    p90Ms: 3,
    p99Ms: 9,
    maxMs: 41,
  });
  assert.equal(abFigures("").p99Ms, null);
});
