// The connection warm-up's compiled code survives the real stack's start.
//
// `Runtime.start` on af_packet creates the TX kicker, the process's first `node:worker_threads`
// Worker, and V8 then drops the optimised code of every function compiled so far ("dependent
// prototype chain changed"). A warm-up run before the start was compiled a second time during
// the first real connections (bench/README.md, "Connection CPU, third pass"); the CLI now
// starts the stack first. V8's own trace (`--trace-deopt`) counts the functions dropped.

import assert from "node:assert/strict";
import { interopTest } from "../harness/interop.ts";
import { withVethPair } from "../harness/netns.ts";
import { spawnCli } from "../harness/ustack_cli.ts";

/** Optimised functions V8 dropped because a prototype chain changed, in a process's output. */
function droppedForPrototypeChain(lines: string[]): number {
  return lines.join("\n").match(/dependent prototype chain changed/g)?.length ?? 0;
}

interopTest("pingpong server --prewarm: the warm-up's optimised code is not dropped", async () => {
  await withVethPair({ ipv6: false }, async (pair) => {
    const link = ["--if", pair.stackIf, "--addr", `${pair.stackAddr}/${pair.prefixLen}`];
    const server = spawnCli(
      pair,
      ["pingpong", "server", "--prewarm", "3000", "--json", ...link],
      ["--v8-flags=--trace-deopt"],
    );
    await server.waitForLine(/"event":"ready"/, 60_000);
    assert.equal(await server.stop(), 0, server.errors.join("\n"));
    const text = server.lines.join("\n");
    assert.match(text, /"event":"warm_up","connections":3000,"failed":0/);
    // 3,000 warm-up connections optimise ~60–100 functions; before the change all of them
    // were dropped when the stack started after the warm-up. Now only what was compiled
    // before the start (command-line parsing, the start itself) can be.
    const dropped = droppedForPrototypeChain(server.lines);
    assert.ok(dropped < 20, `${dropped} optimised functions dropped (prototype chain changed)`);
  });
});
