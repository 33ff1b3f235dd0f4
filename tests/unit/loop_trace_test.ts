import assert from "node:assert/strict";
import {
  LoopTrace,
  TRACE_KIND_NAMES,
  TRACE_RX,
  TRACE_SPIN,
  TRACE_TICK,
} from "../../stack/loop_trace.ts";

Deno.test("LoopTrace: records come back oldest first, the oldest overwritten once full", () => {
  const t = new LoopTrace(3);
  assert.equal(t.length, 0);
  assert.deepEqual(Array.from(t.snapshot()), []);
  t.record(TRACE_TICK, 1, 2, 5);
  t.record(TRACE_SPIN, 2, 3, 7);
  assert.equal(t.length, 2);
  assert.deepEqual(Array.from(t.snapshot()), [TRACE_TICK, 1, 2, 5, TRACE_SPIN, 2, 3, 7]);
  t.record(TRACE_RX, 3, 4, 1);
  t.record(TRACE_TICK, 4, 5, 0); // overwrites the first
  assert.equal(t.length, 3);
  assert.equal(t.recorded, 4);
  assert.deepEqual(
    Array.from(t.snapshot()),
    [TRACE_SPIN, 2, 3, 7, TRACE_RX, 3, 4, 1, TRACE_TICK, 4, 5, 0],
  );
  const j = t.toJSON();
  assert.equal(j.dropped, 1);
  assert.equal(j.records.length, 12);
  assert.equal(j.timeOrigin, performance.timeOrigin);
  assert.equal(j.kinds[TRACE_RX], "rx");
  assert.equal(TRACE_KIND_NAMES[TRACE_SPIN], "spin");
});

Deno.test("LoopTrace: the capacity must be a whole number of records", () => {
  assert.throws(() => new LoopTrace(0), RangeError);
  assert.throws(() => new LoopTrace(1.5), RangeError);
});
