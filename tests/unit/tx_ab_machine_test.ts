// bench/tx_ab.ts: the whole machine's CPU by /proc/stat column, and the CPU each thread last
// ran on (what a slow run shares its CPUs with, and how the scheduler placed its threads).

import assert from "node:assert/strict";
import { machineCpu, machineTicks, threadCpus } from "../../bench/tx_ab.ts";

Deno.test("tx_ab machineCpu: percent of one CPU per column, iowait counted as idle", () => {
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

Deno.test("tx_ab machineTicks: eight columns of the cpu line, all counts", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const t = await machineTicks();
  assert.equal(t.length, 8);
  for (const v of t) assert.ok(Number.isInteger(v) && v >= 0, String(t));
});

Deno.test("tx_ab threadCpus: this process's main thread and the CPU it last ran on", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const cpus = await threadCpus(Deno.pid, "me ");
  const main = (await Deno.readTextFile(`/proc/${Deno.pid}/comm`)).trim();
  const cpu = cpus.get(`me ${main}`);
  assert.ok(cpu !== undefined, JSON.stringify([...cpus]));
  assert.ok(Number.isInteger(cpu) && cpu >= 0 && cpu < navigator.hardwareConcurrency, `${cpu}`);
  for (const k of cpus.keys()) assert.ok(k.startsWith("me "), k);
});
