// What building a connection allocates in its builders beyond the endpoint object itself.
// A number passed as an argument to a call V8 does not inline is a 16-byte heap number when it
// is not a small integer (an ISS or TSval ≥ 2**30, a fractional time). The syncache's
// `#materialize` passed its record's TSval offset, ISS, first-send time and TS.Recent so: main
// allocated ~238 B per connection in it, the `TcpEndpoint` object (20 fields, ~184 B; its
// constructor is not inlined, so its caller allocates it) and those boxes. The endpoint, the
// sender's start and the option negotiation now read the record's fields (bench/README.md,
// branch boxes9z).
//
// An active open's ISN and timestamp offset were returned by `IsnGenerator.next` and its getter,
// and the SYN-ACK's numbers passed as arguments in `synSentInput`: ~36 B of heap numbers per
// connection (bench/README.md, branch conn9a); now written into and read from records.

import assert from "node:assert/strict";
import { Session } from "node:inspector";
import {
  type HeapProfileNode,
  inspectorPost,
  startHeapSampling,
  stopHeapSampling,
} from "../../bench/inspector.ts";
import type { TcpEndpoint } from "../../transport/tcp/endpoint.ts";
import { TcpState } from "../../transport/tcp/state.ts";
import { ADDR_B, makeSimNet } from "../harness/sim_net.ts";

/** Most bytes per connection allocated in `#materialize` itself (main: ~238; this code ~197). */
const MAX_MATERIALIZE_BYTES = 215;
/** Most bytes per connection allocated in `connect` itself (the endpoint object and its ISS). */
const MAX_CONNECT_BYTES = 215;

/**
 * Most bytes per connection allocated, together, where an active open's numbers were boxed:
 * the ISN's generator and its halves' getters, `synSentInput` (main: 45–51 in this test; this code 0–1).
 */
const MAX_ACTIVE_OPEN_BOX_BYTES = 12;
/** The functions {@link MAX_ACTIVE_OPEN_BOX_BYTES} counts: name and file. */
const ACTIVE_OPEN_BOXERS: [string, string][] = [
  ["next", "/transport/tcp/isn.ts"],
  ["get high", "/transport/tcp/isn.ts"],
  ["get low", "/transport/tcp/isn.ts"],
  ["synSentInput", "/transport/tcp/handshake.ts"],
  // Where the numbers go now: a box made there instead would otherwise pass unseen.
  ["nextInto", "/transport/tcp/isn.ts"],
  ["get halves", "/transport/tcp/isn.ts"],
  ["initFrom", "/transport/tcp/receiver.ts"],
  ["peerSynFrom", "/transport/tcp/sender.ts"],
  ["acksSynOf", "/transport/tcp/sender.ts"],
];

/** Bytes sampled in functions named `name` (their own allocations, inlined callees included). */
function selfBytes(root: HeapProfileNode, name: string, file = ""): number {
  let sum = 0;
  const walk = (n: HeapProfileNode): void => {
    const f = n.callFrame;
    if (f.functionName === name && f.url.endsWith(file)) sum += n.selfSize;
    for (const c of n.children) walk(c);
  };
  walk(root);
  return sum;
}

/** 4,000 short connections (after 2,000 warm) under the sampling heap profiler, once. */
let sampled: Promise<{ root: HeapProfileNode; n: number }> | null = null;

function sampleOpens(): Promise<{ root: HeapProfileNode; n: number }> {
  return sampled ??= profileOpens(false);
}

/**
 * The same after a full GC at a moment when every connection has closed (after the warm-up).
 * V8's optimised code holds the maps it checks weakly: with no object of the connection's
 * classes left, that GC freed their maps and threw away the code compiled on them ("embedded
 * weak objects cleared": ~170 functions), and what ran next boxed the SYN-ACK's numbers again
 * (62–128 B per connection, `#materialize` 272–281 B; bench/README.md, flake13l). The last
 * closed connection is now kept for its maps (`connectionHeldForMaps`).
 */
async function profileOpensAfterGc(): Promise<{ root: HeapProfileNode; n: number }> {
  await sampleOpens(); // one profile at a time: the first test's, then this one
  return await profileOpens(true);
}

