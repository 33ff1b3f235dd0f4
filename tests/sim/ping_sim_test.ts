// Two stacks on the in-memory wire with a virtual clock: ARP resolution and ping, also with loss.

import assert from "node:assert/strict";
import { SimWire } from "../../link/sim_wire.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { VirtualClock } from "../../core/clock.ts";
import { Stack } from "../../stack/stack.ts";

function twoStacks(lossRate: number, seed: number) {
  const clock = new VirtualClock(1000);
  const wire = new SimWire({ clock, seed, delayMs: 1, lossRate });
  const a = new Stack({ clock, poolBuffers: 64 });
  const b = new Stack({ clock, poolBuffers: 64 });
  const na = a.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1])));
  const nb = b.addNic(wire.endpoint("b", new Uint8Array([2, 0, 0, 0, 0, 2])));
  a.ipv4.addAddress(na.index, parseIpv4("198.18.0.1"), 24);
  b.ipv4.addAddress(nb.index, parseIpv4("198.18.0.2"), 24);
  /** Run both stacks until `until()` or `maxMs` of virtual time pass. */
  const run = (maxMs: number, until: () => boolean = () => false) => {
    const end = clock.nowMs() + maxMs;
    while (clock.nowMs() < end && !until()) {
      a.tick();
      b.tick();
      const next = Math.min(wire.nextEventMs(), a.nextDeadlineMs(), b.nextDeadlineMs(), end);
      clock.set(Math.max(clock.nowMs() + 0.1, next));
    }
  };
  return { clock, wire, a, b, run };
}

Deno.test("sim: two stacks resolve ARP and ping each other", () => {
  const { a, b, run } = twoStacks(0, 1);
  const seen: number[] = [];
  a.icmp.listenEcho(7, { onEchoReply: (_src, seq) => seen.push(seq) });
  const payload = new Uint8Array(56);
  for (let seq = 1; seq <= 5; seq++) {
    assert.equal(a.icmp.sendEcho(parseIpv4("198.18.0.2"), 7, seq, payload, 0, 56), null);
    run(100, () => seen.length === seq);
  }
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(a.stats.arp.OutRequests, 1);
  assert.equal(b.stats.icmp.OutEchoReps, 5);
  assert.ok(a.ipv4.arp(1).lookup(parseIpv4("198.18.0.2")) !== null);
});

Deno.test("sim: ARP still resolves and pings get through with 20 % loss", () => {
  const { a, run } = twoStacks(0.2, 42);
  const seen = new Set<number>();
  a.icmp.listenEcho(9, { onEchoReply: (_src, seq) => seen.add(seq) });
  const payload = new Uint8Array(32);
  for (let seq = 1; seq <= 40; seq++) {
    a.icmp.sendEcho(parseIpv4("198.18.0.2"), 9, seq, payload, 0, 32);
    run(1000);
  }
  // 0.8 × 0.8 = 64 % of round trips succeed on average once ARP is resolved.
  assert.ok(seen.size >= 15, `only ${seen.size} replies`);
  assert.ok(a.stats.arp.OutRequests >= 1);
});

Deno.test("sim: ARP gives up after bounded retries and frees queued packets", () => {
  const { a, wire, run } = twoStacks(0, 3);
  wire.partition(true);
  const payload = new Uint8Array(8);
  for (let seq = 1; seq <= 30; seq++) {
    a.icmp.sendEcho(parseIpv4("198.18.0.2"), 1, seq, payload, 0, 8);
  }
  assert.ok(a.pool.inUse > 0);
  run(10_000);
  assert.equal(a.stats.arp.OutRequests, 3);
  assert.equal(a.stats.arp.ResolveFailed, 1);
  assert.equal(a.stats.arp.QueueDrops, 30 - 16);
  assert.equal(a.pool.inUse, 0, "queued packets returned to the pool");
});

