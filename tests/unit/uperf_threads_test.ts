import assert from "node:assert/strict";
import {
  auxvClockTicks,
  clockTicksPerSecond,
  parseTaskSched,
  parseTaskStat,
  splitTaskStat,
  threadCpuDelta,
  threadCpuSeconds,
  threadSchedCounts,
  threadSchedDelta,
} from "../../cli/uperf_threads.ts";

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

Deno.test("uperf threads: clock ticks from the auxiliary vector, as getconf CLK_TCK says", async () => {
  const words = (pairs: number[][]) => {
    const b = new Uint8Array(pairs.length * 16);
    const v = new DataView(b.buffer);
    pairs.forEach(([type, value, high = 0], i) => {
      v.setUint32(i * 16, type, true);
      v.setUint32(i * 16 + 8, value, true);
      v.setUint32(i * 16 + 12, high, true);
    });
    return b;
  };
  assert.equal(auxvClockTicks(words([[6, 4096], [17, 250], [0, 0]])), 250);
  assert.equal(auxvClockTicks(words([[6, 4096], [0, 0], [17, 250]])), 0, "after AT_NULL");
  assert.equal(auxvClockTicks(words([[17, 250, 1]])), 0, "does not fit 32 bits");
  assert.equal(auxvClockTicks(new Uint8Array(8)), 0);
  assert.deepEqual(parseTaskStat("1 (x) S 0 0 0 0 0 0 0 0 0 0 500 250 0", 250), {
    name: "x",
    seconds: 3,
  });
  const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
  assert.equal(clockTicksPerSecond(), Number(new TextDecoder().decode(out.stdout).trim()));
});

Deno.test("uperf threads: a stat line splits at the last parenthesis, whatever the name holds", () => {
  const split = splitTaskStat("12 (a) b (c)) S 1 2 3");
  assert.deepEqual(split, { name: "a) b (c)", rest: ["S", "1", "2", "3"] });
  assert.equal(splitTaskStat("12 no name"), null);
});

Deno.test("uperf threads: a /proc sched text gives switches and migrations; deltas per thread", () => {
  const text = [
    "deno (4242, #threads: 9)",
    "-------------------------------------------------------------------",
    "se.exec_start                                :      53921582.255385",
    "se.nr_migrations                             :                   12",
    "nr_switches                                  :                  140",
    "nr_voluntary_switches                        :                  100",
    "nr_involuntary_switches                      :                   40",
    "se.load.weight                               :              1048576",
  ].join("\n");
  assert.deepEqual(parseTaskSched(text), { voluntary: 100, involuntary: 40, migrations: 12 });
  assert.equal(parseTaskSched("nr_voluntary_switches : 3"), null);
  const c = (v: number, i: number, m: number) => ({ voluntary: v, involuntary: i, migrations: m });
  const before = new Map([[10, c(1, 2, 3)], [11, c(5, 5, 5)]]);
  const after = new Map([[10, c(11, 32, 4)], [12, c(1, 1, 1)]]);
  assert.deepEqual(threadSchedDelta(before, after, 10), c(10, 30, 1));
  assert.deepEqual(threadSchedDelta(before, after, 11), c(0, 0, 0), "ended: zeros");
  assert.deepEqual(threadSchedDelta(before, after, 12), c(0, 0, 0), "new: zeros");
});

Deno.test("uperf threads: this process's scheduler counts are read with --allow-all", () => {
  const m = threadSchedCounts();
  const main = m.get(Deno.pid);
  assert.ok(main !== undefined, "the main thread is there");
  assert.ok(main.voluntary + main.involuntary > 0, "it was switched out at least once");
});
