// Router discovery and SLAAC on the virtual clock: a fake router on the sim wire answers the
// stack's router solicitation; default router, on-link prefix, MTU and the SLAAC address
// follow the advertised lifetimes.

import assert from "node:assert/strict";
import { makeSimNet } from "../harness/sim_net.ts";
import {
  drain,
  icmpv6,
  inject,
  ipv6Frame,
  llOption,
  mtuOption,
  prefixOption,
  raBody,
  raWord,
  type SeenFrame,
} from "../harness/ipv6_frames.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { NetRoute } from "../../net/network_layer.ts";

const ROUTER_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x01]);
const ROUTER = IpAddress.parse("fe80::1");
const ALL_NODES = IpAddress.parse("ff02::1");
const PREFIX = IpAddress.parse("fd00:6::");
const SLAAC_A = IpAddress.parse("fd00:6::ff:fe00:a");
const FAR = IpAddress.parse("fd00:99::1");

function setup(enabled = true) {
  const net = makeSimNet({
    wire: { seed: 21, delayMs: 1 },
    stack: { routerDiscovery: { enabled } },
  });
  const router = net.wire.endpoint("r0", ROUTER_MAC);
  const seen: SeenFrame[] = [];
  const advance = (ms: number) => net.run(() => (seen.push(...drain(router)), false), ms);
  const events: string[] = [];
  net.a.ipv6.addAddressListener((a, ev) => events.push(`${a}:${a.origin}:${ev}`));
  const ra = (routerLifetimeS: number, validS: number, preferredS: number, hopLimit = 255) =>
    ipv6Frame({
      srcMac: ROUTER_MAC,
      src: ROUTER,
      dst: ALL_NODES,
      hopLimit,
      nextHeader: 58,
      payload: icmpv6(
        ROUTER,
        ALL_NODES,
        134,
        0,
        raWord(64, routerLifetimeS),
        raBody(0, 0, [
          llOption(1, ROUTER_MAC),
          mtuOption(1400),
          prefixOption(PREFIX, 64, 0xc0, validS, preferredS),
        ]),
      ),
    });
  return { net, router, seen, advance, events, ra };
}

Deno.test("sim ipv6 RA: solicited at start; router, prefix, MTU and a SLAAC address follow the lifetimes", () => {
  const { net, router, seen, advance, events, ra } = setup();
  // DAD of the link-local address (≤ 1 s delay + 1 s), then the solicitation (≤ 1 s delay).
  advance(3100);
  const rsOfA = () => seen.filter((f) => f.payload[0] === 133 && f.src === "fe80::ff:fe00:a");
  const rs = rsOfA();
  assert.equal(rs.length, 1, "one router solicitation once the link-local address is usable");
  assert.equal(rs[0].dst, "ff02::2");
  assert.equal(rs[0].hopLimit, 255);
  assert.equal(rs[0].src, "fe80::ff:fe00:a");
  inject(router, ra(20, 30, 10));
  advance(1500);
  const iface = net.a.ipv6.iface(1);
  assert.equal(iface.mtu, 1400);
  assert.equal(iface.addresses.find(SLAAC_A)?.state, "preferred");
  assert.ok(events.includes("fd00:6::ff:fe00:a/64:slaac:preferred"), events.join());
  const r = new NetRoute();
  assert.equal(net.a.ipv6.route(FAR, r), true);
  assert.equal(`${r.nextHop}`, "fe80::1", "off-link goes to the default router");
  assert.equal(`${r.source}`, "fd00:6::ff:fe00:a");
  assert.equal(net.a.ipv6.route(IpAddress.parse("fd00:6::77"), r), true);
  assert.equal(`${r.nextHop}`, "fd00:6::77", "the prefix is on-link");
  advance(10_000); // no further solicitations: one advertisement answered them
  assert.equal(rsOfA().length, 1);
  assert.equal(iface.addresses.find(SLAAC_A)?.state, "deprecated", "past the preferred lifetime");
  advance(9_000); // 20.5 s after the RA
  assert.equal(net.a.ipv6.route(FAR, r), false, "the router lifetime ran out");
  assert.equal(net.a.stats.ndp.RoutersExpired, 1);
  advance(10_000); // 30.5 s
  assert.equal(iface.addresses.find(SLAAC_A), undefined, "past the valid lifetime");
  assert.ok(events.includes("fd00:6::ff:fe00:a/64:slaac:removed"));
  assert.equal(net.a.ipv6.routes.prefixes().some((p) => p.origin === "ra"), false);
});

Deno.test("sim ipv6 RA: a refresh keeps the address; a short valid lifetime is cut to 2 h only when longer (RFC 4862 §5.5.3 e)", () => {
  const { net, router, advance, ra } = setup();
  advance(2500);
  inject(router, ra(1800, 7200 * 2, 7200));
  advance(1500);
  const a = net.a.ipv6.iface(1).addresses.find(SLAAC_A)!;
  const now = net.clock.nowMs();
  assert.ok(Math.abs(a.validUntilMs - (now + 14_400_000)) < 2000);
  inject(router, ra(1800, 60, 30)); // an attacker's "valid 60 s" cannot cut below 2 h
  advance(10);
  assert.ok(Math.abs(a.validUntilMs - (net.clock.nowMs() + 7_200_000)) < 10);
  assert.ok(Math.abs(a.preferredUntilMs - (net.clock.nowMs() + 30_000)) < 10);
});

Deno.test("sim ipv6 RA: bad hop limit, off-link source, or SLAAC off: nothing configured, counted", () => {
  const { net, router, advance, ra } = setup();
  advance(2500);
  inject(router, ra(20, 30, 10, 64));
  advance(1500);
  assert.equal(net.a.stats.ndp.InBadHopLimit, 1);
  const global = IpAddress.parse("fd00:6::1");
  inject(
    router,
    ipv6Frame({
      srcMac: ROUTER_MAC,
      src: global,
      dst: ALL_NODES,
      hopLimit: 255,
      nextHeader: 58,
      payload: icmpv6(global, ALL_NODES, 134, 0, raWord(64, 20), raBody(0, 0, [])),
    }),
  );
  advance(100);
  assert.equal(net.a.stats.ndp.InInvalid, 1);
  assert.equal(net.a.ipv6.routes.routers().length, 0);
  const off = setup(false);
  off.advance(2500);
  assert.equal(off.seen.filter((f) => f.payload[0] === 133).length, 0, "no solicitation");
  inject(off.router, off.ra(20, 30, 10));
  off.advance(1500);
  assert.equal(off.net.a.stats.ndp.RaIgnored, 1);
  assert.equal(off.net.a.ipv6.iface(1).addresses.find(SLAAC_A), undefined);
});
