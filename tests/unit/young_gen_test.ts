// cli/young_gen.ts: the warm-up's survivors out of V8's new space before a ready line.

import assert from "node:assert/strict";
import v8 from "node:v8";
import { settleYoungGeneration } from "../../cli/young_gen.ts";

function newSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_used_size;
}

Deno.test("settleYoungGeneration: two scavenges, the new space left (nearly) empty", () => {
  // Young objects that stay alive (a warm-up's survivors) and young garbage.
  const kept: number[][] = [];
  for (let i = 0; i < 100_000; i++) {
    const a = [i, i + 1];
    if (i % 4 === 0) kept.push(a);
  }
  const before = newSpaceUsed();
  const r = settleYoungGeneration();
  const after = newSpaceUsed();
  assert.equal(r.scavenges, 2);
  assert.ok(r.allocatedBytes > 0);
  // The survivors were copied once, then promoted: what is left is this test's own few objects.
  assert.ok(after < 256 * 1024, `new space ${before} -> ${after} bytes`);
  assert.ok(after < before, `new space ${before} -> ${after} bytes`);
  assert.equal(kept.length, 25_000);
});
