// The fuzzer inside `deno task test`: a short seeded run through the whole stack, the
// determinism of seeds, the regression corpus replayed, and the fuzzer's own detectors shown
// to work (a planted flaw is found, written, shrunk and replayed; the CLI exits by its line).

import assert from "node:assert/strict";
import { decodeScript, loadRegressions, loadSeeds } from "./corpus.ts";
import { replay, resultLine, runFuzz } from "./fuzzer.ts";

const seeds = loadSeeds();
const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("fuzz: 20,000 seeded frames through the whole stack, no escape, no leak", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const r = runFuzz({ frames: 20_000, seed: 20251203, seeds, crashDir: dir });
    const detail = `${resultLine(r)}\n${
      r.found.map((e) => `${e.where}: ${e.message}`).join("\n")
    }` +
      `\nscripts: ${r.scripts.join(" ")}`;
    assert.equal(r.frames, 20_000);
    assert.equal(r.escapes, 0, detail);
    assert.equal(r.leaked, 0, detail);
    assert.equal(r.stuckEndpoints, 0, "every connection and socket went away after the drain");
    // The frames get deep: handshakes, reassembly, echoes, ARP answers, ICMP errors, TCP
    // data out of order.
    for (
      const c of [
        "tcp.PassiveOpens",
        "tcp.TCPOFOQueue",
        "tcp.InRsts",
        "ip.ReasmOKs",
        "ip.ReasmOverlaps",
        "icmp.OutEchoReps",
        "icmp.InDestUnreachs",
        "udp.OutDatagrams",
        "arp.InReplies",
      ]
    ) {
      assert.ok((r.counters[c] ?? 0) > 0, `${c} never moved: the generators do not reach it`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fuzz: the same seed injects the same frames; another seed others", () => {
  const a = runFuzz({ frames: 3000, seed: 7, seeds, crashDir: null, epochFrames: 1000 });
  const b = runFuzz({ frames: 3000, seed: 7, seeds, crashDir: null, epochFrames: 1000 });
  const c = runFuzz({ frames: 3000, seed: 8, seeds, crashDir: null, epochFrames: 1000 });
  assert.equal(a.digest, b.digest);
  assert.deepEqual(a.counters, b.counters, "the hosts behaved the same too");
  assert.notEqual(a.digest, c.digest);
});

Deno.test("fuzz: every script of the regression corpus replays with no escape and no leak", () => {
  const scripts = loadRegressions();
  for (const { name, script } of scripts) {
    const r = replay(script.target, script.steps);
    const what = `${name} (${script.found}): ${r.found.map((e) => e.message).join("; ")}`;
    assert.equal(r.escapes, 0, what);
    assert.equal(r.leaked, 0, what);
  }
});

Deno.test("fuzz: a planted flaw is found, written as a shrunk script, and replays", () => {
  const dir = Deno.makeTempDirSync();
  try {
    for (const plant of ["escape", "leak"] as const) {
      const r = runFuzz({ frames: 4000, seed: 5, seeds, crashDir: dir, plant, shrinkMs: 5000 });
      if (plant === "escape") {
        assert.ok(r.escapes > 0);
        assert.match(r.found[0].message, /planted flaw: IP protocol 253/);
      } else {
        assert.ok(r.leaked > 0);
        assert.equal(r.escapes, 0);
      }
      assert.ok(r.scripts.length > 0, "a regression script was written");
      const script = decodeScript(Deno.readTextFileSync(r.scripts[0]));
      assert.equal(script.target.plant, plant);
      assert.ok(script.steps.length <= 3, `shrunk to ${script.steps.length} steps`);
      const again = replay(script.target, script.steps);
      assert.ok(plant === "escape" ? again.escapes > 0 : again.leaked > 0, "it replays");
      // Without the flaw the same steps are harmless.
      const { plant: _, ...clean } = script.target;
      const fixed = replay(clean, script.steps);
      assert.equal(fixed.escapes + fixed.leaked, 0);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fuzz: the CLI ends with its result line and exits 0 only without escapes/leaks", async () => {
  const run = async (extra: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", MAIN, "--quiet", "--no-crash-files", ...extra],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    return { code: out.code, last: lines.at(-1) ?? "" };
  };
  const LINE = /^fuzz: (\d+) frames, (\d+) escapes, (\d+) leaked buffers, (\d+) frames\/s$/;
  const ok = await run(["--frames", "3000", "--seed", "11"]);
  const m = LINE.exec(ok.last);
  assert.ok(m, ok.last);
  assert.equal(m[1], "3000");
  assert.equal(ok.code, 0);
  assert.ok(Number(m[4]) > 0);
  const bad = await run(["--frames", "3000", "--seed", "11", "--plant", "escape"]);
  const b = LINE.exec(bad.last);
  assert.ok(b && Number(b[2]) > 0, bad.last);
  assert.equal(bad.code, 1);
  const usage = await run(["--frames", "many"]);
  assert.equal(usage.code, 2);
});
