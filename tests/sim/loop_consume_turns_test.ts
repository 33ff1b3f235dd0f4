// A stream consumer (`TcpConn.consume`) reads in the wait queue's listener, inside the tick:
// when the listener returns, the application has reacted. The event loop gives microtask turns
// after a tick that delivered readiness, for a woken task's answer to make the tick — each an
// `await`, each allocating — and a delivery to a listener turns off the rule that ends them
// early (a listener may resolve a promise whose write must still make the tick): a consumer
// would have paid all 16 turns per tick. Its listener is marked synchronous
// (`WaitQueue.listenerSync`), and the loop gives it none. Counted with the loop's trace. Ticks
// with no turns and no park, in a row, then take their turns of Deno's event loop from a
// `setImmediate` callback rather than by awaiting a promise (`EventLoop` stats.directYields).

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { LoopTrace } from "../../stack/loop_trace.ts";
import { byteTarget, microtaskTurns, writeEveryTurn } from "../harness/loop_turns.ts";

/** Bytes consumed while traced. */
const TRACED_BYTES = 8_000_000;
/** Most microtask turns a tick may give when only a consumer was delivered to. */
const MAX_TURNS = 1;

Deno.test({
  name: "sim loop consume turns: a tick that delivered only to a consumer gives no microtask turns",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    const listener = rt.listen({ port: 7002 });
    const client = await rt.connect({ hostname: "198.18.9.1", port: 7002 });
    const server = await listener.accept();
    const chunk = new Uint8Array(1000);
    const { count, until } = byteTarget();
    const consumed = server.consume(new Uint8Array(64 * 1024), count);
    // The sender writes from a turn of Deno's event loop, never as a reaction to readiness.
    const stop = writeEveryTurn(client, chunk);
    try {
      await until(2_000_000); // optimised code
      const trace = new LoopTrace(1 << 16);
      const stats = rt.loop.stats;
      const yields0 = stats.yields;
      const direct0 = stats.directYields;
      rt.loop.trace = trace;
      await until(TRACED_BYTES);
      rt.loop.trace = null;
      // No microtask turns, no park: the loop turned Deno's event loop from a setImmediate
      // callback, with no promise and no async function resumed.
      const yields = stats.yields - yields0;
      const direct = stats.directYields - direct0;
      assert.ok(yields >= 50 && direct >= 0.9 * yields, `${direct} of ${yields} yields direct`);
      const { ticks, maxTurns, meanTurns } = microtaskTurns(trace);
      assert.ok(ticks >= 50, `${ticks} ticks delivered to the consumer`);
      assert.ok(
        maxTurns <= MAX_TURNS,
        `a tick gave ${maxTurns} microtask turns (mean ${meanTurns.toFixed(2)})`,
      );
    } finally {
      stop();
      client.close();
      server.close();
      listener.close();
      await consumed.catch(() => {});
    }
  },
});
