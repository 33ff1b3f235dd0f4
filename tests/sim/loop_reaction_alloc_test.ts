// After a tick that woke a task, the event loop gives microtasks turns (`await` of a settled
// promise, up to 16) so that the task's answer leaves in the same tick. A receive-only reader
// never answers: on `main` every tick that woke it ran all 16 turns, each allocating — on the
// real receive path (kernel→ustack) ~0.4–0.7 KB per received frame, the largest allocation of
// the stack's own (bench/README.md, "heap13c"). Now the turns end once every woken task waits
// on its queue again. Counted with the loop's trace (each tick's turns), not with `heapUsed`:
// in this rig the sender's `setImmediate` per write outweighs the turns many times over.

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { LoopTrace } from "../../stack/loop_trace.ts";
import { microtaskTurns, writeEveryTurn } from "../harness/loop_turns.ts";

/** Reads traced. */
const READS = 2000;
/** Most microtask turns a tick may give a reader that reads and waits again. */
const MAX_TURNS = 8;

Deno.test({
  name: "sim loop reactions: a woken reader that waits again ends the microtask turns",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    const listener = rt.listen({ port: 7001 });
    const client = await rt.connect({ hostname: "198.18.9.1", port: 7001 });
    const server = await listener.accept();
    const chunk = new Uint8Array(1000);
    const buf = new Uint8Array(64 * 1024);
    let reads = 0;
    const readN = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const r = await server.read(buf);
        assert.ok(r !== null && r > 0);
        reads++;
      }
    };
    // The sender writes from a turn of Deno's event loop, never as a reaction to readiness:
    // the reader is the only task a delivery wakes, and it never writes.
    const stop = writeEveryTurn(client, chunk);
    try {
      await readN(2000); // optimised code
      const trace = new LoopTrace(1 << 16);
      rt.loop.trace = trace;
      await readN(READS);
      rt.loop.trace = null;
      const { ticks, maxTurns, meanTurns } = microtaskTurns(trace);
      assert.ok(ticks >= 100, `${ticks} ticks woke the reader`);
      assert.ok(
        maxTurns <= MAX_TURNS,
        `a tick gave ${maxTurns} microtask turns (mean ${meanTurns.toFixed(2)})`,
      );
    } finally {
      stop();
      client.close();
      server.close();
      listener.close();
    }
  },
});
