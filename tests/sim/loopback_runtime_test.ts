// The Runtime on the loopback driver: two sockets of one process talk TCP and UDP through it,
// driven by the real event loop (the no-fd path that waits with a JS timer).

import assert from "node:assert/strict";
import { AF_INET, POLLIN, Runtime, SOCK_DGRAM } from "../../mod.ts";

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
    const reader = (async () => {
      const got = new Uint8Array(data.length);
      let n = 0;
      const buf = new Uint8Array(65536);
      for (;;) {
        const k = await conn.read(buf);
        if (k === null) break;
        got.set(buf.subarray(0, k), n);
        n += k;
      }
      return got.subarray(0, n);
    })();
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
