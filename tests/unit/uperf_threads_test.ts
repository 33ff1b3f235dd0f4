import assert from "node:assert/strict";
import { parseTaskStat, threadCpuDelta, threadCpuSeconds } from "../../cli/uperf_threads.ts";

Deno.test("uperf threads: a /proc stat line gives the thread's name and utime + stime", () => {
  // Fields 14 and 15 (utime 250, stime 50 ticks); the name holds a blank and a parenthesis.
  const line = "4242 (worker (1) x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 7 0 100 0 0";
  assert.deepEqual(parseTaskStat(line), { name: "worker (1) x", seconds: 3 });
  assert.equal(parseTaskStat("garbage"), null);
});

Deno.test("uperf threads: the delta splits the main thread, the busiest other and the rest", () => {
  const t = (entries: [number, string, number][]) =>
    new Map(entries.map(([tid, name, seconds]) => [tid, { name, seconds }]));
  const before = t([[10, "deno", 1], [11, "worker-1", 0.5], [12, "tokio", 0]]);
  const after = t([[10, "deno", 3], [11, "worker-1", 4.5], [12, "tokio", 0.25], [13, "new", 1]]);
  assert.deepEqual(threadCpuDelta(before, after, 10), {
    mainSeconds: 2,
    busiestOther: "worker-1",
    busiestOtherSeconds: 4,
    otherSeconds: 5.25,
  });
});

Deno.test("uperf threads: this process's threads are read with --allow-all", () => {
  const m = threadCpuSeconds();
  assert(m.has(Deno.pid), "the main thread is listed");
  assert(m.get(Deno.pid)!.seconds >= 0);
});
