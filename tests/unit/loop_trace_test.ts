import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import {
  LoopTrace,
  TRACE_FLUSH,
  TRACE_KIND_NAMES,
  TRACE_MICROTASKS,
  TRACE_RX,
  TRACE_SPIN,
  TRACE_TICK,
  TRACE_TRANSMIT,
  TRACE_TX,
} from "../../stack/loop_trace.ts";

Deno.test("LoopTrace: records come back oldest first, the oldest overwritten once full", () => {
  const t = new LoopTrace(3);
  assert.equal(t.length, 0);
  assert.deepEqual(Array.from(t.snapshot()), []);
  t.record(TRACE_TICK, 1, 2, 5);
  t.record(TRACE_SPIN, 2, 3, 7);
  assert.equal(t.length, 2);
  assert.deepEqual(Array.from(t.snapshot()), [TRACE_TICK, 1, 2, 5, TRACE_SPIN, 2, 3, 7]);
  t.record(TRACE_RX, 3, 4, 1);
  t.record(TRACE_TICK, 4, 5, 0); // overwrites the first
  assert.equal(t.length, 3);
  assert.equal(t.recorded, 4);
  assert.deepEqual(
    Array.from(t.snapshot()),
    [TRACE_SPIN, 2, 3, 7, TRACE_RX, 3, 4, 1, TRACE_TICK, 4, 5, 0],
  );
  const j = t.toJSON();
  assert.equal(j.dropped, 1);
  assert.equal(j.records.length, 12);
  // The wall clock's time at performance.now()'s zero, measured (within Deno's estimate's µs).
  assert.equal(j.timeOrigin, t.timeOrigin);
  assert.ok(Math.abs(t.timeOrigin - performance.timeOrigin) < 0.1, `${t.timeOrigin}`);
  assert.equal(new LoopTrace(1, 12.5).timeOrigin, 12.5);
  assert.equal(j.kinds[TRACE_RX], "rx");
  assert.equal(TRACE_KIND_NAMES[TRACE_SPIN], "spin");
});

Deno.test("LoopTrace: the capacity must be a whole number of records", () => {
  assert.throws(() => new LoopTrace(0), RangeError);
  assert.throws(() => new LoopTrace(1.5), RangeError);
});

Deno.test({
  name:
    "LoopTrace: every tick of the event loop records its transmit half, inside the tick, and the drivers' flush inside that",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    const trace = new LoopTrace(1 << 16);
    rt.loop.trace = trace;
    const server = rt.listen({ port: 9 });
    const served = (async () => {
      const conn = await server.accept();
      for await (const _ of conn.readable) { /* discard */ }
    })();
    const conn = await rt.connect({ hostname: "198.18.9.1", port: 9 });
    await conn.write(new Uint8Array(200_000));
    await conn.closeWrite();
    await served;
    conn.close();
    server.close();
    rt.loop.trace = null;
    const r = trace.snapshot();
    assert.ok(trace.recorded < trace.capacity, "the ring kept every record");
    let ticks = 0;
    let transmits = 0;
    let txFrames = 0;
    let transmitFrames = 0;
    for (let i = 0; i < r.length; i += 4) {
      const kind = r[i];
      if (kind === TRACE_TX) txFrames += r[i + 3];
      if (kind !== TRACE_TICK) continue;
      ticks++;
      // The tick's transmit half follows its record, starts within it and ends with it.
      assert.equal(r[i + 4], TRACE_TRANSMIT, `record after tick ${ticks}`);
      assert.ok(r[i + 5] >= r[i + 1] && r[i + 5] <= r[i + 6], "starts within the tick");
      assert.equal(r[i + 6], r[i + 2], "ends with the tick");
      // The drivers' flush comes just before: after the output, inside the transmit half
      // (loopback hands no kick to a kicker thread).
      assert.equal(r[i - 4], TRACE_FLUSH, `record before tick ${ticks}`);
      assert.ok(r[i - 3] >= r[i + 5] && r[i - 2] >= r[i - 3], "the flush after the output");
      assert.ok(r[i - 2] <= r[i + 6], "the flush inside the transmit half");
      assert.equal(r[i - 1], 0, "no hand-off");
      transmits++;
      transmitFrames += r[i + 7];
    }
    assert.ok(ticks > 0);
    assert.equal(transmits, ticks);
    assert.equal(transmitFrames, txFrames, "frames of the transmit halves = frames handed over");
    assert.equal(TRACE_KIND_NAMES[TRACE_TRANSMIT], "transmit");
    assert.equal(TRACE_KIND_NAMES[TRACE_FLUSH], "flush");
  },
});

Deno.test({
  name:
    "LoopTrace: a trace attached by code the loop's microtask turns run records no turns begun before it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // `uperf client --trace` attaches its trace after `await connect`, in the turns the loop
    // gives the reaction to the handshake: those turns' record spanned from the loop clock's
    // zero (the process's life so far) — one record of 0.3–0.4 s that `tx_trace` counted as
    // 4–9 µs of "microtasks" per tick of a 4-s run.
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    const server = rt.listen({ port: 9 });
    const served = (async () => {
      const conn = await server.accept();
      const buf = new Uint8Array(64);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        await conn.write(buf.subarray(0, n));
      }
      conn.close();
    })();
    const conn = await rt.connect({ hostname: "198.18.9.1", port: 9 });
    const ping = new Uint8Array(64);
    const pong = new Uint8Array(64);
    const trace = new LoopTrace(1 << 16);
    let attachedMs = 0;
    for (let i = 0; i < 20; i++) {
      await conn.write(ping);
      let got = 0;
      while (got < ping.length) {
        // The reply's read settles in the delivery; this continuation runs in the loop's turns.
        const n = await conn.read(pong.subarray(got));
        assert.ok(n !== null);
        got += n;
      }
      if (i === 4) {
        rt.loop.trace = trace;
        attachedMs = rt.stack.clock.nowMs();
      }
    }
    rt.loop.trace = null;
    await conn.closeWrite();
    await served;
    conn.close();
    server.close();
    const r = trace.snapshot();
    let turnRecords = 0;
    for (let i = 0; i < r.length; i += 4) {
      if (r[i] !== TRACE_MICROTASKS) continue;
      turnRecords++;
      assert.ok(
        r[i + 1] >= attachedMs,
        `turns recorded from ${r[i + 1]} ms, before the trace was attached at ${attachedMs} ms`,
      );
    }
    assert.ok(turnRecords >= 10, `${turnRecords} records of microtask turns`);
  },
});
