import assert from "node:assert/strict";
import { runNativesProbe } from "../harness/natives_probe.ts";

const PROBE = new URL("../harness/idle_gc_probe.ts", import.meta.url);

// A server quiet for ~30 s meets V8's memory reducer: full GCs that retain no maps. The maps
// that only the warm-up's objects had — its simulated-wire drivers, its TIME_WAIT records —
// were freed then, and the data path's optimised code compiled against them with it, so the
// first requests after the quiet ran cold (bench/README.md, branch `idle32`). The probe runs
// the warm-up, then a pair of "real" stacks on other drivers that make no TIME_WAIT record,
// and the last-resort GC (memory-reducing, no maps retained) while they live.
Deno.test("idle gc: a memory-reducing GC keeps the data path's optimised code", async () => {
  const r = await runNativesProbe(PROBE, ["--allow-all"], ["4000"], ["--expose-gc"]);
  const before = r.before as string[];
  // The check proves something only if the watched functions were optimised beforehand, and
  // if the real stacks held no TIME_WAIT record of their own.
  assert.ok(before.length >= 6, `optimised before the GC: ${before.join(", ")}`);
  assert.ok((r.timeWaitOverflow as number) > 0);
  // Without the warm-up's drivers kept: Nic.poll, Nic.output, Stack.transmitFlush lost; without
  // a TIME_WAIT record kept: FlowTable.lookup/insertVacant/remove, TcpLayer.receive lost.
  assert.deepEqual(r.lost, []);
});
