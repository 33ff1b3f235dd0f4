// bench/run_contention.ts: the whole machine's CPU by /proc/stat column, and the CPU each thread last
// ran on (what a slow run shares its CPUs with, and how the scheduler placed its threads).

import assert from "node:assert/strict";
import {
  contentionText,
  machineCpu,
  machineTicks,
  placementShares,
  threadCpu,
  threadCpus,
  watchRun,
} from "../../bench/run_contention.ts";

Deno.test("run_contention machineCpu: percent of one CPU per column, iowait counted as idle", () => {
  // user nice system idle iowait irq softirq steal, in clock ticks (100 per second)
  const a = [1000, 500, 800, 9000, 10, 0, 40, 0];
  const b = [1050, 590, 900, 9040, 20, 0, 60, 5];
  assert.deepEqual(machineCpu(a, b, 1), {
    user: 50,
    nice: 90,
    system: 100,
    idle: 50,
    irq: 0,
    softirq: 20,
    steal: 5,
  });
  // Over two seconds the same ticks are half the share.
  assert.equal(machineCpu(a, b, 2).nice, 45);
});

Deno.test("run_contention machineTicks: eight columns of the cpu line, all counts", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const t = await machineTicks();
  assert.equal(t.length, 8);
  for (const v of t) assert.ok(Number.isInteger(v) && v >= 0, String(t));
});

Deno.test("run_contention threadCpus: this process's main thread and the CPU it last ran on", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const cpus = await threadCpus(Deno.pid, "me ");
  const main = (await Deno.readTextFile(`/proc/${Deno.pid}/comm`)).trim();
  const cpu = cpus.get(`me ${main}`);
  assert.ok(cpu !== undefined, JSON.stringify([...cpus]));
  assert.ok(Number.isInteger(cpu) && cpu >= 0 && cpu < navigator.hardwareConcurrency, `${cpu}`);
  for (const k of cpus.keys()) assert.ok(k.startsWith("me "), k);
});

Deno.test("run_contention threadCpu: io_uring's polling threads in one column, whatever their pid", () => {
  // /proc/<pid>/task/<tid>/comm of `--tx-kick uring`'s thread is `iou-sqp-<pid>`: two
  // processes' rounds (or two rings) must add up in one `iou-sqp` column.
  const a = new Map([["deno#7", 100], ["iou-sqp-7#9", 0], ["iou-sqp-8#12", 50]]);
  const b = new Map([["deno#7", 150], ["iou-sqp-7#9", 30], ["iou-sqp-8#12", 60]]);
  const hz = 100; // USER_HZ on Linux x86-64
  const cpu = threadCpu(a, b, 1);
  assert.deepEqual(Object.keys(cpu).sort(), ["deno", "iou-sqp"]);
  assert.equal(cpu["iou-sqp"], Math.round(Math.round(30 / hz * 100) + 10 / hz * 100));
  assert.equal(threadCpu(a, b, 1, "sink ")["sink iou-sqp"], cpu["iou-sqp"]);
});

Deno.test("run_contention placementShares: pairs of busy threads, and all of them on one CPU", () => {
  // Four samples of three busy threads on two CPUs; the kicker is missing from the last one.
  const s = [
    new Map([["stack deno#1", 0], ["stack worker-1#2", 0], ["peer python3#3", 0]]),
    new Map([["stack deno#1", 0], ["stack worker-1#2", 1], ["peer python3#3", 1]]),
    new Map([["stack deno#1", 1], ["stack worker-1#2", 1], ["peer python3#3", 1]]),
    new Map([["stack deno#1", 1], ["peer python3#3", 0]]),
  ];
  const busy = ["peer python3#3", "stack deno#1", "stack worker-1#2"];
  assert.deepEqual(placementShares(s, busy), {
    placement: {
      "peer python3=stack deno": 0.5,
      "peer python3=stack worker-1": 1,
      "stack deno=stack worker-1": 0.67,
    },
    allOnOne: 0.67,
  });
  // One busy thread: no pair, nothing to pack.
  assert.deepEqual(placementShares(s, ["stack deno#1"]), { placement: {}, allOnOne: null });
  // Two busy threads of one name are told apart.
  const twin = [new Map([["peer deno#4", 0], ["peer deno#5", 0]])];
  assert.deepEqual(placementShares(twin, ["peer deno#4", "peer deno#5"]).placement, {
    "peer deno=peer deno#2": 1,
  });
});

Deno.test("run_contention contentionText: nice, idle and the packed share", () => {
  assert.equal(
    contentionText({
      seconds: 1,
      machine: { nice: 80, idle: 3 },
      cpu: {},
      placement: {},
      allOnOne: 0.62,
    }),
    "nice 80, idle 3, busy threads on one CPU 62%",
  );
  assert.equal(
    contentionText({
      seconds: 1,
      machine: { nice: 0, idle: 50 },
      cpu: {},
      placement: {},
      allOnOne: null,
    }),
    "nice 0, idle 50, busy threads on one CPU —",
  );
});

Deno.test("run_contention watchRun: this process, a busy loop counted busy", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const watching = watchRun(() => Promise.resolve(new Map([["me", [Deno.pid]]])), 0, 300, 20);
  // Keep the main thread busy for most of the window, in slices so the watcher's timers run.
  const end = performance.now() + 320;
  while (performance.now() < end) {
    const slice = performance.now() + 15;
    while (performance.now() < slice) { /* spin */ }
    await new Promise((r) => setTimeout(r, 0));
  }
  const c = await watching;
  assert.ok(c.seconds >= 0.29 && c.seconds < 5, String(c.seconds));
  // The thread that runs this test (not always the process's first: `deno test` runs tests on
  // a runtime thread) used most of the window; every name carries the label.
  assert.ok(Object.values(c.cpu).some((v) => v >= 20), JSON.stringify(c.cpu));
  for (const k of Object.keys(c.cpu)) assert.ok(k.startsWith("me "), k);
  for (const k of ["user", "nice", "system", "idle", "steal"]) {
    assert.ok(Number.isInteger(c.machine[k]), JSON.stringify(c.machine));
  }
});
