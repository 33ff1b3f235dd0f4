/**
 * Probe for `tests/sim/icmp_echo_alloc_test.ts`, run with `--allow-natives-syntax`: the heap
 * growth per ping round trip between two simulated stacks at 198.18.0.1 → 198.18.0.2
 * (addresses ≥ 64.0.0.0, which V8 boxes as numbers crossing a call) less that of a pair at
 * 10.0.0.1 → 10.0.0.2 (small integers), with `Ipv4Layer.send` — the layer's
 * entry taking the addresses as u32 numbers — kept out of line (`%NeverOptimizeFunction`), as
 * a real process's compile may leave it. The echo request and reply go through `sendAddr`
 * (records); through `send`, each of their two numbers was a new heap number. Prints one JSON
 * line.
 *
 * @module
 */

import { VirtualClock } from "../../core/clock.ts";
import { SimWire } from "../../link/sim_wire.ts";
import { Ipv4Layer } from "../../net/ipv4.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { Stack } from "../../stack/stack.ts";

const natives = (body: string) => new Function("f", body) as (f: unknown) => void;
natives("%NeverOptimizeFunction(f)")(Ipv4Layer.prototype.send);

/** Two stacks on one simulated wire at `prefix`.1 and `prefix`.2, and `n` pings from the first. */
function pair(prefix: string) {
  const clock = new VirtualClock(1000);
  const wire = new SimWire({ clock, seed: 1, delayMs: 1 });
  const a = new Stack({ clock, poolBuffers: 64 });
  const b = new Stack({ clock, poolBuffers: 64 });
  const na = a.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1])));
  const nb = b.addNic(wire.endpoint("b", new Uint8Array([2, 0, 0, 0, 0, 2])));
  a.ipv4.addAddress(na.index, parseIpv4(`${prefix}.1`), 24);
  b.ipv4.addAddress(nb.index, parseIpv4(`${prefix}.2`), 24);
  const dst = parseIpv4(`${prefix}.2`);
  let replies = 0;
  a.icmp.listenEcho(7, { onEchoReply: () => replies++ });
  const payload = new Uint8Array(56);
  /** `n` round trips, each run to its reply on whole virtual milliseconds. */
  const pings = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const want = replies + 1;
      a.icmp.sendEcho(dst, 7, i & 0xffff, payload, 0, 56);
      for (let k = 0; k < 50 && replies < want; k++) {
        a.tick();
        b.tick();
        clock.advance(1);
      }
    }
  };
  return { pings, replies: () => replies, echoReplies: () => b.stats.icmp.OutEchoReps };
}

// Addresses ≥ 64.0.0.0 (a u32 V8 boxes) against addresses below (small integers), taking turns:
// the difference per round trip is what the numbers cost.
const high = pair("198.18.0");
const low = pair("10.0.0");
const WINDOW = 10_000;
high.pings(WINDOW); // warm: ARP resolved, optimised code
low.pings(WINDOW);
const diff: number[] = [];
const perRt = (p: ReturnType<typeof pair>): number => {
  const r0 = p.replies();
  const before = Deno.memoryUsage().heapUsed;
  p.pings(WINDOW);
  const after = Deno.memoryUsage().heapUsed;
  return after >= before ? (after - before) / (p.replies() - r0) : NaN;
};
for (let w = 0; w < 15; w++) {
  const h = perRt(high);
  const l = perRt(low);
  if (h === h && l === l) diff.push(h - l);
}
diff.sort((x, y) => x - y);
console.log(JSON.stringify({
  highLessLowPerRoundTrip: diff[diff.length >> 1],
  windows: diff.length,
  replies: high.replies() + low.replies(),
  echoReplies: high.echoReplies() + low.echoReplies(),
}));
