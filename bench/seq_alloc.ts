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
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Session } from "node:inspector";
import { type CallFrame, frameWhere, inspectorPost } from "./inspector.ts";
import { connectPair, makeSimNet, type SimNet } from "../tests/harness/sim_net.ts";
import type { TcpEndpoint } from "../transport/tcp/endpoint.ts";

/** Where the sequence numbers and timestamps start. */
export const ISN_PLACES: Record<string, { isn: number; tsOffset: number }> = {
  low: { isn: 0x0100_0000, tsOffset: 0 },
  high: { isn: 0x9000_0000, tsOffset: 0xa000_0000 },
  // Crosses 2**32 after ~84 MB (inside the measured 50 MB after a 50 MB warm-up), and the
  // timestamps after ~4,000 s of virtual time.
  wrap: { isn: 0xfb00_0000, tsOffset: 0xffc0_0000 },
};

interface ProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}

/** A bulk flow (one or both ways) or a ping-pong over one connection of `net`. */
export class SeqWorkload {
  readonly #buf: Uint8Array;
  readonly #rbuf = new Uint8Array(256 * 1024);
  #got = 0;
  #sent = 0;
  /** Connection ends: client on a, server on b. */
  readonly c: TcpEndpoint;
  readonly s: TcpEndpoint;

  /** Connect over `net`; `rrBytes` > 0 makes it a request/response of that size. */
  constructor(readonly net: SimNet, readonly both: boolean, readonly rrBytes = 0) {
    const { c, s } = connectPair(net);
    this.c = c;
    this.s = s;
    this.#buf = new Uint8Array(rrBytes > 0 ? rrBytes : 64 * 1024).fill(7);
    c.setNoDelay(true);
    s.setNoDelay(true);
  }

  /** Move `bytes` of bulk data (each way with `both`). */
  bulk(bytes: number): void {
    const target = this.#got + bytes;
    const ok = this.net.run(() => {
      this.#push(this.c);
      if (this.both) this.#push(this.s);
      this.#got += this.#drain(this.s);
      if (this.both) this.#drain(this.c);
      return this.#got >= target;
    }, 600_000);
    if (!ok) throw new Error("seq_alloc: the bulk transfer stalled");
  }

  /** `n` request/response round trips. */
  roundTrips(n: number): void {
    const len = this.rrBytes;
    for (let i = 0; i < n; i++) {
      this.#sent = 0;
      this.#got = 0;
      const ok = this.net.run(() => {
        if (this.#sent === 0) this.#sent = this.c.write(this.#buf, 0, len);
        const r = this.s.read(this.#rbuf, 0, len);
        if (r > 0) this.s.write(this.#buf, 0, r);
        const back = this.c.read(this.#rbuf, 0, len);
        if (back > 0) this.#got += back;
        return this.#got >= len;
      }, 10_000);
      if (!ok) throw new Error("seq_alloc: a round trip stalled");
    }
  }

  #push(ep: TcpEndpoint): void {
    while (ep.write(this.#buf, 0, this.#buf.length) > 0) { /* fill the send buffer */ }
  }

  #drain(ep: TcpEndpoint): number {
    let n = 0;
    for (let k = ep.read(this.#rbuf, 0, this.#rbuf.length); k > 0;) {
      n += k;
      k = ep.read(this.#rbuf, 0, this.#rbuf.length);
    }
    return n;
  }
}

/** A simulated pair with sequence numbers and timestamps pinned at `place`. */
export function seqNet(place: string, mtu: number): SimNet {
  const p = ISN_PLACES[place];
  if (p === undefined) throw new Error(`seq_alloc: --isn is one of ${Object.keys(ISN_PLACES)}`);
  return makeSimNet({
    mtu,
    poolBuffers: 8192,
    tcp: {
      pinnedIsn: p.isn,
      pinnedTimestampOffset: p.tsOffset,
      sendBufferBytes: 1 << 20,
      receiveBufferBytes: 1 << 20,
    },
  });
}

if (import.meta.main) {
  const { values: o } = parseArgs({
    args: Deno.args,
    options: {
      isn: { type: "string", default: "high" },
      mtu: { type: "string", default: "1500" },
      both: { type: "boolean", default: false },
      rr: { type: "boolean", default: false },
      mb: { type: "string", default: "200" },
      n: { type: "string", default: "20000" },
      "heap-used": { type: "boolean", default: false },
      top: { type: "string", default: "20" },
    },
  });
  const net = seqNet(o.isn!, Number(o.mtu));
  const w = new SeqWorkload(net, o.both!, o.rr ? 64 : 0);
  const unit = o.rr ? "round trip" : "data segment";
  const run = (): void => o.rr ? w.roundTrips(Number(o.n)) : w.bulk(Number(o.mb) * 1e6);
  const units = (): number =>
    o.rr ? Number(o.n) : net.a.stats.tcp.OutSegs + (o.both ? net.b.stats.tcp.OutSegs : 0);
  // Warm: optimised code, full pools, the send/receive buffers at their size.
  if (o.rr) w.roundTrips(5_000);
  else w.bulk(50e6);
  console.log(
    `isn ${o.isn} (snd.una ${w.c.snd.sndUna.toString(16)}, rcv.nxt ${w.c.rcv.rcvNxt.toString(16)})`,
  );
  if (o["heap-used"]) {
    const perWindow: number[] = [];
    for (let i = 0; i < 12; i++) {
      const u0 = units();
      const h0 = Deno.memoryUsage().heapUsed;
      o.rr ? w.roundTrips(500) : w.bulk(4e6);
      const h1 = Deno.memoryUsage().heapUsed;
      if (h1 >= h0) perWindow.push((h1 - h0) / (units() - u0));
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
  await inspectorPost(s, "HeapProfiler.enable");
  await inspectorPost(s, "HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const u0 = units();
  run();
  const count = o.rr ? Number(o.n) : units() - u0;
  const { profile } = await inspectorPost<{ profile: { head: ProfileNode } }>(
    s,
    "HeapProfiler.stopSampling",
  );
  const by = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode, parent: CallFrame | null): void => {
    if (n.selfSize > 0) {
      total += n.selfSize;
      const k = frameWhere(n.callFrame) + (parent ? `  < ${frameWhere(parent)}` : "");
      by.set(k, (by.get(k) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, n.callFrame);
  };
  walk(profile.head, null);
  console.log(
    `${count} ${unit}s, sampled ${total} B: ${(total / count).toFixed(1)} B per ${unit}`,
  );
  const top = [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(o.top));
  for (const [k, b] of top) console.log(`${(b / count).toFixed(2).padStart(8)}  ${k}`);
  Deno.exit(0);
}