Deno.test("sim: garbage frames never throw and are counted", () => {
  const { a, b, wire, run } = twoStacks(0, 5);
  const ep = wire.endpoint("junk", new Uint8Array([2, 0, 0, 0, 0, 9]));
  const f = new Uint8Array(200);
  let seed = 12345;
  for (let i = 0; i < 2000; i++) {
    const len = 1 + (i % 199);
    for (let j = 0; j < len; j++) f[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    // Address half of them to b's MAC with IPv4 or ARP EtherTypes, so parsing gets exercised.
    if (i % 2 === 0 && len >= 14) {
      f.set([2, 0, 0, 0, 0, 2], 0);
      f[12] = 0x08;
      f[13] = i % 4 === 0 ? 0x00 : 0x06;
      if (i % 4 === 0 && len > 14) f[14] = 0x45;
    }
    ep.transmit(f, 0, Math.max(len, 14), null);
    ep.flush();
    run(1);
  }
  const st = b.stats;
  const dropped = st.link.InNotForUs + st.link.InUnknownEtherType + st.link.InTruncated +
    st.ip.InHdrErrors + st.ip.InTruncatedPkts + st.ip.InCsumErrors + st.ip.InBadVersion +
    st.arp.InErrors + st.arp.InIgnored + st.ip.InAddrErrors + st.ip.InMartianSrc;
  assert.ok(dropped > 500, `dropped ${dropped}`);
  assert.equal(a.pool.inUse, 0);
});

Deno.test("sim: martian sources and packets for other addresses are dropped silently and counted", () => {
  const { b, wire, run } = twoStacks(0, 8);
  const ep = wire.endpoint("x", new Uint8Array([2, 0, 0, 0, 0, 7]));
  const frame = (src: number[], dst: number[]) => {
    const f = new Uint8Array(14 + 28);
    f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 7, 0x08, 0x00], 0);
    f.set([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, ...src, ...dst], 14);
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += (f[14 + i] << 8) | f[15 + i];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    f[24] = (~s >>> 8) & 0xff;
    f[25] = ~s & 0xff;
    f[34] = 8; // echo request, checksum 0xf7ff over the 8 bytes
    f[36] = 0xf7;
    f[37] = 0xff;
    return f;
  };
  for (const src of [[127, 0, 0, 1], [0, 0, 0, 0], [224, 0, 0, 5], [198, 18, 0, 2]]) {
    const f = frame(src, [198, 18, 0, 2]);
    ep.transmit(f, 0, f.length, null);
  }
  const other = frame([198, 18, 0, 9], [198, 18, 0, 99]);
  ep.transmit(other, 0, other.length, null);
  const ok = frame([198, 18, 0, 9], [198, 18, 0, 2]);
  ep.transmit(ok, 0, ok.length, null);
  ep.flush();
  run(50);
  assert.equal(b.stats.ip.InMartianSrc, 4);
  assert.equal(b.stats.ip.InAddrErrors, 1);
  assert.equal(b.stats.icmp.InEchos, 1);
});

Deno.test("sim: an incomplete datagram times out after 30 s and the source hears Time Exceeded", () => {
  const { a, b, wire, run } = twoStacks(0, 9);
  const ep = wire.endpoint("x", new Uint8Array([2, 0, 0, 0, 0, 1])); // poses as a's port
  // Fragment zero only (MF set) of a UDP datagram from a to b.
  const f = new Uint8Array(14 + 20 + 16);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  f.set([0x45, 0, 0, 36, 0x12, 0x34, 0x20, 0x00, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2], 14);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (f[14 + i] << 8) | f[15 + i];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  f[24] = (~s >>> 8) & 0xff;
  f[25] = ~s & 0xff;
  ep.transmit(f, 0, f.length, null);
  ep.flush();
  run(1000);
  assert.equal(b.stats.ip.ReasmReqds, 1);
  assert.equal(b.stats.icmp.OutTimeExcds, 0);
  run(30_000);
  assert.equal(b.stats.ip.ReasmTimeout, 1);
  assert.equal(b.stats.icmp.OutTimeExcds, 1);
  assert.equal(a.stats.icmp.InTimeExcds, 1);
});

Deno.test("sim: an off-subnet destination goes to the default gateway's MAC", () => {
  const { a, b, run } = twoStacks(0, 10);
  a.ipv4.setDefaultGateway(parseIpv4("198.18.0.2"));
  assert.throws(() => a.ipv4.setDefaultGateway(parseIpv4("198.19.9.9")), { code: "ENETUNREACH" });
  assert.equal(a.icmp.sendEcho(parseIpv4("198.19.5.5"), 3, 1, new Uint8Array(8), 0, 8), null);
  run(100);
  // The frame reached b (the gateway's MAC) addressed to 198.19.5.5, which b does not own.
  assert.ok(a.ipv4.arp(1).lookup(parseIpv4("198.18.0.2")) !== null, "a resolved the gateway");
  assert.equal(a.ipv4.arp(1).lookup(parseIpv4("198.19.5.5")), null, "never ARPs off-subnet");
  assert.equal(b.stats.ip.InAddrErrors, 1);
  // Without a default route there is no route at all.
  const { a: lonely } = twoStacks(0, 11);
  assert.equal(
    lonely.icmp.sendEcho(parseIpv4("198.19.5.5"), 3, 1, new Uint8Array(8), 0, 8),
    "ENETUNREACH",
  );
});
