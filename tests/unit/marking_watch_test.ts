// cli/marking_watch.ts: a warm-up's end waits for the marking V8 has in progress.

import assert from "node:assert/strict";
import { MarkingWatch } from "../../cli/marking_watch.ts";

/** Objects kept until V8 begins a marking (at most `maxMb` MB of them): the old generation grows. */
async function untilMarking(watch: MarkingWatch, maxMb: number): Promise<boolean> {
  const kept: number[][][] = [];
  for (let mb = 0; mb < maxMb; mb++) {
    const chunk: number[][] = [];
    for (let i = 0; i < 16_384; i++) chunk.push([i, mb]); // ~1 MB of small arrays
    kept.push(chunk);
    // V8 begins a marking near its limit with a task: a turn of the event loop lets it run.
    await new Promise((r) => setTimeout(r, 0));
    if (watch.marking) return true;
  }
  return false;
}

Deno.test("MarkingWatch: a marking V8 began is seen, and settle waits for its mark-compact", async () => {
  const watch = new MarkingWatch();
  try {
    assert.ok(await untilMarking(watch, 1024), "no marking began within 1 GB kept");
    const r = await watch.settle(60_000);
    assert.ok(r.settled, "the marking did not reach its mark-compact");
    assert.ok(r.markCompacts >= 1, `${r.markCompacts} mark-compacts`);
    assert.equal(watch.marking, false);
  } finally {
    watch.stop();
  }
});

Deno.test("MarkingWatch: settle with no marking in progress returns at once", async () => {
  const watch = new MarkingWatch();
  try {
    const r = await watch.settle(60_000);
    assert.equal(r.wasMarking, false);
    assert.ok(r.settled);
    assert.equal(r.markCompacts, 0);
  } finally {
    watch.stop();
  }
});
