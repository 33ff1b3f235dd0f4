/**
 * What TCP allocates per segment, by where its sequence numbers are: two stacks on the simulated
 * wire (`tests/harness/sim_net.ts`) with the ISN and the timestamp offset pinned (`pinnedIsn`,
 * `pinnedTimestampOffset`) low (< 2**30: V8's small integers), high (≥ 2**31) or just below the
 * 2**32 wrap, under V8's sampling heap profiler (objects collected by scavenges included). Prints
 * the bytes per data segment (bulk) or per round trip (`--rr`) and the top functions by bytes.
 *
 * ```
 * deno run --allow-all bench/seq_alloc.ts --isn high --mtu 9000        # bulk a → b
 * deno run --allow-all bench/seq_alloc.ts --isn wrap --both            # bulk both ways at once
 * deno run --allow-all bench/seq_alloc.ts --isn high --rr              # 64-byte request/response
 * deno run --allow-all bench/seq_alloc.ts --isn high --heap-used       # heapUsed windows instead
 * deno run --allow-all bench/seq_alloc.ts --isn high --addr low        # 10.0.0.x, not 198.18.0.x
 * deno run --allow-all bench/seq_alloc.ts --isn high --addr v6         # over IPv6 (fd00:13::x)
 * deno run --allow-all bench/seq_alloc.ts --loss 0.01                  # the wire loses 1 %: SACK
 * deno run --allow-all bench/seq_alloc.ts --delay 0.0125               # fractional clock, no loss
 * deno run --allow-all bench/seq_alloc.ts --depth 4                     # 4 frames per site, not 2
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Session } from "node:inspector";
import { sitesByDepth, startHeapSampling, stopHeapSampling } from "./inspector.ts";
import { seqNet, SeqWorkload } from "../tests/harness/seq_workload.ts";

if (import.meta.main) {
  const { values: o } = parseArgs({
    args: Deno.args,
    options: {
      isn: { type: "string", default: "high" },
      addr: { type: "string", default: "high" },
      loss: { type: "string", default: "0" },
      delay: { type: "string", default: "0" },
      mtu: { type: "string", default: "1500" },
      both: { type: "boolean", default: false },
      rr: { type: "boolean", default: false },
      mb: { type: "string", default: "200" },
      n: { type: "string", default: "20000" },
      "heap-used": { type: "boolean", default: false },
      "pre-bulk": { type: "string", default: "0" },
      top: { type: "string", default: "20" },
      depth: { type: "string", default: "2" },
    },
  });
  if (Number(o["pre-bulk"]) > 0) {
    // Another connection's bulk transfer first: the code optimised for it, as in a process
    // that serves both kinds of traffic.
    new SeqWorkload(seqNet(o.isn!, Number(o.mtu), o.addr!, Number(o.loss), Number(o.delay)), false)
      .bulk(
        Number(o["pre-bulk"]) * 1e6,
      );
  }
  const net = seqNet(o.isn!, Number(o.mtu), o.addr!, Number(o.loss), Number(o.delay));
  const w = new SeqWorkload(net, o.both!, o.rr ? 64 : 0);
  const unit = o.rr ? "round trip" : "data segment";
  const run = (): void => o.rr ? w.roundTrips(Number(o.n)) : w.bulk(Number(o.mb) * 1e6);
  const units = (): number =>
    o.rr ? Number(o.n) : net.a.stats.tcp.OutSegs + (o.both ? net.b.stats.tcp.OutSegs : 0);
  // Warm: optimised code, full pools, the send/receive buffers at their size.
  if (o.rr) w.roundTrips(5_000);
  else w.bulk(30e6);
  console.log(
    `isn ${o.isn}, addresses ${net.addrA} ${net.addrB} (snd.una ${
      w.c.snd.sndUna.toString(16)
    }, rcv.nxt ${w.c.rcv.rcvNxt.toString(16)})`,
  );
  if (o["heap-used"]) {
    const perWindow: number[] = [];
    for (let i = 0; i < 12; i++) {
      const u0 = units();
      const h0 = Deno.memoryUsage().heapUsed;
      o.rr ? w.roundTrips(500) : w.bulk(4e6);
      const h1 = Deno.memoryUsage().heapUsed;
      if (h1 >= h0) perWindow.push((h1 - h0) / (o.rr ? 500 : units() - u0));
    }
    perWindow.sort((a, b) => a - b);
    console.log(
      `heapUsed growth per ${unit}, windows without a scavenge: ${
        perWindow.map((x) => x.toFixed(1)).join(" ")
      }`,
    );
    Deno.exit(0);
  }
  const s = new Session();
  s.connect();
  await startHeapSampling(s, 256);
  const u0 = units();
  run();
  const count = o.rr ? Number(o.n) : units() - u0;
  const head = await stopHeapSampling(s);
  // A site is the allocating function and its callers, `--depth` frames in all.
  const { sites: by, total } = sitesByDepth(head, Number(o.depth));
  console.log(
    `${count} ${unit}s, sampled ${total} B: ${(total / count).toFixed(1)} B per ${unit}`,
  );
  const top = [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(o.top));
  for (const [k, b] of top) console.log(`${(b / count).toFixed(2).padStart(8)}  ${k}`);
  Deno.exit(0);
}
