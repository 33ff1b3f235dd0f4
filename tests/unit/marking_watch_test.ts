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

/** Where {@link oldGarbage}'s objects are kept until they are dropped. */
const kept: { objects: number[][][] | null } = { objects: null };

/**
 * About `mb` MB of small arrays moved to V8's old generation (kept through scavenges by
 * allocating more until two have run), then dropped once no marking is in progress (one begun
 * while they were kept would keep them): garbage only a mark-compact frees.
 */
async function oldGarbage(watch: MarkingWatch, mb: number): Promise<void> {
  const objects: number[][][] = [];
  for (let m = 0; m < mb; m++) {
    const chunk: number[][] = [];
    for (let i = 0; i < 16_384; i++) chunk.push([i, m]);
    objects.push(chunk);
  }
  kept.objects = objects;
  // Scavenges promote what survives twice: churn short-lived arrays past two of them.
  for (let i = 0; i < 4_000_000; i++) kept.objects[0][i & 1023] = [i];
  await new Promise((r) => setTimeout(r, 0));
  assert.ok((await watch.settle(60_000)).settled);
  kept.objects = null;
}

Deno.test("MarkingWatch: provoke makes V8 mark and collect the old generation's garbage now", async () => {
  const watch = new MarkingWatch();
  try {
    await oldGarbage(watch, 64);
    const before = Deno.memoryUsage().heapUsed;
    const r = await watch.provoke(1024 << 20, 60_000);
    const after = Deno.memoryUsage().heapUsed;
    assert.ok(r.began, `no marking began with ${r.ballastBytes >> 20} MB of ballast`);
    assert.ok(r.settled, "the marking did not reach its mark-compact");
    assert.ok(r.markCompacts >= 1, `${r.markCompacts} mark-compacts`);
    assert.equal(watch.marking, false);
    // ~64 MB of small arrays were garbage: most of it is gone.
    assert.ok(before - after > 32 << 20, `heap ${before >> 20} -> ${after >> 20} MB`);
  } finally {
    watch.stop();
  }
});