async function profileOpens(gcAfterWarm: boolean): Promise<{ root: HeapProfileNode; n: number }> {
  const net = makeSimNet({
    wire: { seed: 9, delayMs: 0.05 },
    tcp: { maxTimeWait: 1 << 16, mslMs: 60_000 },
  });
  const listener = net.tcpB.listen(null, 80, 1024);
  const req = new Uint8Array(64).fill(0x41);
  const buf = new Uint8Array(256);
  // Short exchanges, 16 at a time: the client sends 64 B, the server answers and closes first
  // (bench/conn_alloc.ts's exchange).
  const exchange = (n: number): void => {
    let started = 0, done = 0;
    const live: TcpEndpoint[] = [];
    const phase: number[] = [];
    const accepted: TcpEndpoint[] = [];
    const step = (): boolean => {
      while (started < n && live.length < 16) {
        live.push(net.tcpA.connect(ADDR_B, 80));
        phase.push(0);
        started++;
      }
      for (let s = listener.accept(); s !== null; s = listener.accept()) accepted.push(s);
      for (let i = accepted.length - 1; i >= 0; i--) {
        const s = accepted[i];
        if (s.read(buf, 0, buf.length) > 0) {
          s.write(req, 0, 64);
          s.close();
          accepted[i] = accepted[accepted.length - 1];
          accepted.pop();
        }
      }
      for (let i = live.length - 1; i >= 0; i--) {
        const c = live[i];
        if (phase[i] === 0 && c.state === TcpState.ESTABLISHED) {
          c.write(req, 0, 64);
          phase[i] = 1;
        }
        if (phase[i] === 1 && c.read(buf, 0, buf.length) === 0) {
          c.close();
          phase[i] = 2;
        }
        if (phase[i] === 2 && c.state === TcpState.CLOSED) {
          live[i] = live[live.length - 1];
          phase[i] = phase[phase.length - 1];
          live.pop();
          phase.pop();
          done++;
        }
      }
      return done === n;
    };
    assert.ok(net.run(step, 1_000_000), `stalled at ${done}/${n}`);
  };
  exchange(2_000); // warm: optimised code, full pools
  const n = 4_000;
  const accepted0 = net.b.stats.tcp.PassiveOpens;
  const s = new Session();
  s.connect();
  let root: HeapProfileNode;
  try {
    await startHeapSampling(s, 256);
    if (gcAfterWarm) {
      assert.equal(net.a.stats.tcp.CurrEstab + net.b.stats.tcp.CurrEstab, 0);
      // The answer comes on a later task that holds no op of its own: a timer keeps the event
      // loop (and the test) waiting for it.
      const keepAlive = setTimeout(() => {}, 60_000);
      try {
        await inspectorPost(s, "HeapProfiler.collectGarbage");
      } finally {
        clearTimeout(keepAlive);
      }
    }
    exchange(n);
    root = await stopHeapSampling(s);
  } finally {
    s.disconnect();
  }
  assert.equal(net.b.stats.tcp.PassiveOpens - accepted0, n);
  return { root, n };
}

Deno.test("conn open alloc: a passive open's builder allocates the endpoint object, not boxes of its record's numbers", async () => {
  const { root, n } = await sampleOpens();
  const materialize = selfBytes(root, "#materialize") / n;
  const connect = selfBytes(root, "connect") / n;
  if (Deno.env.get("SHOW")) {
    const more = ["TcpEndpoint", "start", "activeOpen", "negotiateOptions", "TcpSender"]
      .map((f) => `${f} ${(selfBytes(root, f) / n).toFixed(1)}`).join(", ");
    console.log(`#materialize ${materialize} B, connect ${connect} B; ${more}`);
  }
  assert.ok(materialize > 0, "the profile saw #materialize");
  assert.ok(
    materialize < MAX_MATERIALIZE_BYTES,
    `#materialize: ${materialize.toFixed(1)} B per connection`,
  );
  assert.ok(connect < MAX_CONNECT_BYTES, `connect: ${connect.toFixed(1)} B per connection`);
});

Deno.test("conn open alloc: an active open's ISN, timestamp offset and SYN-ACK numbers are not boxed", async () => {
  const { root, n } = await sampleOpens();
  const per = ACTIVE_OPEN_BOXERS.map(([f, file]) => [f, selfBytes(root, f, file) / n] as const);
  const sum = per.reduce((a, [, b]) => a + b, 0);
  const text = per.map(([f, b]) => `${f} ${b.toFixed(1)}`).join(", ");
  if (Deno.env.get("SHOW")) console.log(`active open boxes ${sum.toFixed(1)} B: ${text}`);
  assert.ok(sum < MAX_ACTIVE_OPEN_BOX_BYTES, `${sum.toFixed(1)} B per connection (${text})`);
});

Deno.test("conn open alloc: after a full GC with every connection closed, an active open's and a passive open's numbers are still not boxed", async () => {
  const { root, n } = await profileOpensAfterGc();
  const per = ACTIVE_OPEN_BOXERS.map(([f, file]) => [f, selfBytes(root, f, file) / n] as const);
  const sum = per.reduce((a, [, b]) => a + b, 0);
  const text = per.map(([f, b]) => `${f} ${b.toFixed(1)}`).join(", ");
  if (Deno.env.get("SHOW")) console.log(`after GC: active open boxes ${sum.toFixed(1)} B: ${text}`);
  assert.ok(sum < MAX_ACTIVE_OPEN_BOX_BYTES, `${sum.toFixed(1)} B per connection (${text})`);
  const materialize = selfBytes(root, "#materialize") / n;
  assert.ok(
    materialize < MAX_MATERIALIZE_BYTES,
    `#materialize: ${materialize.toFixed(1)} B per connection`,
  );
});
