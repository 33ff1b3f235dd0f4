// The event loop allocates nothing of its own per tick while tasks await readiness. A tick that
// wakes an awaiting task (a `read()`, a `write()` waiting for send space) gives it microtask turns
// before the transmit half, so its answer leaves in that tick. The loop took those turns as
// `await`s of its async function, and handed over to Deno's event loop by awaiting a promise its
// turn resolved: ~265 B a turn (the promise, its resolving functions, the reaction) and ~40 B a
// microtask turn (bench/README.md, "heap38"). Driven from the turn's callback it runs them with
// Deno's `runNextTicks` (the microtask queue run dry, as between two immediates) and hands over
// with a re-queued record: no promise (bench/README.md, "heap39"). Here a loopback `Runtime`
// streams data to an awaiting reader under V8's sampling heap profiler; the bytes sampled in the
// loop's own functions (the allocating frame is in `stack/event_loop.ts`) must stay under a few
// bytes per tick. On main that run sampled ~45 B per tick there. A tick that wakes a writer (a
// task waiting for send space) is drained too, its writes going out every `drainFlushBytes`
// inside the drain (a bulk sender whose whole refill went out in the tick's one flush lost ~10 %:
// bench/README.md, "heap39b", "loop40"); before, it kept main's path — its turns awaited by the
// async function, ~448 B per tick sampled there — which `drainFlushBytes: 0` still selects.

import assert from "node:assert/strict";
import { Session } from "node:inspector";
import { Runtime, type TcpConn } from "../../mod.ts";
import { byteTarget, writeEveryTurn } from "../harness/loop_turns.ts";
import {
  type HeapProfileNode,
  startHeapSampling,
  stopHeapSampling,
} from "../../bench/inspector.ts";

/**
 * Bytes moved while sampled, by side: the writer's 64 KiB writes make ~2 MB ticks on the
 * loopback link, the reader's sender's 16 KiB writes (one per turn of Deno's loop) ~10 KB ones.
 */
const SAMPLED_BYTES = { reader: 16_000_000, writer: 800_000_000 };
/** Most bytes sampled in the loop's own functions per tick. */
const MAX_BYTES_PER_TICK = 4;

/**
 * The loop's functions whose own allocations are its async function's: the function itself (its
 * `await`s, its resumption) and the promise it awaits for a turn of Deno's event loop, with its
 * executor; a park's too. (Other functions of the loop may have the stack's code inlined, whose
 * allocations V8 samples under them.)
 */
const ASYNC_SITES = new Set(["#asyncLoop", "#yieldToDeno", "#turnExecutor", "#onTurn", "#park"]);

