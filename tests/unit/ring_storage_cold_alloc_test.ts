// RingStoragePool's take and give run about once per ring emptying, never often enough for V8
// to optimise them, and in unoptimised code `pop` trims an array's backing store once it is
// under half full: the free lists, filled and emptied by `push` and `pop`, got a new backing
// store as it refilled, and `chunkSize`'s `Math.log2` was a new heap number per take
// (bench/README.md, "heap13f"). Measured in a child process that never optimises
// (tests/harness/cold_pool_probe.ts), per cycle of 20 takes and 20 gives: main 4,803 B (three
// runs), this code 10.8.

import assert from "node:assert/strict";

const PROBE = new URL("../harness/cold_pool_probe.ts", import.meta.url).pathname;
/** Most heap growth per fill and empty of 20 chunks. */
const MAX_BYTES_PER_CYCLE = 64;

Deno.test(`ring storage cold alloc: a free list filled and emptied in unoptimised code grows the heap < ${MAX_BYTES_PER_CYCLE} B per cycle`, async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--v8-flags=--max-opt=0", PROBE],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  assert.ok(r.reuses > 0, "the free list was used");
  assert.ok(r.bytesPerCycle < MAX_BYTES_PER_CYCLE, `${r.bytesPerCycle.toFixed(1)} B per cycle`);
});
