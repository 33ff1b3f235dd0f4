// `bench/conn_cold_why.ts` compares a fresh pair's crowd across checkouts, link flags, MTUs and
// pair kinds in the same rounds (bench/README.md, branch conn9b): which runs a round makes.

import assert from "node:assert/strict";
import { coldConfigs, coldRuns } from "../../bench/conn_cold_why.ts";

Deno.test("conn_cold_why: this checkout, --base and each --variant with its flags", () => {
  const c = coldConfigs("/tmp/base/cli/ustack.ts", ["big=--rx-slots 64k", "v3=--rx-ring  v3"]);
  assert.deepEqual(c.map((x) => x.name), ["this", "base", "big", "v3"]);
  assert.equal(c[1].cli, "/tmp/base/cli/ustack.ts");
  assert.deepEqual(c[2].flags, ["--rx-slots", "64k"]);
  assert.deepEqual(c[3].flags, ["--rx-ring", "v3"]);
  assert.equal(c[2].cli, undefined);
  assert.throws(() => coldConfigs(undefined, ["--rx-slots 64k"]), /NAME=FLAGS/);
  assert.throws(() => coldConfigs("/b", ["base=--x"]), /name taken/);
});

Deno.test("conn_cold_why: --pairs runs every configuration per stack pair, the kernel pair once", () => {
  const configs = coldConfigs("/b", []);
  assert.deepEqual(coldRuns(configs, ["uu"]).map((r) => [r.name, r.ends]), [
    ["this", "uu"],
    ["base", "uu"],
  ]);
  const runs = coldRuns(configs, ["uu", "uk", "kk"]);
  assert.deepEqual(runs.map((r) => r.name), ["this:uu", "base:uu", "this:uk", "base:uk", "kernel"]);
  const kernel = runs.find((r) => r.ends === "kk")!;
  assert.equal(kernel.cli, undefined);
  assert.deepEqual(kernel.flags, []);
  assert.throws(() => coldRuns(configs, ["ku"]), /uu, uk or kk/);
});