/** Bytes sampled with the allocating frame one of {@link ASYNC_SITES} of `stack/event_loop.ts`. */
function loopAsyncBytes(head: HeapProfileNode): { bytes: number; sites: string } {
  let bytes = 0;
  const by = new Map<string, number>();
  const walk = (n: HeapProfileNode): void => {
    const f = n.callFrame;
    if (
      n.selfSize > 0 && f.url.endsWith("stack/event_loop.ts") && ASYNC_SITES.has(f.functionName)
    ) {
      bytes += n.selfSize;
      const site = `${n.callFrame.functionName}:${n.callFrame.lineNumber + 1}`;
      by.set(site, (by.get(site) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(head);
  const sites = [...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
  return { bytes, sites };
}

/**
 * A loopback `Runtime` whose loop never parks (a busy poll longer than any test), with a
 * connection through it on `port`; `coreTurns` as the loop's option. Disposing it stops the
 * runtime.
 */
async function openPair(port: number, coreTurns: boolean, drainFlushBytes?: number) {
  const rt = await Runtime.start({
    driver: "loopback",
    addr: "198.18.9.1/24",
    loop: { busyPollUs: 60_000_000, coreTurns, drainFlushBytes },
  });
  const listener = rt.listen({ port });
  const client = await rt.connect({ hostname: "198.18.9.1", port });
  const server = await listener.accept();
  return { rt, listener, client, server, [Symbol.asyncDispose]: () => rt.stop() };
}

/** Read `conn` with awaited `read()`s into `buf`, counting the bytes, while `going()`. */
function readAwaited(
  conn: TcpConn,
  buf: Uint8Array,
  count: (n: number) => void,
  going: () => boolean,
): Promise<void> {
  return (async () => {
    while (going()) {
      const n = await conn.read(buf);
      if (n === null) break;
      count(n);
    }
  })().catch(() => {});
}

for (const side of ["reader", "writer", "awaited writer"] as const) {
  Deno.test({
    name: side === "awaited writer"
      ? "sim loop await alloc: with drainFlushBytes 0 an awaiting writer's ticks take the " +
        "async function's path (turns awaited)"
      : `sim loop await alloc: an awaiting ${side}'s ticks allocate < ${MAX_BYTES_PER_TICK} B ` +
        "in the loop",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      // A busy poll longer than the test: the loop never parks (a park is idle time, and it
      // awaits its poll in the async function).
      await using pair = await openPair(7004, true, side === "awaited writer" ? 0 : undefined);
      const { rt, listener, client, server } = pair;
      const buf = new Uint8Array(64 * 1024);
      const { count, until } = byteTarget();
      let going = true;
      let task: Promise<void>;
      let stop = (): void => {};
      if (side === "reader") {
        // Reads awaited; the sender writes from turns of Deno's event loop of its own.
        task = readAwaited(server, buf, count, () => going);
        stop = writeEveryTurn(client, new Uint8Array(16 * 1024));
      } else {
        // Writes awaited (each waits for send space); the receiver consumes.
        task = server.consume(buf, count).then(() => {}, () => {});
        const chunk = new Uint8Array(64 * 1024);
        const writes = (async () => {
          while (going) await client.write(chunk);
        })().catch(() => {});
        stop = () => void writes;
      }
      const s = new Session();
      s.connect();
      try {
        await until(4_000_000); // optimised code
        const stats = rt.loop.stats;
        const ticks0 = stats.ticks;
        const promise0 = stats.promiseYields;
        const inline0 = stats.inlineTurns;
        const flushes0 = rt.stack.writeFlushes;
        await startHeapSampling(s, 64);
        await until(SAMPLED_BYTES[side === "reader" ? "reader" : "writer"]);
        const head = await stopHeapSampling(s);
        const ticks = stats.ticks - ticks0;
        const promised = stats.promiseYields - promise0;
        const inline = stats.inlineTurns - inline0;
        const flushes = rt.stack.writeFlushes - flushes0;
        assert.ok(ticks >= 100, `${ticks} ticks`);
        const { bytes, sites } = loopAsyncBytes(head);
        if (side === "awaited writer") {
          // The async function's path: every tick's turns awaited, every turn of Deno's loop a
          // promise, no flush inside the turns.
          assert.equal(inline, 0, `${inline} ticks drained from a turn's callback`);
          assert.ok(promised >= ticks / 2, `${promised} turns awaited in ${ticks} ticks`);
          assert.equal(flushes, 0, `${flushes} flushes inside the turns`);
          return;
        }
        if (side === "writer") {
          // The writer's ~2 MB refills (64 KiB writes) go out in 512-KiB flushes inside the
          // drain, before the tick's own.
          assert.ok(inline >= ticks / 4, `${inline} of ${ticks} ticks drained`);
          assert.ok(flushes >= inline, `${flushes} flushes inside ${inline} drained ticks`);
        }
        assert.ok(
          bytes / ticks < MAX_BYTES_PER_TICK,
          `${bytes} B sampled in the loop, ${
            (bytes / ticks).toFixed(1)
          } per tick (${ticks} ticks, ` +
            `${promised} turns awaited, ${inline} microtask turns inline, ${flushes} flushes): ` +
            sites,
        );
      } finally {
        s.disconnect();
        going = false;
        stop();
        client.close();
        server.close();
        listener.close();
        await task;
      }
    },
  });
}

Deno.test({
  name: "sim loop await alloc: without the core's turns (coreTurns false) the loop awaits them",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // What a Deno without the core's immediate queue or its `runNextTicks` gets: each turn a
    // `setImmediate`, awaited by the async function with the microtask turns. A request and its
    // answer, then a stream to an awaiting reader, go through as before.
    await using pair = await openPair(7005, false);
    const { rt, listener, client, server } = pair;
    const buf = new Uint8Array(64 * 1024);
    const stats = rt.loop.stats;
    const promise0 = stats.promiseYields;
    await client.write(new Uint8Array([1, 2, 3]));
    assert.equal(await server.read(buf), 3);
    await server.write(buf.subarray(0, 3));
    assert.equal(await client.read(buf), 3);
    const { count, until } = byteTarget();
    let going = true;
    const task = readAwaited(server, buf, count, () => going);
    const stop = writeEveryTurn(client, new Uint8Array(16 * 1024));
    try {
      await until(4_000_000);
      assert.ok(stats.promiseYields - promise0 >= 100, `${stats.promiseYields} turns awaited`);
      assert.equal(stats.inlineTurns, 0, "microtask turns from a turn's callback");
    } finally {
      going = false;
      stop();
      client.close();
      server.close();
      listener.close();
      await task;
    }
  },
});
