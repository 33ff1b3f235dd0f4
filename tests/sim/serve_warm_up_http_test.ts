// `serve --http`'s warm-up server (cli/tcp_services.ts, startWarmUpHttp): the same routes as
// the real one, but swept every 50 ms, so that the warm-up's ~1 s runs the sweep over live
// connections many times (bench/README.md, "http9o").

import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { startWarmUpHttp, WARM_UP_HTTP_IDLE_MS } from "../../cli/tcp_services.ts";

const ADDR = "198.18.9.1";
const T = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...T,
  name: "serve warm-up HTTP: an idle connection is swept within a fraction of a second",
  async fn() {
    await using rt = await Runtime.start({ driver: "loopback", addr: `${ADDR}/24` });
    const svc = startWarmUpHttp(rt, 80);
    const conn = await rt.connect({ hostname: ADDR, port: 80 });
    const t0 = performance.now();
    // Nothing sent: the connection stays idle until the sweep closes it (our read sees EOF).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const got = await Promise.race([
      conn.read(new Uint8Array(64)),
      new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), 1_500)),
    ]);
    clearTimeout(timer);
    const ms = performance.now() - t0;
    assert.equal(got, null, `no EOF from the server within 1.5 s (${got})`);
    // The idle timeout, plus at most one sweep period (a quarter of it), plus slack.
    assert.ok(ms >= WARM_UP_HTTP_IDLE_MS - 1, `closed after ${ms} ms`);
    assert.ok(ms < WARM_UP_HTTP_IDLE_MS * 2 + 500, `closed after ${ms} ms`);
    conn.close();
    svc.close();
    await svc.server.finished;
  },
});
