// Neighbour unreachability detection and duplicate address detection between two stacks on
// the in-memory wire, on the virtual clock.

import assert from "node:assert/strict";
import { makeSimNet } from "../harness/sim_net.ts";
import { drain, inject, type SeenFrame } from "../harness/ipv6_frames.ts";
import { IpAddress } from "../../net/ip_address.ts";
import type { Ipv6InterfaceAddress } from "../../net/ipv6_addresses.ts";

const A6 = IpAddress.parse("fd00:5::1");
const B6 = IpAddress.parse("fd00:5::2");

Deno.test("sim ipv6 NUD: REACHABLE → STALE → DELAY → PROBE → REACHABLE, confirm() skips the probe", () => {
  const net = makeSimNet({ wire: { seed: 5, delayMs: 1 } });
  net.a.ipv6.addAddress(1, A6, 64);
  net.b.ipv6.addAddress(1, B6, 64);
  net.advance(2500);
  const cache = net.a.ipv6.iface(1).neighbours;
  const ping = (seq: number) => net.a.icmp6.sendEcho(B6, 1, seq, new Uint8Array(8), 0, 8);
  ping(1);
  net.advance(50);
  assert.equal(cache.stateOf(B6), "REACHABLE");
  const solicits = net.a.stats.icmp6.OutNeighborSolicits;
  // ReachableTime is 30 s × [0.5, 1.5): after 46 s the entry is STALE for sure.
  net.advance(46_000);
  assert.equal(cache.stateOf(B6), "STALE");
  ping(2);
  net.advance(10);
  assert.equal(cache.stateOf(B6), "DELAY");
  assert.equal(net.b.stats.icmp6.OutEchoReplies, 2, "a STALE entry is still used to send");
  assert.equal(net.a.stats.icmp6.OutNeighborSolicits, solicits, "no probe during DELAY");
  net.advance(5_100);
  assert.equal(net.a.stats.icmp6.OutNeighborSolicits, solicits + 1, "one unicast probe");
  assert.equal(cache.stateOf(B6), "REACHABLE", "b answered the probe (solicited NA)");
  net.advance(46_000);
  ping(3);
  net.advance(10);
  assert.equal(cache.stateOf(B6), "DELAY");
  cache.confirm(B6);
  assert.equal(cache.stateOf(B6), "REACHABLE");
  net.advance(6_000);
  assert.equal(net.a.stats.icmp6.OutNeighborSolicits, solicits + 1, "confirmed: no probe");
});

Deno.test("sim ipv6 NUD: a neighbour that goes silent is probed three times and removed", () => {
  const net = makeSimNet({ wire: { seed: 6, delayMs: 1 } });
  net.a.ipv6.addAddress(1, A6, 64);
  net.b.ipv6.addAddress(1, B6, 64);
  net.advance(2500);
  const cache = net.a.ipv6.iface(1).neighbours;
  net.a.icmp6.sendEcho(B6, 1, 1, new Uint8Array(8), 0, 8);
  net.advance(50);
  net.advance(46_000);
  net.wire.partition(true);
  net.a.icmp6.sendEcho(B6, 1, 2, new Uint8Array(8), 0, 8);
  net.advance(5_100);
  assert.equal(cache.stateOf(B6), "PROBE");
  net.advance(3_100);
  assert.equal(cache.stateOf(B6), undefined);
  assert.equal(net.a.stats.ndp.ProbeFailed, 1);
});

Deno.test("sim ipv6 DAD: an address the other host already uses becomes duplicate and is never used", () => {
  const net = makeSimNet({ wire: { seed: 7, delayMs: 1 } });
  net.a.ipv6.addAddress(1, A6, 64);
  net.advance(2500);
  const events: string[] = [];
  net.b.ipv6.addAddressListener((a: Ipv6InterfaceAddress, ev) =>
    events.push(`${a}:${a.origin}:${ev}`)
  );
  net.b.ipv6.addAddress(1, A6, 64);
  net.advance(2500);
  const mine = net.b.ipv6.iface(1).addresses.find(A6)!;
  assert.equal(mine.state, "duplicate");
  assert.equal(net.b.ipv6.isLocalAddress(A6), false);
  assert.equal(net.b.stats.ndp.DadFailures, 1);
  assert.ok(events.includes("fd00:5::1/64:static:duplicate"), events.join());
  assert.ok(!events.includes("fd00:5::1/64:static:preferred"));
  assert.equal(net.a.stats.icmp6.OutNeighborAdvertisements >= 1, true, "a defended it");
  // b never answers for it: a's solicitation for the address is a's own, b stays silent.
  const naBefore = net.b.stats.icmp6.OutNeighborAdvertisements;
  net.b.icmp6.sendEcho(A6, 3, 1, new Uint8Array(4), 0, 4);
  net.advance(100);
  assert.equal(net.b.stats.icmp6.OutNeighborAdvertisements, naBefore);
});

Deno.test("sim ipv6 DAD: two hosts probing the same address at once both give it up", () => {
  const net = makeSimNet({ wire: { seed: 8, delayMs: 1 } });
  net.advance(2500); // link-local addresses done: the next probes go out without delay
  const same = IpAddress.parse("fd00:5::7");
  net.a.ipv6.addAddress(1, same, 64);
  net.b.ipv6.addAddress(1, same, 64);
  net.advance(2500);
  assert.equal(net.a.ipv6.iface(1).addresses.find(same)?.state, "duplicate");
  assert.equal(net.b.ipv6.iface(1).addresses.find(same)?.state, "duplicate");
});

Deno.test("sim ipv6 DAD: our own probe reflected back (same nonce) is not a conflict", () => {
  const net = makeSimNet({ wire: { seed: 9, delayMs: 1 } });
  const mirror = net.wire.endpoint("m0", new Uint8Array([2, 0, 0, 0, 0, 0x33]));
  const seen: SeenFrame[] = [];
  // The mirror's frames are read every round, so the wire never waits on it.
  const advance = (ms: number) => net.run(() => (seen.push(...drain(mirror)), false), ms);
  advance(2500);
  seen.length = 0;
  net.a.ipv6.addAddress(1, A6, 64);
  advance(50);
  const probe = seen.find((f) => f.payload[0] === 135 && f.src === "::");
  assert.ok(probe !== undefined, "saw the DAD probe");
  inject(mirror, probe.bytes);
  advance(2000);
  assert.equal(net.a.stats.ndp.DadLoopedBack, 1);
  assert.equal(net.a.ipv6.iface(1).addresses.find(A6)?.state, "preferred");
});
