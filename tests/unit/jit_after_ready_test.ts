// bench/jit_after_ready.ts: what V8 compiled and deoptimised after a process's ready line.

import assert from "node:assert/strict";
import { jitAfterReady } from "../../bench/jit_after_ready.ts";

const compiled = (name: string, tier: string, a: number, b: number, c: number) =>
  `[completed compiling 0x3fd15e24ca41 <JSFunction ${name}(sfi = 0x2dbecc9511c1)> (target ${tier}) - took ${a}, ${b}, ${c} ms]`;
const deopt = (reason: string) =>
  `[bailout (kind: deopt-eager, reason: ${reason}): begin. deoptimizing 0x1a90a3584b89 <JSFunction receive (sfi = 0x165980029a79)>, opt id 813]`;

Deno.test("jit_after_ready: counts V8's compiles and deopts between the ready line and the counters", () => {
  const text = [
    compiled("warm ", "TURBOFAN_JS", 1, 100, 1), // before ready: the warm-up's, not counted
    deopt("wrong map"),
    "warm-up: 54 connections (0 failed) in 1761 ms",
    "ready us0 198.18.0.2/24 fe80::1/64",
    compiled("receive ", "TURBOFAN_JS", 0.004, 5.742, 0.086),
    compiled("receive ", "TURBOFAN_JS", 0.01, 2, 0.01),
    compiled("", "MAGLEV", 0, 0.4, 0.1), // an anonymous function
    deopt("wrong map"),
    deopt("overflow"),
    deopt("wrong map"),
    "[marking dependent code 0x2e <Code TURBOFAN_JS> (0x10 <SharedFunctionInfo fire>) (opt id 818) for deoptimization, reason: dependent field type constness changed]",
    "  link: InFrames=1",
    "  tcp: PassiveOpens=1",
    compiled("stop ", "MAGLEV", 0, 9, 0), // after the counters: the stop's, not counted
  ].join("\n");
  const r = jitAfterReady(text);
  assert.equal(r.ready, true);
  assert.equal(r.compiles, 3);
  assert.equal(r.compileMs, 8.4); // 5.832 + 2.02 + 0.5, to 0.1 ms
  assert.deepEqual(r.deoptsByReason, { "wrong map": 2, overflow: 1 });
  assert.equal(r.dependentDeopts, 1);
  assert.deepEqual(r.compileMsByFunction, [["receive TURBOFAN_JS", 7.85], [
    "(anonymous) MAGLEV",
    0.5,
  ]]);
});

Deno.test("jit_after_ready: a JSON ready event starts the window; no ready line counts nothing", () => {
  const json = [
    '{"event":"warm_up"}',
    '{"event":"ready","if":"us0"}',
    compiled("f ", "MAGLEV", 0, 1, 0),
  ]
    .join("\n");
  assert.equal(jitAfterReady(json).compiles, 1);
  // A uperf client (a sender) has no ready line: its start event to its summary.
  const client = [
    compiled("warm ", "MAGLEV", 0, 1, 0),
    '{"event":"start","role":"client","protocol":"tcp"}',
    compiled("f ", "MAGLEV", 0, 2, 0),
    '{"event":"summary","role":"client","bytes":1}',
    compiled("close ", "MAGLEV", 0, 4, 0),
  ].join("\n");
  assert.deepEqual([jitAfterReady(client).compiles, jitAfterReady(client).compileMs], [1, 2]);
  const none = jitAfterReady(compiled("f ", "MAGLEV", 0, 1, 0));
  assert.deepEqual({ ready: none.ready, compiles: none.compiles }, { ready: false, compiles: 0 });
});
