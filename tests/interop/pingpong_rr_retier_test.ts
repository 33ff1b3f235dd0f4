// A fresh `pingpong` round-trip client against the kernel (`bench:e2e`'s ustack→kernel
// request/response row): the per-round-trip code its warm-up gave TurboFan code is not
// compiled by TurboFan again in its measured round trips. The warm-up's main connection
// closing and its tail's new pair of stacks throw that code away; a tail of 300 round trips
// left V8 to compile ~30 such functions again during the real run's first second, where its
// slowest 1 % fell (bench/README.md, `p99e35`; cli/pingpong_rr_warm_up.ts,
// RR_WARM_UP_TAIL_ROUND_TRIPS). Counted from V8's `--trace-opt` lines, not timed.

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { cliCommand, CliProcess } from "../harness/ustack_cli.ts";

/** A function's TurboFan code finished (`completed compiling … (target TURBOFAN_JS)`). */
const TURBOFAN =
  /completed compiling \S+ <JSFunction (\S*) \(sfi = (0x[0-9a-f]+)\)> \(target TURBOFAN_JS\)/;

/**
 * The functions (by name) that got TurboFan code after the client's `start` event although
 * they had TurboFan code before it: compiled again by TurboFan in the measured round trips.
 */
export function retieredAfterStart(lines: string[]): string[] {
  const start = lines.findIndex((l) => l.includes('"event":"start"'));
  assert.ok(start >= 0, "no start event");
  const before = new Set<string>();
  for (const l of lines.slice(0, start)) {
    const m = TURBOFAN.exec(l);
    if (m !== null) before.add(m[2]);
  }
  // The trace arrived: the warm-up compiles its hot path by TurboFan before `start` (an empty
  // set would make every run pass).
  assert.ok(before.size > 0, "no TurboFan compile traced before start");
  const again: string[] = [];
  for (const l of lines.slice(start)) {
    const m = TURBOFAN.exec(l);
    if (m !== null && before.has(m[2])) again.push(m[1]);
  }
  return again;
}

interopTest(
  "pingpong rr client: its warm-up's TurboFan code not compiled again after start",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const server = new CliProcess(
        pair.spawn(
          cliCommand(["pingpong", "server", "--kernel", "-l", "64", "--json"], [
            "--allow-net",
          ]),
          { stdout: "piped", stderr: "piped" },
        ),
      );
      try {
        await server.waitForLine(/"event":"ready"/);
        const client = cliCommand(
          [
            "pingpong",
            "client",
            pair.peerAddr,
            "-l",
            "64",
            "-w",
            "100",
            "-n",
            "20000",
            "--if",
            pair.stackIf,
            "--addr",
            `${pair.stackAddr}/${pair.prefixLen}`,
            "--json",
          ],
          ["--v8-flags=--trace-opt"],
        );
        // main's code (a tail of 300 round trips): 32 and 34 in 2 runs, 29–41 in 6 beside two
        // busy loops; this build 7–17 in 6, 6–22 in 12 beside them (bench/README.md, `p99e35`,
        // and the thirty-fifth session's end section). A second client when the first compiled
        // more than 25 (a loaded machine's JIT timing): main's code fails both.
        const counts: string[] = [];
        for (let attempt = 0; attempt < 2; attempt++) {
          // V8's trace lines line-buffered, so they fall in order with the client's own lines.
          const r = await pair.runInStackNs(["stdbuf", "-oL", ...client], {
            timeoutMs: 120_000,
          });
          assert.equal(r.code, 0, r.stderr.slice(-2000));
          const lines = r.stdout.split("\n");
          assert.ok(lines.some((l) => l.includes('"event":"summary"')), r.stdout.slice(-2000));
          const again = retieredAfterStart(lines);
          if (again.length <= 25) return;
          counts.push(`${again.length} compiled again: ${again.join(", ")}`);
        }
        assert.fail(counts.join("\n"));
      } finally {
        await server.stop();
      }
    });
  },
  { tools: ["stdbuf"] },
);
