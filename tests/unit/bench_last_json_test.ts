// `bench/e2e.ts`'s `lastJson` finds an event's JSON that V8's `--trace-gc-nvp` output cut into:
// V8 writes its GC lines through a stdio buffer flushed in blocks, so a process's summary line
// can start in the middle of a GC line (seen: 6 of 2,000 JSON lines of a small allocating script
// under `--v8-flags=--trace-gc-nvp`). Before, such a summary was "not JSON" and skipped.

import assert from "node:assert/strict";
import { lastJson } from "../../bench/e2e.ts";

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
