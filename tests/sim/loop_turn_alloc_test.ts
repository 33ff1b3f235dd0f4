// The event loop's turns of Deno's event loop allocate no `Immediate`. While busy, the loop hands
// over to Deno's timers and I/O after a tick (from its async function, awaiting a promise the
// turn resolves; or, when no task awaited the tick, from the turn's callback itself). Each turn
// was a `setImmediate` from `node:timers`, ~500 B on Deno 2.9 — most of what the real receive
// and send paths allocated per TCP segment (bench/README.md, "heap38"). The loop now queues one of
// two records made once (`stack/deno_turn.ts`). Here a loopback `Runtime` runs a stream read both
// ways — `read()` awaited (the async function's turns) and `consume` (the callback's turns) —
// under V8's sampling heap profiler, and no sampled allocation may come from `node:timers`'
// `setImmediate` called by the loop. On main every run sampled ~250 B per turn there.

import assert from "node:assert/strict";
import { Session } from "node:inspector";
import { Runtime } from "../../mod.ts";
import { byteTarget, writeEveryTurn } from "../harness/loop_turns.ts";
import {
  type HeapProfileNode,
  startHeapSampling,
  stopHeapSampling,
} from "../../bench/inspector.ts";

/** Bytes read while sampled. */
const SAMPLED_BYTES = 16_000_000;

/** A frame of `node:timers`' immediates: `setImmediate`, the `Immediate` it makes, its callback. */
function immediateFrame(f: HeapProfileNode["callFrame"]): boolean {
  return /deno_node\/(internal\/)?timers/.test(f.url) &&
    /^(setImmediate|Immediate|callback)$/.test(f.functionName);
}

/**
 * Bytes sampled in `node:timers`' immediates (the allocating frame or one of its two callers is
 * theirs) under a frame of the event loop.
 */
function loopImmediateBytes(head: HeapProfileNode): number {
  let bytes = 0;
  const path: HeapProfileNode["callFrame"][] = [];
  const walk = (n: HeapProfileNode): void => {
    path.push(n.callFrame);
    if (
      n.selfSize > 0 && path.slice(-3).some(immediateFrame) &&
      path.some((f) => f.url.endsWith("stack/event_loop.ts"))
    ) {
      bytes += n.selfSize;
    }
    for (const c of n.children) walk(c);
    path.pop();
  };
  walk(head);
  return bytes;
}

for (const reader of ["read", "consume"] as const) {
  Deno.test({
    name:
      `sim loop turn alloc: the loop's turns of Deno's event loop make no Immediate (${reader})`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
      const listener = rt.listen({ port: 7003 });
      const client = await rt.connect({ hostname: "198.18.9.1", port: 7003 });
      const server = await listener.accept();
      const buf = new Uint8Array(64 * 1024);
      const { count, until } = byteTarget();
      let reading = true;
      const consumed = reader === "consume" ? server.consume(buf, count) : null;
      const reads = reader === "read"
        ? (async () => {
          while (reading) {
            const n = await server.read(buf);
            if (n === null) break;
            count(n);
          }
        })().catch(() => {})
        : null;
      // The sender writes from a turn of Deno's event loop (a `setImmediate` chain of its own,
      // not under the loop's frames), so the loop keeps turning Deno's event loop.
      const stop = writeEveryTurn(client, new Uint8Array(16 * 1024));
      const s = new Session();
      s.connect();
      try {
        await until(4_000_000); // optimised code
        const stats = rt.loop.stats;
        const yields0 = stats.yields;
        const direct0 = stats.directYields;
        await startHeapSampling(s, 128);
        await until(SAMPLED_BYTES);
        const head = await stopHeapSampling(s);
        const yields = stats.yields - yields0;
        const direct = stats.directYields - direct0;
        assert.ok(yields >= 100, `${yields} turns of Deno's event loop`);
        const bytes = loopImmediateBytes(head);
        assert.equal(
          bytes,
          0,
          `${bytes} B sampled in setImmediate under the loop, ${
            (bytes / yields).toFixed(1)
          } per turn (${direct} of ${yields} turns from the callback)`,
        );
      } finally {
        s.disconnect();
        reading = false;
        stop();
        client.close();
        server.close();
        listener.close();
        if (consumed !== null) await consumed.catch(() => {});
        if (reads !== null) await reads;
      }
    },
  });
}
