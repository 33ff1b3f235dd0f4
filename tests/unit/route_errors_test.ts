/**
 * API misuse of the routing calls (default gateway and router, the IPv4 route table, IPv6
 * addresses) throws a StackError with an errno-style code, as the rest of the API does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { VirtualClock } from "../../core/clock.ts";
import { StackError } from "../../core/errors.ts";
import { SimWire } from "../../link/sim_wire.ts";
import { IpAddress } from "../../net/ip_address.ts";
import { parseIpv4 } from "../../net/ipv4_address.ts";
import { RouteTable } from "../../net/route_table.ts";
import { Runtime } from "../../stack/runtime.ts";
import { Stack } from "../../stack/stack.ts";
import { errnoOf } from "../harness/errno.ts";

/** A stack with one NIC on a sim wire holding 198.18.0.2/24 and fd00::2/64. */
function oneStack(): { stack: Stack; nic: number } {
  const clock = new VirtualClock(1000);
  const wire = new SimWire({ clock, seed: 1 });
  const stack = new Stack({ clock, poolBuffers: 16, random: () => 0.5 });
  const nic = stack.addNic(wire.endpoint("a", new Uint8Array([2, 0, 0, 0, 0, 1]))).index;
  stack.ipv4.addAddress(nic, parseIpv4("198.18.0.2"), 24);
  stack.ipv6.addAddress(nic, IpAddress.parse("fd00::2"), 64);
  return { stack, nic };
}

Deno.test("route errors: an off-subnet default gateway or router is a StackError ENETUNREACH", () => {
  const { stack, nic } = oneStack();
  assert.equal(errnoOf(() => stack.ipv4.setDefaultGateway(parseIpv4("198.19.9.9"))), "ENETUNREACH");
  assert.equal(
    errnoOf(() => stack.ipv6.setDefaultRouter(IpAddress.parse("fd00:9::1"), nic)),
    "ENETUNREACH",
  );
  // The message names the call and the address.
  assert.throws(() => stack.ipv4.setDefaultGateway(parseIpv4("198.19.9.9")), {
    message: /setDefaultGateway: 198\.19\.9\.9 .*\(ENETUNREACH\)/,
  });
  // On-link ones are taken.
  stack.ipv4.setDefaultGateway(parseIpv4("198.18.0.1"));
  stack.ipv6.setDefaultRouter(IpAddress.parse("fd00::1"), nic);
});

Deno.test("route errors: a full routing table refuses a default gateway with ENOSPC", () => {
  const { stack } = oneStack();
  // The connected route is there; fill the rest of the table.
  const room = stack.ipv4.routes.maxRoutes - stack.ipv4.routes.list().length;
  for (let i = 0; i < room; i++) {
    stack.ipv4.routes.add({
      dest: (parseIpv4("198.19.0.0") + (i << 8)) >>> 0,
      prefixLen: 24,
      gateway: parseIpv4("198.18.0.1"),
      nicIndex: 1,
      source: parseIpv4("198.18.0.2"),
      metric: 0,
    });
  }
  assert.equal(errnoOf(() => stack.ipv4.setDefaultGateway(parseIpv4("198.18.0.1"))), "ENOSPC");
});

Deno.test("route errors: the route table and IPv6 addresses throw StackErrors", () => {
  const rt = new RouteTable(1);
  const route = {
    dest: parseIpv4("198.18.0.0"),
    prefixLen: 24,
    gateway: 0,
    nicIndex: 1,
    source: 0,
    metric: 0,
  };
  assert.equal(errnoOf(() => rt.add({ ...route, prefixLen: 33 })), "EINVAL");
  rt.add(route);
  assert.equal(errnoOf(() => rt.add(route)), "EEXIST");
  assert.equal(errnoOf(() => rt.add({ ...route, prefixLen: 16 })), "ENOSPC");
  const { stack, nic } = oneStack();
  assert.equal(errnoOf(() => stack.ipv6.addAddress(nic, IpAddress.parse("fd00::2"), 64)), "EEXIST");
  assert.equal(errnoOf(() => stack.ipv6.addAddress(nic, IpAddress.parse("ff02::1"), 64)), "EINVAL");
});

Deno.test("route errors: the runtime's off-subnet --gw is EINVAL, as written", async () => {
  for (const gw of ["198.19.9.9", "fd00:9::1"]) {
    let e: unknown = null;
    try {
      const rt = await Runtime.start({
        driver: "loopback",
        addr: ["198.18.0.2/24", "fd00::2/64"],
        gw,
      });
      await rt.stop();
    } catch (err) {
      e = err;
    }
    assert.ok(e instanceof StackError, `${e}`);
    assert.equal(e.code, "EINVAL");
    assert.match(e.message, new RegExp(`--gw ${gw}: not on a subnet of --addr`));
  }
});
