/**
 * Heap soak: a long TCP bulk transfer from the stack to a kernel sink, sampling the JS heap
 * once a second, to show the steady-state data path does not allocate (a flat heap). Also
 * reports syscalls per frame from the driver counters.
 *
 * ```sh
 * deno task bench:heap [--seconds 60]
 * ```
 *
 * Makes its own namespaces and veth pair (deleted on exit) and needs root, `socat`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Runtime } from "../mod.ts";
import { withVethPair } from "../tests/harness/netns.ts";

const { values } = parseArgs({ options: { seconds: { type: "string" } } });
const seconds = Math.max(5, Number(values.seconds ?? 30));

await withVethPair({ ipv6: false }, async (pair) => {
  const sink = pair.spawn(["socat", "-u", "TCP-LISTEN:5201,reuseaddr", "OPEN:/dev/null"], {
    stdout: "null",
    stderr: "null",
  });
  try {
    await new Promise((r) => setTimeout(r, 300));
    await using rt = await Runtime.start({
      if: pair.stackIf,
      netns: pair.stackNs,
      addr: `${pair.stackAddr}/24`,
    });
    const conn = await rt.connect({ hostname: pair.peerAddr, port: 5201 });
    const chunk = new Uint8Array(128 * 1024);
    const samples: { t: number; heapMB: number; gbps: number }[] = [];
    let bytes = 0;
    let lastBytes = 0;
    const t0 = performance.now();
    let nextSample = t0 + 1000;
    const drv0 = { ...rt.nic.driver.stats };
    while (performance.now() - t0 < seconds * 1000) {
      await conn.write(chunk);
      bytes += chunk.length;
      const now = performance.now();
      if (now >= nextSample) {
        const heapMB = Deno.memoryUsage().heapUsed / 2 ** 20;
        samples.push({
          t: Math.round((now - t0) / 1000),
          heapMB: Math.round(heapMB * 100) / 100,
          gbps: Math.round(((bytes - lastBytes) * 8 / 1e9) * 100) / 100,
        });
        lastBytes = bytes;
        nextSample += 1000;
      }
    }
    await conn.drained();
    const drv = rt.nic.driver.stats;
    const frames = drv.txFrames - drv0.txFrames + drv.rxFrames - drv0.rxFrames;
    const syscalls = drv.syscalls - drv0.syscalls;
    conn.close();
    console.log("second  heap MB  Gbit/s");
    for (const s of samples) {
      console.log(
        `${String(s.t).padStart(6)}  ${s.heapMB.toFixed(2).padStart(7)}  ${s.gbps.toFixed(2)}`,
      );
    }
    // Ignore the warm-up (JIT, buffer growth): compare the second half's ends.
    const half = samples.slice(Math.floor(samples.length / 2));
    const first = half[0].heapMB;
    const last = half[half.length - 1].heapMB;
    const max = Math.max(...half.map((s) => s.heapMB));
    console.log(
      `\nsteady state (second half): heap ${first.toFixed(2)} → ${last.toFixed(2)} MB ` +
        `(max ${max.toFixed(2)}), ${(bytes / 1e9).toFixed(2)} GB sent, ` +
        `${(syscalls / Math.max(1, frames)).toFixed(4)} driver syscalls per frame`,
    );
  } finally {
    try {
      sink.kill();
    } catch { /* gone */ }
    await sink.status;
  }
});
