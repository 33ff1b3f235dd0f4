// The Runtime on the loopback driver: two sockets of one process talk TCP and UDP through it,
// driven by the real event loop (the no-fd path that waits with a JS timer).

import assert from "node:assert/strict";
import { AF_INET, POLLIN, Runtime, SOCK_DGRAM, type TcpConn } from "../../mod.ts";

/** Everything `conn` reads until EOF (at most `max` bytes). */
async function readAll(conn: TcpConn, max: number): Promise<Uint8Array> {
  const got = new Uint8Array(max);
  let n = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const k = await conn.read(buf);
    if (k === null) break;
    got.set(buf.subarray(0, k), n);
    n += k;
  }
  return got.subarray(0, n);
}

Deno.test({
  name: "loopback Runtime: TCP echo and UDP between sockets of one process",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    const server = rt.listen({ port: 7 });
    const served = (async () => {
      const conn = await server.accept();
      await conn.readable.pipeTo(conn.writable);
    })();
    const conn = await rt.connect({ hostname: "198.18.9.1", port: 7 });
    const data = Uint8Array.from({ length: 1_000_000 }, (_, i) => (i * 13) & 0xff);
    const reader = readAll(conn, data.length);
    await conn.write(data);
    await conn.closeWrite();
    assert.deepEqual(await reader, data);
    await served;
    conn.close();
    server.close();

    const s = rt.sockets;
    const a = s.socket(AF_INET, SOCK_DGRAM);
    const b = s.socket(AF_INET, SOCK_DGRAM);
    s.bind(a, "198.18.9.1", 5000);
    s.sendto(b, new TextEncoder().encode("over loopback"), "198.18.9.1", 5000);
    await s.wait(a, POLLIN);
    const buf = new Uint8Array(100);
    const r = s.recvfrom(a, buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, r.bytes)), "over loopback");
    assert.equal(r.port, s.getsockname(b).port);
  },
});

Deno.test({
  name: "loopback Runtime: cc picks the stack's congestion control; an unknown one is EINVAL",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    assert.throws(
      () => Runtime.start({ driver: "loopback", cc: "vegas" }),
      (e: unknown) => (e as { code?: string }).code === "EINVAL" && /--cc vegas/.test(`${e}`),
    );
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24", cc: "bbr" });
    assert.equal(rt.stack.tcp.opts.congestionControl, "bbr");
    const server = rt.listen({ port: 9 });
    const conn = await rt.connect({ hostname: "198.18.9.1", port: 9 });
    assert.equal(conn.congestionControl, "bbr");
    conn.setCongestionControl("newreno");
    assert.equal(conn.info().congestionControl, "newreno");
    assert.throws(
      () => conn.setCongestionControl("vegas"),
      (e: unknown) => (e as { code?: string }).code === "ENOENT",
    );
    conn.close();
    server.close();
  },
});

Deno.test({
  name: "loopback Runtime: busyTurnUs skips Deno's turn after busy ticks, timers still run",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using rt = await Runtime.start({
      driver: "loopback",
      addr: "198.18.9.1/24",
      loop: { busyTurnUs: 2000 },
    });
    const server = rt.listen({ port: 7 });
    const served = (async () => {
      const conn = await server.accept();
      await conn.readable.pipeTo(conn.writable);
    })();
    const conn = await rt.connect({ hostname: "198.18.9.1", port: 7 });
    const data = Uint8Array.from({ length: 4_000_000 }, (_, i) => (i * 7) & 0xff);
    // A Deno timer armed all through the transfer: each fires within a bound, so busy ticks
    // do not starve Deno's event loop.
    let fired = 0;
    let worstMs = 0;
    let armed = performance.now();
    let stop = false;
    const tick = () => {
      worstMs = Math.max(worstMs, performance.now() - armed);
      fired++;
      if (stop) return;
      armed = performance.now();
      setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    const stats = rt.loop.stats;
    const ticks0 = stats.ticks;
    const yields0 = stats.yields;
    const reader = readAll(conn, data.length);
    await conn.write(data);
    await conn.closeWrite();
    assert.deepEqual(await reader, data);
    stop = true;
    await served;
    const ticks = stats.ticks - ticks0;
    const yields = stats.yields - yields0;
    assert.ok(fired > 10, `the timer fired ${fired} times`);
    assert.ok(worstMs < 500, `a timer waited ${worstMs.toFixed(1)} ms`);
    assert.ok(yields < ticks / 2, `${yields} turns of Deno's event loop for ${ticks} ticks`);
    conn.close();
    server.close();
  },
});

Deno.test({
  name:
    "loopback Runtime: a readable stream's read asked for before the data comes gets all of it, not one byte",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // The pull ran at once and sized its chunk by what was buffered then (nothing: one byte).
    // Piped to a writable, that byte went out alone and Nagle held the rest until the peer's
    // delayed ACK: a request/response echo through `pipeTo` took 40 ms per round trip.
    await using rt = await Runtime.start({ driver: "loopback", addr: "198.18.9.1/24" });
    const server = rt.listen({ port: 7 });
    const accepted = server.accept();
    const conn = await rt.connect({ hostname: "198.18.9.1", port: 7 });
    const peer = await accepted;
    const reader = peer.readable.getReader();
    const first = reader.read(); // asked for before anything was sent
    await new Promise((r) => setTimeout(r, 10));
    await conn.write(new Uint8Array(64).fill(7));
    const chunk = await first;
    assert.equal(chunk.value?.length, 64);
    reader.releaseLock();
    conn.close();
    peer.close();
    server.close();
  },
});
