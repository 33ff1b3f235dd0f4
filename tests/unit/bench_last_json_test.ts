// `bench/e2e.ts`'s `lastJson` finds an event's JSON that V8's `--trace-gc-nvp` output cut into:
// V8 writes its GC lines through a stdio buffer flushed in blocks, so a process's summary line
// can start in the middle of a GC line (seen: 6 of 2,000 JSON lines of a small allocating script
// under `--v8-flags=--trace-gc-nvp`). Before, such a summary was "not JSON" and skipped.

import assert from "node:assert/strict";
import { lastJson } from "../../bench/e2e.ts";
import { intervalLines } from "../../bench/e2e_warmup.ts";
import { flatEvents } from "../../bench/proc_output.ts";
import { intervalRates } from "../../bench/tx_ab.ts";

const GC_HEAD = '[8619:0x55711fef3000:0]       34 ms: GC: {"pause":4.222,"gc":"s","reason":"alloc';

Deno.test("bench lastJson: a summary that starts inside a GC line is found", () => {
  const stdout = [
    '{"event":"interval","second":1,"connections":10}',
    `${GC_HEAD}{"event":"summary","mode":"connect","connections":1000,"failed":0}`,
    'ation failure","start_object_size":5537992}',
    "",
  ].join("\n");
  const s = lastJson(stdout, "summary");
  assert.equal(s.connections, 1000);
  assert.equal(lastJson(stdout, "interval").second, 1);
});

Deno.test("bench lastJson: a GC line alone is not an event, a missing event throws", () => {
  const stdout = `${GC_HEAD}ation failure"}\n{"event":"interval","second":2}\n`;
  assert.equal(lastJson(stdout).second, 2);
  assert.throws(() => lastJson(stdout, "summary"), /no JSON summary/);
});

// `flatEvents` (bench/proc_output.ts) reads each flat event to its first `}`: `bench:e2e`'s warm-up
// mark (`intervalLines`) and `bench/tx_ab.ts`'s interval rates both read uperf's interval lines
// through it. Before, `intervalLines` parsed the rest of the line and lost an interval whose line a
// trace line ran on into.
Deno.test("bench flatEvents: an interval line with a trace line cut in before or after it is read", () => {
  const stdout = [
    '{"event":"interval","start":0,"end":1.004,"bytes":100,"gbps":0.8}',
    `${GC_HEAD}{"event":"interval","start":1.004,"end":2.003,"bytes":200,"gbps":1.6}`,
    '{"event":"interval","start":2.003,"end":3.001,"bytes":300,"gbps":2.4}[8619:0x5571] Compiling',
    '{"event":"interval","start":3.001,"end":4',
    '{"event":"summary","bytes":600,"seconds":3}',
  ].join("\n");
  assert.deepEqual(flatEvents(stdout, "interval").map((o) => o.bytes), [100, 200, 300]);
  assert.deepEqual(intervalLines(stdout).map((o) => o.end), [1.004, 2.003, 3.001]);
  assert.deepEqual(intervalRates(stdout), [0.8, 1.6, 2.4]);
  assert.equal(flatEvents(stdout, "summary")[0].seconds, 3);
});
