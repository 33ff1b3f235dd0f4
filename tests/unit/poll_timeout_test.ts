import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

const PROBE = new URL("../harness/poll_timeout_probe.ts", import.meta.url);

// The event loop's blocking slice handed `ppoll`'s wrapper a fraction of a millisecond (the
// time to the next deadline): where V8 did not inline the wrapper into the loop's transmit
// half, a new heap number per slice (bench/README.md, "heap13q"). The probe (a child with
// --allow-natives-syntax) makes such slices from optimised code with the wrapper kept out of
// line: in whole microseconds (`pollBlockingUs`, what the loop now calls) nothing is allocated.
Deno.test("poll timeout: a blocking slice's timeout in whole microseconds allocates nothing, in milliseconds a heap number", async () => {
  const r = (await runNativesProbe(PROBE, ["--allow-read", "--allow-ffi"])) as Record<
    string,
    number
  >;
  assert.ok(r.slicesMs >= 12, `the probe's condition: ${r.slicesMs} B per slice in ms`);
  assert.ok(r.slicesUs < 1, `${r.slicesUs} B per slice in µs`);
  assert.deepEqual([r.slicesMsReady, r.slicesUsReady], [1, 1], "every ppoll found the fd ready");
});
