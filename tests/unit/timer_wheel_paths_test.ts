import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

// V8 keeps no type feedback for a path code has not taken; optimised code that meets one throws
// itself away. A real stack's first timer beyond the wheel's 4.1-s block (an RTO armed near its
// end) and its first cascade did so in the middle of a transfer — `arm`, `cancel`, `#place`,
// `#unlink`, and the receive path that inlined them, back to V8's lower tiers, where each
// fractional time is a new heap number (bench/README.md, "box40"). The process's first wheel
// rehearses every path, so code optimised on the common ones has the rest's feedback too.
Deno.test("timer wheel: code optimised on near timers survives the first level-1 and overflow timers and cascades", async () => {
  const r = await runNativesProbe(
    new URL("../harness/timer_wheel_paths_probe.ts", import.meta.url),
  );
  assert.equal(r.optimized, true, "arm, cancel and advance optimised (else nothing is tested)");
  assert.equal(r.level1, true, "a timer beyond the block");
  assert.equal(r.overflow, true, "a timer beyond the super-block");
  assert.equal(r.cascade, true, "the next block's cascade");
});
