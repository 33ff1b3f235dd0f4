// `serve --http` and `serve --discard` warm their paths up before the ready line (simulated
// streams and requests, then the real loop's rehearsal of its idle sequence), as
// `pingpong server` does: after the line, the real connections — a kernel client's downloads
// or bulk sends, with idle spells between them in which the loop parks — must not make V8 throw
// any of the event loop's code away (compiled without feedback for a path the warm-up never
// took). The probe `many_clients_test.ts`' server test makes for `pingpong server`
// (bench/README.md, "flake34", "drive35").

import assert from "node:assert/strict";
import { deoptsFrom } from "../harness/deopt_trace.ts";
import { interopTest } from "../harness/interop.ts";
import { type VethPair, withVethPair } from "../harness/netns.ts";
import { cliCommand, CliProcess } from "../harness/ustack_cli.ts";

/** A kernel client: connect to argv[1]:argv[2], send argv[3] zero bytes, close. */
const SEND = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(bytes(int(sys.argv[3])))
s.close()
`;

/** Rounds of real work after the ready line, each followed by an idle spell. */
const ROUNDS = 4;
/** The idle spell after each round (ms): the loop goes through its idle sequence and parks. */
const IDLE_MS = 300;

/**
 * `serve` with `args` (and `--json`) on the pair's stack end under
 * `--trace-deopt-verbose`, line-buffered (V8's trace lines and the JSON events keep their
 * order); `work` runs after its ready line. Returns the loop's deoptimisations after the line.
 */
async function serveDeopts(
  pair: VethPair,
  args: string[],
  work: () => Promise<void>,
): Promise<string[]> {
  const cmd = cliCommand(
    ["serve", "--if", pair.stackIf, "--addr", `${pair.stackAddr}/${pair.prefixLen}`, ...args],
    ["--v8-flags=--trace-deopt-verbose"],
  );
  const serve = new CliProcess(
    pair.spawnInStackNs(["stdbuf", "-oL", ...cmd], { stdout: "piped", stderr: "piped" }),
  );
  let after: string[] = [];
  try {
    await serve.waitForLine(/"event":"ready"/, 60_000);
    for (let i = 0; i < ROUNDS; i++) {
      await work();
      await new Promise((r) => setTimeout(r, IDLE_MS));
    }
    const ready = serve.lines.findIndex((l) => l.startsWith('{"event":"ready"'));
    // The probe sees V8's trace at all: the warm-up's own deoptimisations come before the line
    // (47–69 of them), so an empty list after it is not a trace that never arrived.
    const traced = serve.lines.slice(0, ready).some((l) => l.includes("deoptimizing"));
    assert.ok(traced, "no V8 deopt trace line before the ready line: the probe sees nothing");
    after = serve.lines.slice(ready + 1);
  } finally {
    await serve.stop();
  }
  return deoptsFrom(after, "/stack/event_loop.ts:");
}

interopTest(
  "serve --http: the event loop is not deoptimised by the downloads after its ready line",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const url = `http://${pair.stackAddr}/bytes/1000000`;
      const deopts = await serveDeopts(pair, ["--http", "80", "--json"], async () => {
        for (let i = 0; i < 3; i++) {
          const r = await pair.run([
            "curl",
            "-sS",
            "--fail",
            "--max-time",
            "30",
            "-o",
            "/dev/null",
            url,
          ], {
            timeoutMs: 40_000,
          });
          assert.equal(r.code, 0, r.stderr);
        }
      });
      assert.deepEqual(deopts, [], "serve --http's loop deoptimised after its ready line");
    });
  },
  { tools: ["curl"] },
);

interopTest(
  "serve --discard: the event loop is not deoptimised by the bulk sends after its ready line",
  async () => {
    await withVethPair({ ipv6: false }, async (pair) => {
      const deopts = await serveDeopts(pair, ["--discard", "9", "--json"], async () => {
        const r = await pair.run(["python3", "-c", SEND, pair.stackAddr, "9", "3000000"]);
        assert.equal(r.code, 0, r.stderr);
      });
      assert.deepEqual(deopts, [], "serve --discard's loop deoptimised after its ready line");
    });
  },
  { tools: ["python3"] },
);
