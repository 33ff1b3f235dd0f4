import assert from "node:assert/strict";
import { OutputQueue, type OutputSource } from "../../core/output_queue.ts";

/** A source that records its flushes in `log` and can queue itself (or others) again. */
function source(name: string, log: string[], onFlush?: () => void): OutputSource {
  return {
    outputQueued: false,
    flushOutput() {
      log.push(name);
      onFlush?.();
    },
  };
}

Deno.test("OutputQueue: each source once, in order; a partial flush keeps the rest in order", () => {
  const q = new OutputQueue();
  const log: string[] = [];
  const srcs = ["a", "b", "c", "d", "e"].map((n) => source(n, log));
  for (const s of srcs) q.add(s);
  q.add(srcs[0]); // already queued
  assert.equal(q.length, 5);
  q.flush(2);
  assert.deepEqual(log, ["a", "b"]);
  assert.equal(q.length, 3);
  q.add(srcs[0]); // queued again behind the rest
  q.flush(3);
  assert.deepEqual(log, ["a", "b", "c", "d", "e"]);
  q.flush();
  assert.deepEqual(log, ["a", "b", "c", "d", "e", "a"]);
  assert.equal(q.length, 0);
});

Deno.test("OutputQueue: a source queued during a flush waits for the next; reuse keeps order", () => {
  const q = new OutputQueue();
  const log: string[] = [];
  const late = source("late", log);
  const first = source("first", log, () => q.add(late));
  for (let round = 0; round < 50; round++) {
    q.add(first);
    q.flush();
    assert.equal(q.length, 1, `round ${round}`);
    q.flush();
    assert.equal(q.length, 0);
  }
  assert.equal(log.length, 100);
  assert.deepEqual(log.slice(0, 4), ["first", "late", "first", "late"]);
});
